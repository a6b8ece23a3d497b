// pkg/kubelet/kuberuntime/kuberuntime_manager.go GetPodStatus and GetPods (kubelet 1.28), with
// kuberuntime_container.go getPodContainerStatuses, convertToKubeContainerStatus, toKubeContainerStatus
// and getTerminationMessage, kuberuntime_sandbox.go getSandboxIDByPodUID, determinePodSandboxIPs and
// getKubeletSandboxes, and helpers.go toKubeContainer and sandboxToKubeContainer: the kubelet's view
// of what the runtime runs, rebuilt from CRI answers and the labels and annotations the kubelet put
// on each sandbox and container, so that it survives a kubelet restart.
import { isIP } from "node:net";
import { posix } from "node:path";
import {
  type Container as CriContainer,
  ContainerState as CriContainerState,
  type ContainerStatus as CriContainerStatus,
  type PodSandbox,
  PodSandboxState,
  type PodSandboxStatus,
} from "../../cri/gen/runtime/v1/api_pb.js";
import type { RuntimeServiceClient } from "../../cri/remote-runtime.js";
import { BerthError, isNotFound, messageOf, wrap } from "../../lib/errdefs.js";
import type { Logger } from "../../lib/log.js";
import { type ContainerID, ContainerState, type PodStatus, type Status } from "../container/runtime.js";
import type { FeatureGates } from "../features/features.js";
import {
  getContainerInfoFromAnnotations,
  getContainerInfoFromLabels,
  KubernetesPodUIDLabel,
} from "./labels.js";
import { MaxContainerTerminationMessageLength, readAtMost, readLastStringFromContainerLogs } from "./logs.js";

/** What these functions read the runtime through. */
export interface RuntimeView {
  runtimeService: RuntimeServiceClient;
  /** Version's runtimeName ("containerd", "berth"): the type of every ContainerID. */
  runtimeName: string;
  featureGates: FeatureGates;
  log: Logger;
}

/** kubecontainer.Container: a container or sandbox as a runtime list shows it, without inspecting it. */
export interface RuntimeContainer {
  id: ContainerID;
  /** The container's name in the pod; "" for a sandbox. */
  name: string;
  image: string;
  /** The runtime's image reference (CRI imageRef). */
  imageID: string;
  /** hashContainer of the spec it was created from; "" for a sandbox. */
  hash: string;
  state: ContainerState;
}

/** kubecontainer.Pod: a pod as the runtime has it, grouped by the pod UID on its sandboxes and containers. */
export interface RuntimePod {
  id: string;
  name: string;
  namespace: string;
  /** createdAt of its last listed sandbox, in nanoseconds; 0n when it has none. */
  createdAt: bigint;
  containers: RuntimeContainer[];
  sandboxes: RuntimeContainer[];
}

/** kubecontainer.Runtime's GetPods and GetPodStatus: what the PLEG asks of the runtime. */
export interface PodRuntime {
  getPods(all: boolean): Promise<RuntimePod[]>;
  getPodStatus(uid: string, name: string, namespace: string): Promise<PodStatus>;
}

/** A PodRuntime straight over CRI. */
export function podRuntime(rt: RuntimeView): PodRuntime {
  return {
    getPods: (all) => getPods(rt, all),
    getPodStatus: (uid, name, namespace) => getPodStatus(rt, uid, name, namespace),
  };
}

/**
 * GetPodStatus: every sandbox and container the runtime has for the pod, newest first, and the pod's
 * IPs from its newest sandbox when that one is ready. The restart count of each container is the one
 * written on it when it was created: best effort once old containers are garbage collected.
 */
