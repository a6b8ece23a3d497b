// berth's kubelet volume manager, after kubelet 1.28 pkg/kubelet/volumemanager (WaitForAttachAndMount,
// the reconciler's mount and unmount operations, operation_generator.go's messages) and
// pkg/kubelet/kubelet_volumes.go (podVolumesExist, cleanupOrphanedPodDirs), for the volume types whose
// data a node has without an API server. Upstream's reconciler loop becomes two calls: syncPod sets the
// volumes up before containers start (and again on each sync, to refresh projected files), and the
// pod's volumes are torn down once it has terminated.
import { readdir, realpath, rmdir } from "node:fs/promises";
import { join } from "node:path";
import type { ConfigMap, Pod, Secret, Volume } from "kubernetes-types/core/v1.js";
import { BerthError, kindOf, messageOf, notFound, notImplemented } from "../../lib/errdefs.js";
import type { Logger } from "../../lib/log.js";
import { readMountInfo } from "../../lib/mount/mount.js";
import { type EventRecorder, Reason } from "../events/event-recorder.js";
import { type FeatureGates, featureGates } from "../features/features.js";
import type { LocalObjects, VolumeInfo } from "../kuberuntime/container.js";
import { configMapPlugin } from "./plugins/config-map.js";
import { downwardAPIPlugin } from "./plugins/downward-api.js";
import { emptyDirPlugin } from "./plugins/empty-dir.js";
import { hostPathPlugin } from "./plugins/host-path.js";
import { projectedPlugin } from "./plugins/projected.js";
import { secretPlugin } from "./plugins/secret.js";
import { removeAllOneFilesystem, removeDirsOneFilesystem } from "./remove-all.js";
import {
  escapeQualifiedName,
  newAggregate,
  podUidOf,
  type VolumeHost,
  type VolumePlugin,
} from "./volume-plugin.js";

/** The plugins berth's kubelet has: the volume types a node can serve on its own. */
export const volumePlugins: readonly VolumePlugin[] = [
  emptyDirPlugin,
  hostPathPlugin,
  configMapPlugin,
  secretPlugin,
  downwardAPIPlugin,
  projectedPlugin,
];

export interface VolumeManagerOptions {
  /** The kubelet's root directory (--root-dir, /var/lib/kubelet): pods live in <rootDir>/pods/<uid>. */
  rootDir: string;
  /** The ConfigMaps and Secrets a pod of `namespace` may project. */
  localObjects: (namespace: string) => LocalObjects | Promise<LocalObjects>;
  nodeName: string;
  /** The node's status.allocatable: sizes memory-backed volumes, fills unset limits in the downward API. */
  nodeAllocatable: Record<string, string>;
  /** 1.28's defaults when not given. */
  featureGates?: FeatureGates;
  /** FailedMount events go to the pod, as the operation generator records them. */
  recorder: Pick<EventRecorder, "record">;
  log: Logger;
}

/** One volume that could not be set up: its FailedMount event text and what caused it. */
export interface FailedMount {
  volume: string;
  /** `MountVolume.SetUp failed for volume "v" : …`, as the kubelet's FailedMount event says. */
  message: string;
  cause: unknown;
}

/**
 * The pod's volumes are not all set up (WaitForAttachAndMount's error): syncPod records it as
 * "Unable to attach or mount volumes: <message>" and does not start containers.
 */
export class VolumeMountError extends BerthError {
  constructor(
    readonly failures: FailedMount[],
    unmounted: string[],
    failedToProcess: string[],
  ) {
    // Upstream ends with the wait's timeout; berth does not wait, so the first blocking failure says why.
    const first = failures.find((f) => unmounted.includes(f.volume) || failedToProcess.includes(f.volume));
    super(
      kindOf(first?.cause),
      `unmounted volumes=[${unmounted.join(" ")}], unattached volumes=[], failed to process volumes=[${failedToProcess.join(" ")}]: ${first?.message}`,
      { cause: first?.cause },
    );
  }
}

