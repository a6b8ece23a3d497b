// Port of kubelet 1.28 pkg/kubelet/kuberuntime/kuberuntime_container.go.

// ==== generateContainerConfig and its helpers ====
// The ContainerConfig that CreateContainer receives, worked out as a pure function. Upstream gathers
// its parts through the kubelet (runtimeHelper.GenerateRunContainerOptions in kubelet_pods.go: the
// environment, the volume mounts and the managed /etc/hosts) and writes a few files on the way; here
// the kubelet's knowledge comes in as ContainerHostFacts and the files come back in the plan, for
// startContainer to write before it calls CreateContainer. Also ported: container/helpers.go
// (ExpandContainerCommandAndArgs, ExpandContainerVolumeMounts), third_party/forked/golang/expansion,
// pkg/fieldpath, the downward API resource helpers (pkg/api/v1/resource, kubelet_resources.go) and
// security_context_others.go verifyRunAsNonRoot.
import { readdirSync } from "node:fs";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import { posix } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  ConfigMap,
  Container,
  HostAlias,
  ObjectFieldSelector,
  Pod,
  ResourceFieldSelector,
  Secret,
  VolumeMount,
} from "kubernetes-types/core/v1.js";
import {
  type ContainerConfigSchema,
  type Image,
  MountPropagation,
  type MountSchema,
  type PodSandboxConfigSchema,
} from "../../cri/gen/runtime/v1/api_pb.js";
import { invalidArgument, isNotFound, messageOf, notFound } from "../../lib/errdefs.js";
import { parseQuantity } from "../api/quantity.js";
import { containerLimits, containerRequests, resourceOf } from "../api/resources.js";
import {
  buildContainerID,
  type ContainerID,
  findContainerStatusByName,
  type PodStatus,
} from "../container/runtime.js";
import {
  ErrCreateContainer,
  ErrCreateContainerConfig,
  ErrImagePull,
  ErrPostStartHook,
  ErrRunContainer,
  type SyncErrorReason,
} from "../container/sync-result.js";
import { containerFieldPath, Reason } from "../events/event-recorder.js";
import { ImageError } from "../images/image-manager.js";
import { runLifecycleHandler } from "../lifecycle/handlers.js";
import { generateLinuxContainerConfig, shouldEnforceMemoryQoS } from "./container-linux.js";
import { getContainerInfoFromAnnotations, newContainerAnnotations, newContainerLabels } from "./labels.js";
import type { KubeGenericRuntimeManager } from "./manager.js";
import {
  type ContainerKillReason,
  reasonFailedPostStartHook,
  reasonLivenessProbe,
  reasonStartupProbe,
} from "./pod-actions.js";
import {
  buildPodLogsDirectory,
  formatPod,
  generatePodHostNameAndDomain,
  getNodenameForKernel,
  isQualifiedName,
} from "./sandbox.js";
import { effectiveSecurityContext } from "./security-context.js";
import type { KubeRuntimeSettings } from "./settings.js";

type ContainerConfig = MessageInitShape<typeof ContainerConfigSchema>;
type CriMount = MessageInitShape<typeof MountSchema>;

/** The user an image runs as when the pod sets none: a numeric uid, else a name, from ImageStatus. */
export interface ImageUser {
  uid?: bigint;
  username: string;
}

/** getImageUser: the image's uid, else its user name; an image that says neither runs as root. */
export function imageUserFromStatus(image: Image | undefined): ImageUser {
  if (image?.uid) return { uid: image.uid.value, username: "" };
  if (image?.username) return { username: image.username };
  return { uid: 0n, username: "" };
}

/** A volume of the pod as the volume manager set it up on the host. */
export interface VolumeInfo {
  hostPath: string;
  /** The volume's plugin mounts it read-only whatever the pod says (configMap, secret, downwardAPI, projected). */
  readOnly?: boolean;
}

/** ConfigMaps and Secrets of the pod's namespace, by name: what env and envFrom may refer to. */
export interface LocalObjects {
  configMaps: Record<string, ConfigMap>;
  secrets: Record<string, Secret>;
}

/** What generateContainerConfig needs besides the pod and container: the kubelet's side of things. */
export interface ContainerHostFacts {
  /** The pod's directory, <kubelet root>/pods/<uid>: etc-hosts and termination logs live there. */
  podDir: string;
  /** The pod's volumes by name, as the volume manager mounted them. */
  volumes: Record<string, VolumeInfo>;
  localObjects: LocalObjects;
  /** The node's IPs, primary first: status.hostIP(s), and the family pod IPs are ordered by. */
  hostIPs: string[];
  /** The node's allocatable resources: the limit the downward API reports for an unlimited container. */
  nodeAllocatable: Record<string, string>;
  /** --cluster-domain, for a pod's subdomain in /etc/hosts. */
  clusterDomain: string;
  /** The node's /etc/hosts, which a host-network pod gets a copy of. */
  nodeEtcHosts: string;
  /** Names this instance's termination-log file; startContainer picks a fresh makeUID() for each. */
  terminationMessageId: string;
  /** What ImageStatus says of the image's user (imageUserFromStatus). */
  imageUser: ImageUser;
}

export interface PlannedDirectory {
  path: string;
  mode: number;
}

export interface PlannedFile {
  path: string;
  content: string;
  mode: number;
}

/** The config, and what must exist on the host before CreateContainer. */
export interface ContainerConfigPlan {
  config: ContainerConfig;
  directories: PlannedDirectory[];
  files: PlannedFile[];
}

/** An environment variable as the kubelet resolved it (kubecontainer.EnvVar). */
export interface EnvVar {
  name: string;
  value: string;
}