export async function getPodStatus(
  rt: RuntimeView,
  uid: string,
  name: string,
  namespace: string,
): Promise<PodStatus> {
  const sandboxIDs = await getSandboxIDByPodUID(rt, uid);
  const sandboxStatuses: PodSandboxStatus[] = [];
  const timeStamp = new Date();
  let ips: string[] = [];
  for (const [idx, id] of sandboxIDs.entries()) {
    let status: PodSandboxStatus | undefined;
    try {
      status = (await rt.runtimeService.podSandboxStatus({ podSandboxId: id })).status;
    } catch (err) {
      // Removed since it was listed: as if the list had not shown it.
      if (isNotFound(err)) continue;
      rt.log.error(
        { err, podSandboxID: id, pod: `${namespace}/${name}` },
        "PodSandboxStatus of sandbox for pod",
      );
      throw wrap(err, `failed to get status of sandbox ${id} of pod ${namespace}/${name}`);
    }
    if (status === undefined) throw new BerthError("Unknown", "pod sandbox status is nil");
    sandboxStatuses.push(status);
    // Only the newest sandbox gives the pod its IPs.
    if (idx === 0 && status.state === PodSandboxState.SANDBOX_READY) {
      ips = determinePodSandboxIPs(namespace, name, status, rt.log);
    }
  }
  let containerStatuses: Status[];
  try {
    containerStatuses = await getPodContainerStatuses(rt, uid);
  } catch (err) {
    rt.log.error({ err, pod: `${namespace}/${name}` }, "getPodContainerStatuses for pod failed");
    throw wrap(err, `failed to get container statuses of pod ${namespace}/${name}`);
  }
  return { id: uid, name, namespace, ips, sandboxStatuses, containerStatuses, timeStamp };
}

/** getSandboxIDByPodUID: the ids of the pod's sandboxes, newest first. */
export async function getSandboxIDByPodUID(
  rt: RuntimeView,
  podUID: string,
  state?: PodSandboxState,
): Promise<string[]> {
  const { items } = await rt.runtimeService.listPodSandbox({
    filter: {
      labelSelector: { [KubernetesPodUIDLabel]: podUID },
      ...(state === undefined ? {} : { state: { state } }),
    },
  });
  return [...items].sort((a, b) => newestFirst(a.createdAt, b.createdAt)).map((s) => s.id);
}

/**
 * determinePodSandboxIPs: the sandbox's primary IP, then its additional ones. Any unparseable IP
 * makes it report none; no network status (or a host-network sandbox) reports none either.
 */
export function determinePodSandboxIPs(
  podNamespace: string,
  podName: string,
  sandbox: PodSandboxStatus,
  log: Logger,
): string[] {
  const pod = `${podNamespace}/${podName}`;
  const network = sandbox.network;
  if (network === undefined) {
    log.info({ pod }, "Pod Sandbox status doesn't have network information, cannot report IPs");
    return [];
  }
  const ips: string[] = [];
  if (network.ip !== "") {
    if (isIP(network.ip) === 0) {
      log.info({ pod, IP: network.ip }, "Pod Sandbox reported an unparseable primary IP");
      return [];
    }
    ips.push(network.ip);
  }
  for (const { ip } of network.additionalIps) {
    if (isIP(ip) === 0) {
      log.info({ pod, IP: ip }, "Pod Sandbox reported an unparseable additional IP");
      return [];
    }
    ips.push(ip);
  }
  return ips;
}

/** getPodContainerStatuses: every container of the pod, inspected, newest first. */
export async function getPodContainerStatuses(rt: RuntimeView, uid: string): Promise<Status[]> {
  const { containers } = await rt.runtimeService.listContainers({
    filter: { labelSelector: { [KubernetesPodUIDLabel]: uid } },
  });
  const statuses: { createdAt: bigint; status: Status }[] = [];
  for (const c of containers) {
    let status: CriContainerStatus | undefined;
    try {
      status = (await rt.runtimeService.containerStatus({ containerId: c.id })).status;
    } catch (err) {
      // Removed since it was listed: as if the list had not shown it.
      if (isNotFound(err)) continue;
      rt.log.debug({ err, containerID: c.id }, "ContainerStatus return error");
      throw err;
    }
    if (status === undefined) throw new BerthError("Unknown", "container status is nil");
    statuses.push({ createdAt: status.createdAt, status: await convertToKubeContainerStatus(rt, status) });
  }
  // By the runtime's nanoseconds: containers created within one millisecond still sort as created.
  return statuses.sort((a, b) => newestFirst(a.createdAt, b.createdAt)).map((s) => s.status);
}