export class VolumeManager {
  private readonly rootDir: string;
  private readonly host: VolumeHost;
  private readonly recorder: Pick<EventRecorder, "record">;
  private readonly log: Logger;
  /** The actual state of the world: what is set up, by pod UID and volume name. */
  private readonly mounted = new Map<string, Map<string, VolumeInfo>>();

  constructor(opts: VolumeManagerOptions) {
    this.rootDir = opts.rootDir;
    this.recorder = opts.recorder;
    this.log = opts.log.child({ component: "volumemanager", node: opts.nodeName });
    const lookup = async <T>(
      namespace: string,
      kind: "configMaps" | "secrets",
      what: string,
      name: string,
    ) => {
      const objects = (await opts.localObjects(namespace))[kind] as Record<string, T>;
      const found = Object.hasOwn(objects, name) ? objects[name] : undefined;
      if (found === undefined) throw notFound(`${what} ${JSON.stringify(name)} not found`);
      return found;
    };
    this.host = {
      getPodVolumeDir: (uid, plugin, volume) =>
        join(this.getPodVolumesDir(uid), escapeQualifiedName(plugin), volume),
      getPodPluginDir: (uid, plugin) => join(this.getPodDir(uid), "plugins", escapeQualifiedName(plugin)),
      getConfigMap: (namespace, name) => lookup<ConfigMap>(namespace, "configMaps", "configmap", name),
      getSecret: (namespace, name) => lookup<Secret>(namespace, "secrets", "secret", name),
      nodeAllocatable: opts.nodeAllocatable,
      featureGates: opts.featureGates ?? featureGates(),
      log: this.log,
    };
  }

  /** <rootDir>/pods/<uid> */
  getPodDir(podUid: string): string {
    return join(this.rootDir, "pods", podUid);
  }

  /** <rootDir>/pods/<uid>/volumes */
  getPodVolumesDir(podUid: string): string {
    return join(this.getPodDir(podUid), "volumes");
  }

  /**
   * Sets up every volume a container of the pod uses (volumes no container names are left alone, as
   * upstream's desired state of the world has them) and returns them by name. Idempotent: emptyDir and
   * hostPath volumes are set up once, configMap, secret, downwardAPI and projected ones are refreshed on
   * each call. A failure is a FailedMount event; a volume set up before keeps serving its last contents,
   * and one never set up fails the call with VolumeMountError.
   */
  async setUpPodVolumes(pod: Pod): Promise<Record<string, VolumeInfo>> {
    const uid = podUidOf(pod);
    const state = this.mounted.get(uid) ?? new Map<string, VolumeInfo>();
    this.mounted.set(uid, state);
    const used = getPodVolumeNames(pod);
    const failures: FailedMount[] = [];
    const unmounted: string[] = [];
    const failedToProcess: string[] = [];

    await Promise.all(
      (pod.spec?.volumes ?? [])
        .filter((v) => used.has(v.name))
        .map(async (volume) => {
          const plugin = findPluginBySpec(volume);
          if (!plugin) {
            failedToProcess.push(volume.name);
            const cause = notImplemented(unsupportedMessage(volume));
            failures.push({ volume: volume.name, message: mountFailedMessage(volume.name, cause), cause });
            return;
          }
          if (state.has(volume.name) && !plugin.requiresRemount) return;
          try {
            state.set(volume.name, await plugin.setUp(this.host, pod, volume));
          } catch (cause) {
            failures.push({ volume: volume.name, message: mountFailedMessage(volume.name, cause), cause });
            if (!state.has(volume.name)) unmounted.push(volume.name);
          }
        }),
    );

    // In the pod's order, whichever volume failed first.
    const order = (pod.spec?.volumes ?? []).map((v) => v.name);
    failures.sort((a, b) => order.indexOf(a.volume) - order.indexOf(b.volume));
    for (const f of failures) {
      this.recorder.record(pod, { type: "Warning", reason: Reason.FailedMountVolume, message: f.message });
    }
    if (unmounted.length > 0 || failedToProcess.length > 0) {
      throw new VolumeMountError(failures, unmounted.sort(), failedToProcess.sort());
    }
    const volumes: Record<string, VolumeInfo> = {};
    for (const [name, info] of state) volumes[name] = info;
    return volumes;
  }