/**
 * generateContainerConfig: the config for the `restartCount`-th instance of the container. Throws
 * (CreateContainerConfigError upstream) when the container cannot be configured: a missing ConfigMap,
 * Secret, key or volume, an invalid reference, or a runAsNonRoot the image breaks.
 */
export function generateContainerConfig(
  settings: KubeRuntimeSettings,
  container: Container,
  pod: Pod,
  restartCount: number,
  podIP: string,
  imageRef: string,
  podIPs: string[],
  nsTarget: ContainerID | undefined,
  host: ContainerHostFacts,
): ContainerConfigPlan {
  const plan: ContainerConfigPlan = { config: {}, directories: [], files: [] };
  const opts = generateRunContainerOptions(container, pod, podIP, podIPs, host, plan);

  const { uid, username } = host.imageUser;
  verifyRunAsNonRoot(pod, container, uid, username);

  const [command, args] = expandContainerCommandAndArgs(container, opts.envs);
  const logDir = buildContainerLogsDirectory(
    settings.podLogsRootDirectory,
    pod.metadata?.namespace ?? "",
    pod.metadata?.name ?? "",
    pod.metadata?.uid ?? "",
    container.name,
  );
  plan.directories.push({ path: logDir, mode: 0o755 });

  const config: ContainerConfig = {
    metadata: { name: container.name, attempt: restartCount },
    image: { image: imageRef, userSpecifiedImage: container.image ?? "" },
    command,
    args,
    workingDir: container.workingDir ?? "",
    labels: newContainerLabels(container, pod),
    annotations: newContainerAnnotations(container, pod, restartCount, settings.featureGates),
    mounts: makeMounts(opts, container, host, plan),
    logPath: buildContainerLogsPath(container.name, restartCount),
    stdin: container.stdin ?? false,
    stdinOnce: container.stdinOnce ?? false,
    tty: container.tty ?? false,
  };

  // applyPlatformSpecificContainerConfig
  const enforceMemoryQoS = shouldEnforceMemoryQoS(settings);
  config.linux = generateLinuxContainerConfig(
    settings,
    container,
    pod,
    uid,
    username,
    nsTarget,
    enforceMemoryQoS,
  );

  config.envs = opts.envs.map((e) => ({ key: e.name, value: e.value }));
  plan.config = config;
  return plan;
}

/** makeUID: a random 8-hex-digit name for a termination-log file. */
export function makeUID(): string {
  return Math.floor(Math.random() * 0x1_0000_0000)
    .toString(16)
    .padStart(8, "0");
}

/** buildContainerLogsPath: <container>/<restartCount>.log, relative to the pod's log directory. */
export function buildContainerLogsPath(containerName: string, restartCount: number): string {
  return `${containerName}/${restartCount}.log`;
}

/** BuildContainerLogsDirectory: the pod's log directory, then the container's name. */
export function buildContainerLogsDirectory(
  root: string,
  namespace: string,
  name: string,
  uid: string,
  containerName: string,
): string {
  return `${buildPodLogsDirectory(root, namespace, name, uid)}/${containerName}`;
}

/**
 * verifyRunAsNonRoot: with runAsNonRoot, the container must not run as uid 0, and an image user given
 * only by name cannot be checked, so it is refused too.
 */
export function verifyRunAsNonRoot(
  pod: Pod,
  container: Container,
  uid: bigint | undefined,
  username: string,
): void {
  const sc = effectiveSecurityContext(pod, container);
  if (!sc.runAsNonRoot) return;
  if (sc.runAsUser !== undefined) {
    if (sc.runAsUser === 0) {
      throw invalidArgument(
        `container's runAsUser breaks non-root policy (pod: ${JSON.stringify(formatPod(pod))}, container: ${container.name})`,
      );
    }
    return;
  }
  if (uid === 0n) {
    throw invalidArgument(
      `container has runAsNonRoot and image will run as root (pod: ${JSON.stringify(formatPod(pod))}, container: ${container.name})`,
    );
  }
  if (uid === undefined && username.length > 0) {
    throw invalidArgument(
      `container has runAsNonRoot and image has non-numeric user (${username}), cannot verify user is non-root (pod: ${JSON.stringify(formatPod(pod))}, container: ${container.name})`,
    );
  }
}

// ---- GenerateRunContainerOptions (kubelet_pods.go) ----

/** kubecontainer.Mount: a mount as the kubelet decided it, before it becomes a CRI Mount. */
export interface KubeMount {
  name: string;
  containerPath: string;
  hostPath: string;
  readOnly: boolean;
  propagation: MountPropagation;
}

interface RunContainerOptions {
  envs: EnvVar[];
  mounts: KubeMount[];
  /** <podDir>/containers/<name>, where termination-log files go; "" without a terminationMessagePath. */
  podContainerDir: string;
}

function generateRunContainerOptions(
  container: Container,
  pod: Pod,
  podIP: string,
  podIPs: string[],
  host: ContainerHostFacts,
  plan: ContainerConfigPlan,
): RunContainerOptions {
  const [hostname, hostDomain] = generatePodHostNameAndDomain(pod, host.clusterDomain);
  // Only checked here: the sandbox carries the hostname the container sees.
  getNodenameForKernel(hostname, hostDomain, pod.spec?.setHostnameAsFQDN);
  makeBlockVolumes(container);
  const envs = makeEnvironmentVariables(pod, container, podIP, podIPs, host);
  const mounts = makeVolumeMounts(pod, container, hostname, hostDomain, podIPs, host, envs, plan);
  let podContainerDir = "";
  if (container.terminationMessagePath) {
    podContainerDir = goJoin(host.podDir, "containers", container.name);
    plan.directories.push({ path: podContainerDir, mode: 0o750 });
  }
  return { envs, mounts, podContainerDir };
}