/**
 * convertToKubeContainerStatus: toKubeContainerStatus, with the termination message of an exited
 * container appended to the runtime's message: the file the container wrote at its
 * terminationMessagePath, or with FallbackToLogsOnError and a failure, the end of its log.
 */
export async function convertToKubeContainerStatus(
  rt: RuntimeView,
  status: CriContainerStatus,
): Promise<Status> {
  const cStatus = toKubeContainerStatus(status, rt.runtimeName, rt.featureGates, rt.log);
  if (status.state !== CriContainerState.CONTAINER_EXITED) return cStatus;
  const annotated = getContainerInfoFromAnnotations(status.annotations, rt.featureGates, rt.log);
  // A container that could not even start has no log worth reading.
  const fallbackToLogs =
    annotated.terminationMessagePolicy === "FallbackToLogsOnError" &&
    cStatus.exitCode !== 0 &&
    cStatus.reason !== "ContainerCannotRun";
  let { message, checkLogs } = await getTerminationMessage(
    status,
    annotated.terminationMessagePath,
    fallbackToLogs,
  );
  if (checkLogs) message = await readLastStringFromContainerLogs(status.logPath, rt.log);
  if (message !== "") cStatus.message = cStatus.message === "" ? message : `${cStatus.message}: ${message}`;
  return cStatus;
}

/** toKubeContainerStatus: a CRI container status in the kubelet's terms, names and counts from its labels and annotations. */
export function toKubeContainerStatus(
  status: CriContainerStatus,
  runtimeName: string,
  gates: FeatureGates,
  log?: Logger,
): Status {
  const annotated = getContainerInfoFromAnnotations(status.annotations, gates, log);
  const labeled = getContainerInfoFromLabels(status.labels);
  const cStatus: Status = {
    id: { type: runtimeName, id: status.id },
    name: labeled.containerName,
    image: status.image?.image ?? "",
    imageID: status.imageRef,
    hash: annotated.hash,
    restartCount: annotated.restartCount,
    state: toKubeContainerState(status.state),
    createdAt: nsToDate(status.createdAt),
    exitCode: 0,
    reason: "",
    message: "",
  };
  // Anything past created was started, even if the runtime recorded no start time (then the epoch).
  if (status.state !== CriContainerState.CONTAINER_CREATED) cStatus.startedAt = nsToDate(status.startedAt);
  if (status.state === CriContainerState.CONTAINER_EXITED) {
    cStatus.reason = status.reason;
    cStatus.message = status.message;
    cStatus.exitCode = status.exitCode;
    cStatus.finishedAt = nsToDate(status.finishedAt);
  }
  return cStatus;
}

/**
 * getTerminationMessage: the end of the host file mounted at the container's terminationMessagePath
 * (the kubelet mounts <pod dir>/containers/<name>/<id> there), and whether the log should be read
 * instead (fallback wanted, and no file or an empty one).
 */
export async function getTerminationMessage(
  status: CriContainerStatus,
  terminationMessagePath: string,
  fallbackToLogs: boolean,
): Promise<{ message: string; checkLogs: boolean }> {
  if (terminationMessagePath === "") return { message: "", checkLogs: fallbackToLogs };
  const containerPath = posix.resolve("/", terminationMessagePath);
  const mount = status.mounts.find((m) => m.containerPath === containerPath);
  if (mount === undefined) return { message: "", checkLogs: fallbackToLogs };
  try {
    const { data } = await readAtMost(mount.hostPath, MaxContainerTerminationMessageLength);
    return { message: data.toString("utf8"), checkLogs: fallbackToLogs && data.length === 0 };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { message: "", checkLogs: fallbackToLogs };
    return {
      message: `Error on reading termination log ${mount.hostPath}: ${messageOf(err)}`,
      checkLogs: false,
    };
  }
}

/**
 * GetPods: every pod the runtime has sandboxes or containers for (or, unless `all`, ready sandboxes
 * and running containers only), grouped by the pod UID on them, the most recently created first.
 * Pods the kubelet no longer knows show up here too, which is how it finds orphans to kill.
 */