  /**
   * Tears down every volume the pod has on disk (unmounting tmpfs, deleting the volume directories),
   * from the directory names alone: the pod's spec may be gone. The pod directory itself stays for
   * cleanupOrphanedPodDirs.
   */
  async tearDownPodVolumes(podUid: string): Promise<void> {
    const volumesDir = this.getPodVolumesDir(podUid);
    const errors: unknown[] = [];
    for (const pluginDir of await readdirIfExists(volumesDir)) {
      const pluginName = pluginDir.replaceAll("~", "/");
      const plugin = volumePlugins.find((p) => p.name === pluginName);
      for (const volumeName of await readdirIfExists(join(volumesDir, pluginDir))) {
        try {
          if (!plugin) throw notFound(`no volume plugin matched name: ${pluginName}`);
          await plugin.tearDown(this.host, podUid, volumeName);
        } catch (err) {
          errors.push(
            new BerthError(
              kindOf(err),
              `UnmountVolume.TearDown failed for volume ${JSON.stringify(volumeName)} : ${messageOf(err)}`,
              {
                cause: err,
              },
            ),
          );
        }
      }
    }
    const err = newAggregate(errors);
    if (err) throw err;
    // Volumes without a directory of their own (hostPath) have nothing to undo.
    this.mounted.delete(podUid);
  }

  /**
   * cleanupOrphanedPodDirs: removes the directories of pods not in `knownUids`, but only those that
   * hold no volume: one still set up, or anything mounted under the pod's volumes, keeps the pod's
   * directory whole. Volume directories are only ever rmdir'ed, so volume data is never deleted here.
   * Returns the UIDs whose directories went; what stopped the others is logged.
   */
  async cleanupOrphanedPodDirs(knownUids: Set<string>): Promise<string[]> {
    const removed: string[] = [];
    const volumeErrors: unknown[] = [];
    const removalErrors: unknown[] = [];
    for (const uid of await readdirIfExists(join(this.rootDir, "pods"), { dirsOnly: true })) {
      if (knownUids.has(uid)) continue;
      if (await this.podVolumesExist(uid)) {
        this.log.debug({ podUID: uid }, "orphaned pod found, but volumes are not cleaned up");
        continue;
      }
      const errors = await this.removeOrphanedPodVolumeDirs(uid);
      if (errors.length > 0) {
        // Something is left in a volume: the rest of the pod's directory may still be in use by it.
        volumeErrors.push(...errors);
        continue;
      }
      const podDir = this.getPodDir(uid);
      let subdirs: string[];
      try {
        subdirs = await readdir(podDir);
      } catch (err) {
        removalErrors.push(wrapOrphan(uid, "error occurred during reading the pod dir from disk", err));
        continue;
      }
      let failed = false;
      for (const sub of subdirs) {
        // Never a recursive delete of volumes: removeOrphanedPodVolumeDirs has removed it, or failed.
        if (sub === "volumes") {
          failed = true;
          this.log.error(
            { podUID: uid },
            "orphaned pod found, but volumes subdir was found after it was removed",
          );
          continue;
        }
        const path = join(podDir, sub);
        await removeAllOneFilesystem(path).catch((err) => {
          failed = true;
          removalErrors.push(
            wrapOrphan(uid, `error occurred when trying to remove subdir ${JSON.stringify(path)}`, err),
          );
        });
      }
      await rmdir(podDir).catch((err) => {
        failed = true;
        removalErrors.push(wrapOrphan(uid, "error occurred when trying to remove the pod directory", err));
      });
      if (!failed) {
        this.log.info({ podUID: uid }, "orphaned pod found, removed its directory");
        removed.push(uid);
      }
    }
    // Like upstream's logSpew: this runs in the housekeeping loop, so one line per kind of failure.
    for (const errors of [volumeErrors, removalErrors]) {
      if (errors.length > 0) {
        this.log.error(
          { err: errors[0], numErrs: errors.length },
          "there were errors cleaning up orphaned pod directories",
        );
      }
    }
    return removed;
  }