// makeBlockVolumes: block volumes come from volume plugins that map devices, which berth has none
// of, so a volumeDevice can only fail the way upstream fails for a volume without a mapper.
function makeBlockVolumes(container: Container): void {
  for (const device of container.volumeDevices ?? []) {
    if (!posix.isAbsolute(device.devicePath)) {
      throw invalidArgument(`error DevicePath \`${device.devicePath}\` must be an absolute path`);
    }
    throw notFound(
      `cannot find volume ${JSON.stringify(device.name)} to pass into container ${JSON.stringify(container.name)}`,
    );
  }
}

// ---- Environment (kubelet_pods.go makeEnvironmentVariables) ----

/**
 * makeEnvironmentVariables: envFrom first, then env, which overrides it; `$(VAR)` in a value refers to
 * variables defined before it. Service links add nothing: berth's kubelet has no API server to list
 * services from, the case upstream handles as a nil service lister. Upstream returns the variables in
 * Go map order, which varies; berth returns them in the order they were first defined.
 */
export function makeEnvironmentVariables(
  pod: Pod,
  container: Container,
  podIP: string,
  podIPs: string[],
  host: ContainerHostFacts,
): EnvVar[] {
  if (pod.spec?.enableServiceLinks === undefined) {
    throw invalidArgument("nil pod.spec.enableServiceLinks encountered, cannot construct envvars");
  }
  const namespace = pod.metadata?.namespace ?? "";
  const env = new Map<string, string>();

  for (const envFrom of container.envFrom ?? []) {
    const prefix = envFrom.prefix ?? "";
    if (envFrom.configMapRef) {
      const configMap = getConfigMap(
        host.localObjects,
        envFrom.configMapRef.name ?? "",
        envFrom.configMapRef.optional,
      );
      if (!configMap) continue;
      for (const [k, v] of Object.entries(configMap.data ?? {})) env.set(prefix + k, v);
    } else if (envFrom.secretRef) {
      const secret = getSecret(host.localObjects, envFrom.secretRef.name ?? "", envFrom.secretRef.optional);
      if (!secret) continue;
      for (const [k, v] of Object.entries(secretData(secret))) env.set(prefix + k, v);
    }
  }

  const mapping = mappingFuncFor(env);
  for (const envVar of container.env ?? []) {
    let value = envVar.value ?? "";
    if (value !== "") {
      value = expand(value, mapping);
    } else if (envVar.valueFrom) {
      const from = envVar.valueFrom;
      if (from.fieldRef) {
        value = podFieldSelectorRuntimeValue(from.fieldRef, pod, podIP, podIPs, host.hostIPs);
      } else if (from.resourceFieldRef) {
        const [defaultedPod, defaultedContainer] = defaultPodLimitsForDownwardAPI(
          pod,
          container,
          host.nodeAllocatable,
        );
        value = containerResourceRuntimeValue(from.resourceFieldRef, defaultedPod, defaultedContainer);
      } else if (from.configMapKeyRef) {
        const { name = "", key, optional } = from.configMapKeyRef;
        const configMap = getConfigMap(host.localObjects, name, optional);
        if (!configMap) continue;
        const data = configMap.data ?? {};
        if (!Object.hasOwn(data, key)) {
          if (optional) continue;
          throw notFound(`couldn't find key ${key} in ConfigMap ${namespace}/${name}`);
        }
        value = data[key] as string;
      } else if (from.secretKeyRef) {
        const { name = "", key, optional } = from.secretKeyRef;
        const secret = getSecret(host.localObjects, name, optional);
        if (!secret) continue;
        const data = secretData(secret);
        if (!Object.hasOwn(data, key)) {
          if (optional) continue;
          throw notFound(`couldn't find key ${key} in Secret ${namespace}/${name}`);
        }
        value = data[key] as string;
      }
    }
    env.set(envVar.name, value);
  }
  return [...env].map(([name, value]) => ({ name, value }));
}

// The kubelet's configmap and secret managers answer a missing object with the API's NotFound, which an
// optional reference ignores.
function getConfigMap(
  objects: LocalObjects,
  name: string,
  optional: boolean | undefined,
): ConfigMap | undefined {
  const configMap = Object.hasOwn(objects.configMaps, name) ? objects.configMaps[name] : undefined;
  if (configMap || optional) return configMap;
  throw notFound(`configmap ${JSON.stringify(name)} not found`);
}

function getSecret(objects: LocalObjects, name: string, optional: boolean | undefined): Secret | undefined {
  const secret = Object.hasOwn(objects.secrets, name) ? objects.secrets[name] : undefined;
  if (secret || optional) return secret;
  throw notFound(`secret ${JSON.stringify(name)} not found`);
}

// A Secret's data is base64 in its manifest; stringData, which the API server folds into data when it
// stores a Secret, is honoured the same way for local ones.
function secretData(secret: Secret): Record<string, string> {
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(secret.data ?? {})) data[k] = Buffer.from(v, "base64").toString("utf8");
  return { ...data, ...secret.stringData };
}

/**
 * podFieldSelectorRuntimeValue: a downward API field. Pod IPs are ordered by the node's primary IP
 * family first; status.hostIPs is empty, as the PodHostIPs gate is off in 1.28.
 */