export async function getPods(rt: RuntimeView, all: boolean): Promise<RuntimePod[]> {
  const pods = new Map<string, RuntimePod>();
  const { items: sandboxes } = await rt.runtimeService.listPodSandbox(
    all ? {} : { filter: { state: { state: PodSandboxState.SANDBOX_READY } } },
  );
  for (const s of sandboxes) {
    if (s.metadata === undefined) {
      rt.log.debug({ sandbox: s.id }, "Sandbox does not have metadata");
      continue;
    }
    const podUID = s.metadata.uid;
    let pod = pods.get(podUID);
    if (pod === undefined) {
      pod = newRuntimePod(podUID, s.metadata.name, s.metadata.namespace);
      pods.set(podUID, pod);
    }
    pod.sandboxes.push(sandboxToKubeContainer(s, rt.runtimeName));
    pod.createdAt = s.createdAt;
  }
  const { containers } = await rt.runtimeService.listContainers(
    all ? {} : { filter: { state: { state: CriContainerState.CONTAINER_RUNNING } } },
  );
  for (const c of containers) {
    if (c.metadata === undefined) {
      rt.log.debug({ container: c.id }, "Container does not have metadata");
      continue;
    }
    const labeled = getContainerInfoFromLabels(c.labels);
    let pod = pods.get(labeled.podUID);
    if (pod === undefined) {
      pod = newRuntimePod(labeled.podUID, labeled.podName, labeled.podNamespace);
      pods.set(labeled.podUID, pod);
    }
    if (c.image === undefined) {
      rt.log.debug({ container: c.id, podUID: labeled.podUID }, "Convert container of pod failed: no image");
      continue;
    }
    pod.containers.push(toKubeContainer(c, rt));
  }
  // Two pods of one name may overlap while the old one terminates: a search by name finds the newer.
  return [...pods.values()].sort((a, b) => newestFirst(a.createdAt, b.createdAt));
}

function newRuntimePod(id: string, name: string, namespace: string): RuntimePod {
  return { id, name, namespace, createdAt: 0n, containers: [], sandboxes: [] };
}

/** toKubeContainer. */
function toKubeContainer(c: CriContainer, rt: RuntimeView): RuntimeContainer {
  return {
    id: { type: rt.runtimeName, id: c.id },
    name: c.metadata?.name ?? "",
    image: c.image?.image ?? "",
    imageID: c.imageRef,
    hash: getContainerInfoFromAnnotations(c.annotations, rt.featureGates, rt.log).hash,
    state: toKubeContainerState(c.state),
  };
}

/** sandboxToKubeContainer: a sandbox as a container, so the PLEG can follow its state too. */
function sandboxToKubeContainer(s: PodSandbox, runtimeName: string): RuntimeContainer {
  const state =
    s.state === PodSandboxState.SANDBOX_READY
      ? ContainerState.Running
      : s.state === PodSandboxState.SANDBOX_NOTREADY
        ? ContainerState.Exited
        : ContainerState.Unknown;
  return { id: { type: runtimeName, id: s.id }, name: "", image: "", imageID: "", hash: "", state };
}

export function toKubeContainerState(state: CriContainerState): ContainerState {
  switch (state) {
    case CriContainerState.CONTAINER_CREATED:
      return ContainerState.Created;
    case CriContainerState.CONTAINER_RUNNING:
      return ContainerState.Running;
    case CriContainerState.CONTAINER_EXITED:
      return ContainerState.Exited;
    default:
      return ContainerState.Unknown;
  }
}

/** A sort order by creation time in nanoseconds, the newest first (podSandboxByCreated, containerStatusByCreated). */
function newestFirst(a: bigint, b: bigint): number {
  return a < b ? 1 : a > b ? -1 : 0;
}

/** CRI nanoseconds as a Date (millisecond precision is all a Date holds). */
function nsToDate(ns: bigint): Date {
  return new Date(Number(ns / 1_000_000n));
}