  /** podVolumesExist: set up as far as this manager knows, or mounted under the pod's volumes on disk. */
  private async podVolumesExist(uid: string): Promise<boolean> {
    if ((this.mounted.get(uid)?.size ?? 0) > 0) return true;
    // mountinfo names mount points by their real path.
    const volumesDir = await realpath(this.getPodVolumesDir(uid)).catch(() => undefined);
    if (volumesDir === undefined) return false;
    return (await readMountInfo()).some((m) => m.mountPoint.startsWith(`${volumesDir}/`));
  }

  /**
   * removeOrphanedPodVolumeDirs: rmdir of each volume directory, then of the volumes tree, which must
   * be empty directories only. A volume with files left keeps its directory.
   */
  private async removeOrphanedPodVolumeDirs(uid: string): Promise<unknown[]> {
    const errors: unknown[] = [];
    const volumesDir = this.getPodVolumesDir(uid);
    for (const pluginDir of await readdirIfExists(volumesDir)) {
      for (const volume of await readdirIfExists(join(volumesDir, pluginDir))) {
        const path = join(volumesDir, pluginDir, volume);
        await rmdir(path).then(
          () => this.log.info({ podUID: uid, path }, "cleaned up orphaned volume from pod"),
          (err) => errors.push(wrapOrphan(uid, `failed to rmdir() volume at path ${path}`, err)),
        );
      }
    }
    await removeDirsOneFilesystem(volumesDir).catch((err) =>
      errors.push(wrapOrphan(uid, "error occurred when trying to remove the volumes dir", err)),
    );
    return errors;
  }
}

/** The plugin serving the volume's source, if berth has one (FindPluginBySpec). */
function findPluginBySpec(volume: Volume): VolumePlugin | undefined {
  return volumePlugins.find((p) => volume[p.source] !== undefined && volume[p.source] !== null);
}

function unsupportedMessage(volume: Volume): string {
  const type = Object.keys(volume).find((k) => k !== "name") ?? "none";
  const supported = volumePlugins.map((p) => p.source).join(", ");
  return `unsupported volume type ${type}: berth's kubelet runs without an API server and serves ${supported} volumes only`;
}

/** VolumeToMount.GenerateError's simple message for the SetUp step. */
function mountFailedMessage(volume: string, err: unknown): string {
  return `MountVolume.SetUp failed for volume ${JSON.stringify(volume)} : ${messageOf(err)}`;
}

function wrapOrphan(uid: string, what: string, err: unknown): BerthError {
  return new BerthError(
    kindOf(err),
    `orphaned pod ${JSON.stringify(uid)} found, but ${what}: ${messageOf(err)}`,
    {
      cause: err,
    },
  );
}

/** GetPodVolumeNames: the volumes any container (init, regular, ephemeral) mounts or maps as a device. */
export function getPodVolumeNames(pod: Pod): Set<string> {
  const names = new Set<string>();
  const spec = pod.spec;
  for (const c of [
    ...(spec?.initContainers ?? []),
    ...(spec?.containers ?? []),
    ...(spec?.ephemeralContainers ?? []),
  ]) {
    for (const m of c.volumeMounts ?? []) names.add(m.name);
    for (const d of c.volumeDevices ?? []) names.add(d.name);
  }
  return names;
}

/** The names in `dir` (only its subdirectories with dirsOnly); none when it does not exist. */
async function readdirIfExists(dir: string, opts: { dirsOnly?: boolean } = {}): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries.filter((e) => !opts.dirsOnly || e.isDirectory()).map((e) => e.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
}