export function podFieldSelectorRuntimeValue(
  fs: ObjectFieldSelector,
  pod: Pod,
  podIP: string,
  podIPs: string[],
  hostIPs: string[],
): string {
  const fieldPath = convertDownwardAPIFieldLabel(fs.apiVersion ?? "v1", fs.fieldPath);
  const sorted = sortPodIPs(podIPs, hostIPs);
  const primary = sorted[0] ?? podIP;
  switch (fieldPath) {
    case "spec.nodeName":
      return pod.spec?.nodeName ?? "";
    case "spec.serviceAccountName":
      return pod.spec?.serviceAccountName ?? "";
    case "status.hostIP":
      if (hostIPs.length === 0) throw invalidArgument("host IP unknown; known addresses: []");
      return hostIPs[0] as string;
    case "status.hostIPs":
      return "";
    case "status.podIP":
      return primary;
    case "status.podIPs":
      return sorted.join(",");
  }
  return extractFieldPathAsString(pod, fieldPath);
}

// sortPodIPs: at most one IP of the node's primary family, then one of the other.
function sortPodIPs(podIPs: string[], hostIPs: string[]): string[] {
  const v4First = hostIPs.length === 0 || ipFamily(hostIPs[0] as string) === 4;
  const [primary, secondary] = v4First ? [4, 6] : [6, 4];
  const ips: string[] = [];
  const first = podIPs.find((ip) => ipFamily(ip) === primary);
  if (first !== undefined) ips.push(first);
  const second = podIPs.find((ip) => ipFamily(ip) === secondary);
  if (second !== undefined) ips.push(second);
  return ips;
}

function ipFamily(ip: string): number {
  // An IPv4-mapped IPv6 address is IPv4 to Go's net package.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return isIP(mapped ? (mapped[1] as string) : ip);
}

/** pkg/apis/core/pods ConvertDownwardAPIFieldLabel: the pod fields the downward API may name. */
function convertDownwardAPIFieldLabel(version: string, label: string): string {
  if (version !== "v1") throw invalidArgument(`unsupported pod version: ${version}`);
  const subscripted = splitMaybeSubscriptedPath(label);
  if (subscripted) {
    if (subscripted.path === "metadata.annotations" || subscripted.path === "metadata.labels") return label;
    throw invalidArgument(`field label does not support subscript: ${label}`);
  }
  switch (label) {
    case "metadata.annotations":
    case "metadata.labels":
    case "metadata.name":
    case "metadata.namespace":
    case "metadata.uid":
    case "spec.nodeName":
    case "spec.restartPolicy":
    case "spec.serviceAccountName":
    case "spec.schedulerName":
    case "status.phase":
    case "status.hostIP":
    case "status.hostIPs":
    case "status.podIP":
    case "status.podIPs":
      return label;
    case "spec.host":
      // What old v1 clients call spec.nodeName.
      return "spec.nodeName";
    default:
      throw invalidArgument(`field label not supported: ${label}`);
  }
}

/** pkg/fieldpath ExtractFieldPathAsString, for the metadata fields. */
function extractFieldPathAsString(pod: Pod, fieldPath: string): string {
  const meta = pod.metadata ?? {};
  const subscripted = splitMaybeSubscriptedPath(fieldPath);
  if (subscripted) {
    const { path, subscript } = subscripted;
    if (path === "metadata.annotations" || path === "metadata.labels") {
      // Annotation keys are matched case-insensitively when checked, label keys exactly.
      const errs = isQualifiedName(path === "metadata.annotations" ? subscript.toLowerCase() : subscript);
      if (errs.length > 0) throw invalidArgument(`invalid key subscript in ${fieldPath}: ${errs.join(";")}`);
      const map = path === "metadata.annotations" ? meta.annotations : meta.labels;
      return map?.[subscript] ?? "";
    }
    throw invalidArgument(`fieldPath ${JSON.stringify(fieldPath)} does not support subscript`);
  }
  switch (fieldPath) {
    case "metadata.annotations":
      return formatMap(meta.annotations ?? {});
    case "metadata.labels":
      return formatMap(meta.labels ?? {});
    case "metadata.name":
      return meta.name ?? "";
    case "metadata.namespace":
      return meta.namespace ?? "";
    case "metadata.uid":
      return meta.uid ?? "";
  }
  throw invalidArgument(`unsupported fieldPath: ${fieldPath}`);
}

/** "path['key']" → path and key. */
function splitMaybeSubscriptedPath(fieldPath: string): { path: string; subscript: string } | undefined {
  if (!fieldPath.endsWith("']")) return undefined;
  const s = fieldPath.slice(0, -2);
  const open = s.indexOf("['");
  if (open <= 0) return undefined;
  return { path: s.slice(0, open), subscript: s.slice(open + 2) };
}

/** fieldpath.FormatMap: key="value" lines in key order, values quoted as Go's %q does. */
export function formatMap(m: Record<string, string>): string {
  return Object.keys(m)
    .sort()
    .map((key) => `${key}=${goQuote(m[key] as string)}`)
    .join("\n");
}

/** strconv.Quote: a double-quoted Go string literal; printable characters stay as they are. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0) as number;
    const named = goEscapes[ch];
    if (named) out += named;
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, "0")}`;
    else if (/^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u.test(ch)) out += ch;
    else if (cp >= 0xd800 && cp <= 0xdfff) out += "\\ufffd";
    else if (cp < 0x10000) out += `\\u${cp.toString(16).padStart(4, "0")}`;
    else out += `\\U${cp.toString(16).padStart(8, "0")}`;
  }
  return `${out}"`;
}

const goEscapes: Record<string, string> = {
  "\x07": "\\a",
  "\b": "\\b",
  "\f": "\\f",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\v": "\\v",
  "\\": "\\\\",
  '"': '\\"',
};

/**
 * defaultPodLimitsForDownwardAPI: copies of the pod and container in which a CPU, memory or
 * ephemeral-storage limit that is unset (or zero) reads as the node's allocatable amount. The pod's
 * init containers are left as they are, as upstream leaves them.
 */
