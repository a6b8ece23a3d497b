// The volume plugin contract, after kubelet 1.28 pkg/volume/plugins.go (VolumePlugin, VolumeHost,
// Mounter, Unmounter), reduced to what the plugins for node-local data need: a plugin sets a volume up
// for a pod and tears it down again from what is on disk, the pod's spec being gone by then.
import { posix } from "node:path";
import type { ConfigMap, Pod, Secret, Volume } from "kubernetes-types/core/v1.js";
import { BerthError, kindOf, messageOf } from "../../lib/errdefs.js";
import type { Logger } from "../../lib/log.js";
import type { FeatureGates } from "../features/features.js";
import type { VolumeInfo } from "../kuberuntime/container.js";

/** What plugins get from the kubelet: directories, the objects volumes project, node facts. */
export interface VolumeHost {
  /** <root>/pods/<uid>/volumes/<escaped plugin name>/<volume>: where a volume lives on the node. */
  getPodVolumeDir(podUid: string, pluginName: string, volumeName: string): string;
  /** <root>/pods/<uid>/plugins/<escaped plugin name>: a plugin's own files for a pod. */
  getPodPluginDir(podUid: string, pluginName: string): string;
  /** NotFound as `configmap "name" not found`. */
  getConfigMap(namespace: string, name: string): Promise<ConfigMap>;
  /** NotFound as `secret "name" not found`. */
  getSecret(namespace: string, name: string): Promise<Secret>;
  /** The node's allocatable resources (status.allocatable): memory-backed sizes, downward API limits. */
  nodeAllocatable: Record<string, string>;
  featureGates: FeatureGates;
  log: Logger;
}

export interface VolumePlugin {
  /** kubernetes.io/<type>; its escaped form names the plugin's directories. */
  readonly name: string;
  /** The VolumeSource field the plugin serves (CanSupport). */
  readonly source: keyof Volume;
  /**
   * RequiresRemount: SetUp runs on every pod sync, so that projected contents follow their source.
   * The others are set up once per pod.
   */
  readonly requiresRemount: boolean;
  /** Mounter.SetUp; idempotent. */
  setUp(host: VolumeHost, pod: Pod, volume: Volume): Promise<VolumeInfo>;
  /** Unmounter.TearDown: undoes setUp from the volume's name alone. */
  tearDown(host: VolumeHost, podUid: string, volumeName: string): Promise<void>;
}

/** utilstrings.EscapeQualifiedName: "kubernetes.io/empty-dir" → "kubernetes.io~empty-dir". */
export function escapeQualifiedName(name: string): string {
  return name.replaceAll("/", "~");
}

/** filepath.Clean: normalized, without a trailing slash; "" is ".". */
export function cleanPath(path: string): string {
  const normal = posix.normalize(path);
  return normal.length > 1 && normal.endsWith("/") ? normal.slice(0, -1) : normal;
}

/** utilerrors.NewAggregate: one message alone, several as "[a, b]" with repeats dropped. */
export function newAggregate(errors: unknown[]): BerthError | undefined {
  if (errors.length === 0) return undefined;
  const messages = [...new Set(errors.map(messageOf))];
  const text = messages.length === 1 ? (messages[0] as string) : `[${messages.join(", ")}]`;
  return new BerthError(errors.length === 1 ? kindOf(errors[0]) : "Unknown", text, { cause: errors[0] });
}

/** The pod's UID, which every volume path is built from. */
export function podUidOf(pod: Pod): string {
  const uid = pod.metadata?.uid;
  if (!uid) throw new BerthError("InvalidArgument", `pod "${pod.metadata?.name}" has no uid`);
  return uid;
}