export function defaultPodLimitsForDownwardAPI(
  pod: Pod,
  container: Container,
  allocatable: Record<string, string>,
): [Pod, Container] {
  const copy = structuredClone(pod);
  for (const c of copy.spec?.containers ?? []) mergeContainerResourceLimits(c, allocatable);
  const outContainer = structuredClone(container);
  mergeContainerResourceLimits(outContainer, allocatable);
  return [copy, outContainer];
}

// Hugepages are left out: they are never overcommitted, so a container using them always limits them.
function mergeContainerResourceLimits(container: Container, allocatable: Record<string, string>): void {
  const limits: Record<string, string> = { ...container.resources?.limits };
  for (const name of ["cpu", "memory", "ephemeral-storage"]) {
    const limit = limits[name];
    const cap = allocatable[name];
    if ((limit === undefined || parseQuantity(limit).isZero()) && cap !== undefined) limits[name] = cap;
  }
  container.resources = { ...container.resources, limits };
}

/** containerResourceRuntimeValue: a resourceFieldRef of this container, or of the one it names. */
export function containerResourceRuntimeValue(
  fs: ResourceFieldSelector,
  pod: Pod,
  container: Container,
): string {
  if (!fs.containerName) return extractContainerResourceValue(fs, container);
  const named =
    pod.spec?.containers.find((c) => c.name === fs.containerName) ??
    pod.spec?.initContainers?.find((c) => c.name === fs.containerName);
  if (!named) throw notFound(`container ${fs.containerName} not found`);
  return extractContainerResourceValue(fs, named);
}

/** ExtractContainerResourceValue: the amount in units of the divisor (1 when unset), rounded up. */
function extractContainerResourceValue(fs: ResourceFieldSelector, container: Container): string {
  const divisorGiven = fs.divisor === undefined ? undefined : parseQuantity(fs.divisor);
  const divisor = divisorGiven === undefined || divisorGiven.isZero() ? parseQuantity("1") : divisorGiven;
  const requests = containerRequests(container);
  const limits = containerLimits(container);
  const [kind, name] = splitResource(fs.resource);
  const list = kind === "limits" ? limits : kind === "requests" ? requests : undefined;
  if (list && name === "cpu") return ceilRatio(resourceOf(list, name).milliValue(), divisor.milliValue());
  if (list && (name === "memory" || name === "ephemeral-storage" || name.startsWith("hugepages-"))) {
    return ceilRatio(resourceOf(list, name).value(), divisor.value());
  }
  throw invalidArgument(`unsupported container resource : ${fs.resource}`);
}

function splitResource(resource: string): [string, string] {
  const dot = resource.indexOf(".");
  return dot === -1 ? [resource, ""] : [resource.slice(0, dot), resource.slice(dot + 1)];
}

// Upstream divides in float64 and rounds up; Number is the same IEEE double, so results match.
function ceilRatio(amount: bigint, divisor: bigint): string {
  return BigInt(Math.ceil(Number(amount) / Number(divisor))).toString();
}

// ---- Expansion (third_party/forked/golang/expansion, container/helpers.go) ----

/** MappingFuncFor: looks a name up in each context in turn; an unknown name stays as written. */
export function mappingFuncFor(...contexts: Map<string, string>[]): (name: string) => string {
  return (name) => {
    for (const vars of contexts) {
      const value = vars.get(name);
      if (value !== undefined) return value;
    }
    return `$(${name})`;
  };
}

/** Expand: replaces $(NAME) through `mapping`; $$ is a literal $, anything else is left as written. */
export function expand(input: string, mapping: (name: string) => string): string {
  let out = "";
  let checkpoint = 0;
  for (let cursor = 0; cursor < input.length; cursor++) {
    if (input[cursor] !== "$" || cursor + 1 >= input.length) continue;
    out += input.slice(checkpoint, cursor);
    const [read, isVar, advance] = tryReadVariableName(input.slice(cursor + 1));
    out += isVar ? mapping(read) : read;
    cursor += advance;
    checkpoint = cursor + 1;
  }
  return out + input.slice(checkpoint);
}

// What follows a '$': the text read, whether it names a variable, and how far it reached.
function tryReadVariableName(input: string): [string, boolean, number] {
  if (input[0] === "$") return ["$", false, 1];
  if (input[0] === "(") {
    const close = input.indexOf(")", 1);
    if (close !== -1) return [input.slice(1, close), true, close + 1];
    // An unterminated reference is kept as text.
    return ["$(", false, 1];
  }
  return [`$${input[0]}`, false, 1];
}

/** ExpandContainerCommandAndArgs: command and args with $(VAR) taken from the container's environment. */
export function expandContainerCommandAndArgs(container: Container, envs: EnvVar[]): [string[], string[]] {
  const mapping = mappingFuncFor(new Map(envs.map((e) => [e.name, e.value])));
  return [
    (container.command ?? []).map((c) => expand(c, mapping)),
    (container.args ?? []).map((a) => expand(a, mapping)),
  ];
}

/** ExpandContainerVolumeMounts: a subPathExpr expanded; every variable it names must have a value. */
export function expandContainerVolumeMounts(mount: VolumeMount, envs: EnvVar[]): string {
  const values = new Map(envs.map((e) => [e.name, e.value]));
  const missing = new Set<string>();
  const expanded = expand(mount.subPathExpr ?? "", (name) => {
    const value = values.get(name) ?? "";
    if (value === "") missing.add(name);
    return value;
  });
  if (missing.size > 0) throw invalidArgument(`missing value for ${[...missing].sort().join(", ")}`);
  return expanded;
}

// ---- Mounts (kubelet_pods.go makeMounts, kuberuntime_container.go makeMounts) ----

const etcHostsPath = "/etc/hosts";
const managedHostsHeader = "# Kubernetes-managed hosts file.\n";
const managedHostsHeaderWithHostNetwork = "# Kubernetes-managed hosts file (host network).\n";

/**
 * The kubelet's makeMounts: each volume mount from the pod's volumes (with its subPath), then the
 * managed /etc/hosts unless the container mounts something there itself. /etc/hosts is only managed
 * once the pod has an IP, that is for containers, never for the sandbox.
 */
export function makeVolumeMounts(
  pod: Pod,
  container: Container,
  hostName: string,
  hostDomain: string,
  podIPs: string[],
  host: Pick<ContainerHostFacts, "podDir" | "volumes" | "nodeEtcHosts">,
  envs: EnvVar[],
  plan: Pick<ContainerConfigPlan, "files">,
): KubeMount[] {
  let mountEtcHostsFile = podIPs.length > 0;
  const mounts: KubeMount[] = [];
  for (const mount of container.volumeMounts ?? []) {
    mountEtcHostsFile &&= mount.mountPath !== etcHostsPath;
    const volume = Object.hasOwn(host.volumes, mount.name) ? host.volumes[mount.name] : undefined;
    if (!volume) {
      throw notFound(
        `cannot find volume ${JSON.stringify(mount.name)} to mount into container ${JSON.stringify(container.name)}`,
      );
    }
    let hostPath = volume.hostPath;
    let subPath = mount.subPath ?? "";
    if (mount.subPathExpr) subPath = expandContainerVolumeMounts(mount, envs);
    if (subPath !== "") {
      if (posix.isAbsolute(subPath))
        throw invalidArgument(`error SubPath \`${subPath}\` must not be an absolute path`);
      if (subPath.split("/").includes("..")) {
        throw invalidArgument(`unable to provision SubPath \`${subPath}\`: must not contain '..'`);
      }
      // Upstream then bind-mounts this path under the pod directory so that a symlink swapped in later
      // cannot point the mount outside the volume; berth hands the runtime the joined path itself.
      hostPath = goJoin(hostPath, subPath);
    }
    const containerPath = posix.isAbsolute(mount.mountPath)
      ? mount.mountPath
      : goClean(`/${mount.mountPath}`);
    mounts.push({
      name: mount.name,
      containerPath,
      hostPath,
      readOnly: (mount.readOnly ?? false) || (volume.readOnly ?? false),
      propagation: translateMountPropagation(mount.mountPropagation),
    });
  }
  if (mountEtcHostsFile) {
    const hostsFilePath = goJoin(host.podDir, "etc-hosts");
    const content = pod.spec?.hostNetwork
      ? nodeHostsFileContent(host.nodeEtcHosts, pod.spec.hostAliases)
      : managedHostsFileContent(podIPs, hostName, hostDomain, pod.spec?.hostAliases);
    plan.files.push({ path: hostsFilePath, content, mode: 0o644 });
    mounts.push({
      name: "k8s-managed-etc-hosts",
      containerPath: etcHostsPath,
      hostPath: hostsFilePath,
      readOnly: false,
      propagation: MountPropagation.PROPAGATION_PRIVATE,
    });
  }
  return mounts;
}

/** translateMountPropagation: None and unset are private. */
export function translateMountPropagation(mode: string | undefined): MountPropagation {
  switch (mode) {
    case undefined:
    case "None":
      return MountPropagation.PROPAGATION_PRIVATE;
    case "HostToContainer":
      return MountPropagation.PROPAGATION_HOST_TO_CONTAINER;
    case "Bidirectional":
      return MountPropagation.PROPAGATION_BIDIRECTIONAL;
    default:
      throw invalidArgument(`invalid MountPropagation mode: ${JSON.stringify(mode)}`);
  }
}

/** nodeHostsFileContent: the node's own hosts file, marked as managed, with the pod's aliases. */
export function nodeHostsFileContent(nodeHosts: string, hostAliases: HostAlias[] | undefined): string {
  return managedHostsHeaderWithHostNetwork + nodeHosts + hostsEntriesFromHostAliases(hostAliases);
}

/** managedHostsFileContent: localhost entries, the pod's own names on each of its IPs, its aliases. */
export function managedHostsFileContent(
  hostIPs: string[],
  hostName: string,
  hostDomainName: string,
  hostAliases: HostAlias[] | undefined,
): string {
  let out = managedHostsHeader;
  out += "127.0.0.1\tlocalhost\n";
  out += "::1\tlocalhost ip6-localhost ip6-loopback\n";
  out += "fe00::0\tip6-localnet\n";
  out += "fe00::0\tip6-mcastprefix\n";
  out += "fe00::1\tip6-allnodes\n";
  out += "fe00::2\tip6-allrouters\n";
  for (const ip of hostIPs) {
    out += hostDomainName ? `${ip}\t${hostName}.${hostDomainName}\t${hostName}\n` : `${ip}\t${hostName}\n`;
  }
  return out + hostsEntriesFromHostAliases(hostAliases);
}

function hostsEntriesFromHostAliases(hostAliases: HostAlias[] | undefined): string {
  if (!hostAliases?.length) return "";
  let out = "\n# Entries added by HostAliases.\n";
  for (const alias of hostAliases) out += `${alias.ip}\t${(alias.hostnames ?? []).join("\t")}\n`;
  return out;
}

/**
 * kuberuntime's makeMounts: the kubelet's mounts as CRI mounts, then this instance's termination-log
 * file on the container's terminationMessagePath. SELinux relabelling is never asked for: berth's
 * nodes run without SELinux, where upstream drops it too.
 */
function makeMounts(
  opts: RunContainerOptions,
  container: Container,
  host: ContainerHostFacts,
  plan: ContainerConfigPlan,
): CriMount[] {
  const mounts: CriMount[] = opts.mounts.map((m) => ({
    hostPath: m.hostPath,
    containerPath: m.containerPath,
    readonly: m.readOnly,
    selinuxRelabel: false,
    propagation: m.propagation,
  }));
  if (opts.podContainerDir !== "" && container.terminationMessagePath) {
    // A fresh file per instance: its path holds the pod UID and container name, the id tells
    // instances of the same container apart. 0666 so that any user the container runs as can write it.
    const containerLogPath = goJoin(opts.podContainerDir, host.terminationMessageId);
    plan.files.push({ path: containerLogPath, content: "", mode: 0o666 });
    mounts.push({
      hostPath: containerLogPath,
      containerPath: goClean(`/${container.terminationMessagePath}`),
      selinuxRelabel: false,
    });
  }
  return mounts;
}

/** filepath.Clean: lexical cleaning without a trailing slash. */
function goClean(p: string): string {
  const cleaned = posix.normalize(p);
  return cleaned.length > 1 && cleaned.endsWith("/") ? cleaned.slice(0, -1) : cleaned;
}

function goJoin(...parts: string[]): string {
  return goClean(parts.filter((part) => part !== "").join("/"));
}
// ==== end of generateContainerConfig ====

// ==== startContainer and killContainer ====
// The kubelet's side of a container's life: pull, configure, create, start, postStart; and
// preStop, stop. Each failure comes back as the reason syncPod records (upstream's msg, err).

/** A failed start: the SyncResult's reason and message. */
export interface StartFailure {
  reason: SyncErrorReason;
  message: string;
}

/** The least time a container gets to stop, whatever its grace period (minimumGracePeriodInSeconds). */
const minimumGracePeriodSeconds = 2;
/** The API's default terminationGracePeriodSeconds. */
const defaultTerminationGracePeriodSeconds = 30;

/**
 * startContainer: Step 1 pull the image, Step 2 create the container (restart count, config,
 * the files it needs on the host, CRI CreateContainer), Step 3 start it, Step 4 run the
 * postStart hook. Resolves with undefined when it started, else with why not.
 */
export async function startContainer(
  m: KubeGenericRuntimeManager,
  podSandboxID: string,
  podSandboxConfig: MessageInitShape<typeof PodSandboxConfigSchema>,
  container: Container,
  pod: Pod,
  podStatus: PodStatus,
  podIP: string,
  podIPs: string[],
): Promise<StartFailure | undefined> {
  const { deps } = m;
  const fieldPath = containerFieldPath(pod, container.name);
  const event = (type: "Normal" | "Warning", reason: string, message: string) =>
    deps.recorder.record(pod, { type, reason, message, fieldPath });

  // Step 1: pull the image.
  let imageRef: string;
  try {
    imageRef = (await deps.imageManager.ensureImageExists(pod, container, podSandboxConfig)).imageRef;
  } catch (err) {
    event("Warning", Reason.FailedToCreateContainer, `Error: ${messageOf(err)}`);
    return { reason: err instanceof ImageError ? err.reason : ErrImagePull, message: messageOf(err) };
  }

  // Step 2: create the container.
  const previous = findContainerStatusByName(podStatus, container.name);
  const restartCount = previous
    ? previous.restartCount + 1
    : calcRestartCountByLogDir(
        buildContainerLogsDirectory(
          deps.settings.podLogsRootDirectory,
          pod.metadata?.namespace ?? "",
          pod.metadata?.name ?? "",
          pod.metadata?.uid ?? "",
          container.name,
        ),
      );
  let plan: ContainerConfigPlan;
  try {
    const image = (await deps.images.imageStatus({ image: { image: imageRef } })).image;
    plan = generateContainerConfig(
      deps.settings,
      container,
      pod,
      restartCount,
      podIP,
      imageRef,
      podIPs,
      undefined,
      {
        podDir: deps.host.podDir(pod),
        volumes: deps.host.volumes(pod),
        localObjects: deps.host.localObjects(pod.metadata?.namespace ?? ""),
        hostIPs: deps.host.hostIPs,
        nodeAllocatable: deps.host.nodeAllocatable,
        clusterDomain: deps.host.dns.clusterDomain,
        nodeEtcHosts: deps.host.nodeEtcHosts,
        terminationMessageId: makeUID(),
        imageUser: imageUserFromStatus(image),
      },
    );
    for (const d of plan.directories) await mkdir(d.path, { recursive: true, mode: d.mode });
    for (const f of plan.files) {
      await writeFile(f.path, f.content);
      await chmod(f.path, f.mode);
    }
  } catch (err) {
    event("Warning", Reason.FailedToCreateContainer, `Error: ${messageOf(err)}`);
    return { reason: ErrCreateContainerConfig, message: messageOf(err) };
  }
  let containerId: string;
  try {
    ({ containerId } = await deps.runtime.createContainer({
      podSandboxId: podSandboxID,
      config: plan.config,
      sandboxConfig: podSandboxConfig,
    }));
  } catch (err) {
    event("Warning", Reason.FailedToCreateContainer, `Error: ${messageOf(err)}`);
    return { reason: ErrCreateContainer, message: messageOf(err) };
  }
  event("Normal", Reason.CreatedContainer, `Created container ${container.name}`);

  // Step 3: start the container.
  try {
    await deps.runtime.startContainer({ containerId });
  } catch (err) {
    event("Warning", Reason.FailedToStartContainer, `Error: ${messageOf(err)}`);
    return { reason: ErrRunContainer, message: messageOf(err) };
  }
  event("Normal", Reason.StartedContainer, `Started container ${container.name}`);

  // Step 4: execute the post start hook.
  const postStart = container.lifecycle?.postStart;
  if (postStart) {
    const id = buildContainerID(deps.runtimeName, containerId);
    try {
      await runLifecycleHandler(deps.runtime, id, pod, container, postStart, podIP);
    } catch (err) {
      const message = messageOf(err);
      event("Warning", Reason.FailedPostStartHook, message);
      await killContainer(m, pod, id, container.name, "FailedPostStartHook", reasonFailedPostStartHook).catch(
        (e) =>
          m.log.error(
            { pod: formatPod(pod), container: container.name, err: messageOf(e) },
            "failed to kill container after a failed postStart hook",
          ),
      );
      return { reason: ErrPostStartHook, message };
    }
  }
  return undefined;
}

/**
 * killContainer: the Killing event, the preStop hook if there is time for it, then CRI
 * StopContainer with what is left of the grace period (at least 2 s, or the override). A
 * container without its pod (an orphan) stops with the grace period its annotations recorded.
 */
export async function killContainer(
  m: KubeGenericRuntimeManager,
  pod: Pod | undefined,
  containerID: ContainerID,
  containerName: string,
  message: string,
  reason: ContainerKillReason | "",
  gracePeriodOverride?: number,
): Promise<void> {
  const { deps } = m;
  const spec = pod
    ? [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].find(
        (c) => c.name === containerName,
      )
    : undefined;
  if (pod && !spec) {
    throw new Error(
      `failed to get containerSpec ${JSON.stringify(containerName)} (id=${JSON.stringify(containerID.id)}) in pod ${JSON.stringify(formatPod(pod))} when killing container for reason ${JSON.stringify(message)}`,
    );
  }
  let gracePeriod: number;
  let preStop = spec?.lifecycle?.preStop;
  if (pod && spec) {
    gracePeriod = terminationGracePeriod(pod, spec, reason);
    deps.recorder.record(pod, {
      type: "Normal",
      reason: Reason.KillingContainer,
      message: message || `Stopping container ${spec.name}`,
      fieldPath: containerFieldPath(pod, containerName),
    });
  } else {
    // restoreSpecsFromContainerLabels: what the container's annotations kept.
    const status = (await deps.runtime.containerStatus({ containerId: containerID.id })).status;
    const info = getContainerInfoFromAnnotations(status?.annotations ?? {}, deps.settings.featureGates);
    gracePeriod =
      info.podDeletionGracePeriod ?? info.podTerminationGracePeriod ?? defaultTerminationGracePeriodSeconds;
    preStop = info.preStopHandler;
  }
  if (preStop && gracePeriod > 0 && pod && spec) {
    gracePeriod -= await executePreStopHook(m, pod, containerID, spec, gracePeriod);
  }
  gracePeriod = Math.max(gracePeriod, minimumGracePeriodSeconds);
  if (gracePeriodOverride !== undefined) gracePeriod = gracePeriodOverride;
  try {
    await deps.runtime.stopContainer({ containerId: containerID.id, timeout: BigInt(gracePeriod) });
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

/** setTerminationGracePeriod: the pod's deletion grace period, else its spec's, else a failed probe's own. */
function terminationGracePeriod(pod: Pod, container: Container, reason: ContainerKillReason | ""): number {
  let grace =
    pod.metadata?.deletionGracePeriodSeconds ??
    pod.spec?.terminationGracePeriodSeconds ??
    defaultTerminationGracePeriodSeconds;
  if (reason === reasonStartupProbe && container.startupProbe?.terminationGracePeriodSeconds !== undefined) {
    grace = container.startupProbe.terminationGracePeriodSeconds;
  }
  if (
    reason === reasonLivenessProbe &&
    container.livenessProbe?.terminationGracePeriodSeconds !== undefined
  ) {
    grace = container.livenessProbe.terminationGracePeriodSeconds;
  }
  return grace;
}

/** executePreStopHook: runs the hook for at most the grace period; resolves with the whole seconds it took. */
async function executePreStopHook(
  m: KubeGenericRuntimeManager,
  pod: Pod,
  containerID: ContainerID,
  container: Container,
  gracePeriod: number,
): Promise<number> {
  const started = Date.now();
  const fieldPath = containerFieldPath(pod, container.name);
  const hook = container.lifecycle?.preStop;
  if (!hook) return 0;
  const done = runLifecycleHandler(m.deps.runtime, containerID, pod, container, hook, "").then(
    () => undefined,
    (err: unknown) => messageOf(err),
  );
  const timedOut = Symbol("timedOut");
  const timer = new AbortController();
  const outcome = await Promise.race([
    done,
    sleep(gracePeriod * 1000, timedOut, { signal: timer.signal }).catch(() => undefined),
  ]);
  timer.abort();
  if (outcome === timedOut) {
    m.log.info(
      { pod: formatPod(pod), container: container.name, gracePeriod },
      "PreStop hook not completed in grace period",
    );
  } else if (typeof outcome === "string") {
    m.deps.recorder.record(pod, {
      type: "Warning",
      reason: Reason.FailedPreStopHook,
      message: outcome,
      fieldPath,
    });
  }
  return Math.floor((Date.now() - started) / 1000);
}

/**
 * calcRestartCountByLogDir: after a runtime lost its state, the next count from the logs kept. One
 * small directory, read in place rather than through the thread pool on every container start.
 */
function calcRestartCountByLogDir(dir: string): number {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  let count = 0;
  for (const n of names) {
    const match = /^(\d+)\.log(\..*)?$/.exec(n);
    if (match) count = Math.max(count, Number(match[1]) + 1);
  }
  return count;
}
