// pkg/kubelet/kubelet_pods.go generateAPIPodStatus, convertStatusToAPIStatus, convertToAPIContainerStatuses,
// getPhase and sortPodIPs, pkg/kubelet/status/generate.go (the pod conditions), the prober manager's
// UpdatePodStatus (containers' ready and started) and the part of status_manager.go updateStatusInternal
// that completes a status before the kubelet keeps it (condition transition times, start time,
// normalizeStatus), kubelet 1.28: the pod status the kubelet reports, from the pod, what the runtime
// has (PodStatus), the previous status and the last sync's errors. Pure: times come in as arguments.
//
// Feature gates at their 1.28 defaults: PodDisruptionConditions on (beta), PodReadyToStartContainersCondition
// and PodHostIPs off (alpha), InPlacePodVerticalScaling off (no status.resources or resize).
import { isIPv4, isIPv6 } from "node:net";
import type * as v1 from "kubernetes-types/core/v1.js";
import { failedPrecondition } from "../../lib/errdefs.js";
import { shouldContainerBeRestarted } from "../container/helpers.js";
import {
  type ContainerID,
  ContainerState,
  containerIDString,
  findContainerStatusByName,
  type PodStatus,
  parseContainerID,
  type Status,
} from "../container/runtime.js";
import { type PodSyncResult, SyncAction } from "../container/sync-result.js";
import { isRestartableInitContainer, type ProbeResults } from "../kuberuntime/pod-actions.js";
import { getPodQOS } from "../qos/qos.js";

// Waiting reasons of containers not started yet (kubelet.go).
export const ContainerCreating = "ContainerCreating";
export const PodInitializing = "PodInitializing";
/** A container that was running and is no longer found (kubecontainer.ContainerReasonStatusUnknown). */
export const ContainerReasonStatusUnknown = "ContainerStatusUnknown";

// Condition reasons (status/generate.go).
export const UnknownContainerStatuses = "UnknownContainerStatuses";
export const PodCompleted = "PodCompleted";
export const PodFailed = "PodFailed";
export const ContainersNotReady = "ContainersNotReady";
export const ContainersNotInitialized = "ContainersNotInitialized";
export const ReadinessGatesNotReady = "ReadinessGatesNotReady";

/** Pod phases. */
export const PodPhase = {
  Pending: "Pending",
  Running: "Running",
  Succeeded: "Succeeded",
  Failed: "Failed",
  Unknown: "Unknown",
} as const;

/** The pod condition types the kubelet sets (PodReadyToStartContainers too once its gate is on). */
const PodScheduled = "PodScheduled";
const PodReady = "Ready";
const PodInitialized = "Initialized";
const ContainersReady = "ContainersReady";
const DisruptionTarget = "DisruptionTarget";
const PodReadyToStartContainers = "PodReadyToStartContainers";
const podConditionsByKubelet = new Set([PodScheduled, PodReady, PodInitialized, ContainersReady]);

/** All containers' termination messages together may take this much of a status (MaxPodTerminationMessageLogLength). */
const MaxPodTerminationMessageLogLength = 1024 * 12;
/** The annotation saying where a pod came from; anything but "api" is a static pod. */
const ConfigSourceAnnotationKey = "kubernetes.io/config.source";

/** Why a container is waiting, from its last failed start. */
export interface ContainerWaitingReason {
  reason: string;
  message: string;
}

/**
 * ReasonCache.Update: a failed StartContainer step records its reason for the container, a successful
 * one clears it, and containers the sync did not try to start keep theirs. The pod worker keeps one
 * map per pod across syncs and passes it to generateAPIPodStatus.
 */
export function updateReasonCache(reasons: Map<string, ContainerWaitingReason>, result: PodSyncResult): void {
  for (const r of result.syncResults) {
    if (r.action !== SyncAction.StartContainer) continue;
    if (r.error !== undefined) reasons.set(r.target, { reason: r.error, message: r.message });
    else reasons.delete(r.target);
  }
}

/** lifecycle.PodSyncHandler's ShouldEvict: an internal module asking for the pod to be failed (the active deadline). */
export type PodSyncHandler = (pod: v1.Pod) => { evict: boolean; reason?: string; message?: string };

export interface GenerateDeps {
  /** The status manager's last status for the pod; without one, the pod's status from the API. */
  oldPodStatus?: v1.PodStatus;
  /** Waiting reasons by container name, as updateReasonCache keeps them. */
  reasons: ReadonlyMap<string, ContainerWaitingReason>;
  readinessManager: ProbeResults;
  startupManager: ProbeResults;
  /** The node's IPs, preferred family first: the hostIP, a host-network pod's IPs and which pod IP family comes first. */
  nodeIPs: string[];
  podSyncHandlers?: PodSyncHandler[];
}

/**
 * generateAPIPodStatus: the pod's status as the kubelet would report it now. `podIsTerminal` says the
 * pod will not run again (its containers count as finished whatever the restart policy).
 */
export function generateAPIPodStatus(
  pod: v1.Pod,
  podStatus: PodStatus,
  podIsTerminal: boolean,
  deps: GenerateDeps,
): v1.PodStatus {
  const oldPodStatus = deps.oldPodStatus ?? pod.status ?? {};
  const apiPhase = pod.status?.phase;
  const s = convertStatusToAPIStatus(pod, podStatus, oldPodStatus, deps);
  const all = [...(s.containerStatuses ?? []), ...(s.initContainerStatuses ?? [])];
  s.phase = getPhase(pod, all, podIsTerminal);

  // A terminal phase, once the status manager or the API has it, stays.
  if (!isTerminal(s.phase)) {
    if (isTerminal(oldPodStatus.phase)) s.phase = oldPodStatus.phase;
    else if (isTerminal(apiPhase)) s.phase = apiPhase;
  }
  // The reason and message belong to the phase: kept while it is the same.
  if (s.phase === oldPodStatus.phase) {
    const reason = oldPodStatus.reason || pod.status?.reason;
    const message = oldPodStatus.message || pod.status?.message;
    if (reason) s.reason = reason;
    if (message) s.message = message;
  }
  for (const handler of deps.podSyncHandlers ?? []) {
    const result = handler(pod);
    if (!result.evict) continue;
    s.phase = PodPhase.Failed;
    s.reason = result.reason;
    s.message = result.message;
    break;
  }
  // The API server refuses a way out of a terminal phase.
  if (isTerminal(apiPhase) && s.phase !== apiPhase) s.phase = apiPhase;

  updatePodStatusFromProbes(pod, s, deps);

  // Conditions others own (readiness gates, DisruptionTarget from the API) stay as the API has them.
  const conditions = (pod.status?.conditions ?? []).filter((c) => !podConditionsByKubelet.has(c.type));
  // The disruption the kubelet itself recorded (eviction, node shutdown) is never regenerated.
  const disruption = oldPodStatus.conditions?.find((c) => c.type === DisruptionTarget);
  if (disruption) replaceOrAppendPodCondition(conditions, disruption);
  const statuses = [...(s.initContainerStatuses ?? []), ...(s.containerStatuses ?? [])];
  const spec = pod.spec ?? { containers: [] };
  conditions.push(generatePodInitializedCondition(spec, statuses, s.phase));
  conditions.push(generatePodReadyCondition(spec, conditions, statuses, s.phase));
  conditions.push(generateContainersReadyCondition(spec, statuses, s.phase));
  conditions.push({ type: PodScheduled, status: "True" });
  s.conditions = conditions;

  const [hostIP, secondHostIP] = deps.nodeIPs;
  if (hostIP !== undefined) {
    s.hostIP = hostIP;
    // A host-network pod has the node's IPs; once set they only gain a second family.
    if (pod.spec?.hostNetwork) {
      if (!s.podIP) {
        s.podIP = hostIP;
        s.podIPs = [{ ip: hostIP }];
      }
      if (
        secondHostIP !== undefined &&
        s.podIPs?.length === 1 &&
        ipFamily(s.podIPs[0]?.ip) !== ipFamily(secondHostIP)
      ) {
        s.podIPs.push({ ip: secondHostIP });
      }
    }
  }
  return s;
}

/** convertStatusToAPIStatus: pod IPs, QoS class and container statuses, before phase and conditions. */
export function convertStatusToAPIStatus(
  pod: v1.Pod,
  podStatus: PodStatus,
  oldPodStatus: v1.PodStatus,
  deps: Pick<GenerateDeps, "reasons" | "nodeIPs">,
): v1.PodStatus {
  const s: v1.PodStatus = {};
  const podIPs = sortPodIPs(podStatus.ips, deps.nodeIPs);
  if (podIPs.length > 0) {
    s.podIPs = podIPs.map((ip) => ({ ip }));
    s.podIP = podIPs[0];
  }
  s.qosClass = getPodQOS(pod);
  const spec = pod.spec;
  const hasInitContainers = (spec?.initContainers?.length ?? 0) > 0;
  const convert = (previous: v1.ContainerStatus[] | undefined, containers: v1.Container[], isInit: boolean) =>
    convertToAPIContainerStatuses(
      pod,
      podStatus,
      previous,
      containers,
      hasInitContainers,
      isInit,
      deps.reasons,
    );
  const containerStatuses = convert(oldPodStatus.containerStatuses, spec?.containers ?? [], false);
  const initContainerStatuses = convert(oldPodStatus.initContainerStatuses, spec?.initContainers ?? [], true);
  // An ephemeral container has a container's fields (and a few more no status uses).
  const ephemeral = convert(
    oldPodStatus.ephemeralContainerStatuses,
    (spec?.ephemeralContainers ?? []) as v1.Container[],
    false,
  );
  // Empty lists are left out, as the API's JSON leaves them out.
  if (containerStatuses.length > 0) s.containerStatuses = containerStatuses;
  if (initContainerStatuses.length > 0) s.initContainerStatuses = initContainerStatuses;
  if (ephemeral.length > 0) s.ephemeralContainerStatuses = ephemeral;
  return s;
}

/**
 * sortPodIPs: of the runtime's IPs, the first of the node's family, then the first of the other one;
 * without node IPs IPv4 comes first.
 */
export function sortPodIPs(podIPs: string[], nodeIPs: string[]): string[] {
  const v4First = nodeIPs.length === 0 || isIPv4(nodeIPs[0] ?? "");
  const [primary, secondary] = v4First ? [isIPv4, isIPv6] : [isIPv6, isIPv4];
  const out: string[] = [];
  const first = podIPs.find(primary);
  if (first !== undefined) out.push(first);
  const second = podIPs.find(secondary);
  if (second !== undefined) out.push(second);
  return out;
}

/**
 * convertToAPIContainerStatuses: one status per container of `containers`, from its two newest
 * instances in the runtime (the newest as its state, the one before as its last state), else from the
 * previous status, else waiting to be created; a container due to be restarted whose last start
 * failed shows that failure as its waiting reason.
 */
export function convertToAPIContainerStatuses(
  pod: v1.Pod,
  podStatus: PodStatus,
  previousStatus: v1.ContainerStatus[] | undefined,
  containers: v1.Container[],
  hasInitContainers: boolean,
  isInitContainer: boolean,
  reasons: ReadonlyMap<string, ContainerWaitingReason>,
): v1.ContainerStatus[] {
  const oldStatuses = new Map((previousStatus ?? []).map((s) => [s.name, structuredClone(s)]));
  const defaultWaitingReason = hasInitContainers ? PodInitializing : ContainerCreating;

  const statuses = new Map<string, v1.ContainerStatus>();
  for (const container of containers) {
    let status: v1.ContainerStatus = {
      name: container.name,
      image: container.image ?? "",
      imageID: "",
      ready: false,
      restartCount: 0,
      state: { waiting: { reason: defaultWaitingReason } },
      lastState: {},
    };
    const old = oldStatuses.get(container.name);
    if (old?.state?.terminated) {
      status = old;
    } else if (old) {
      status.restartCount = old.restartCount;
      status.lastState = { ...old.lastState };
    }
    statuses.set(container.name, status);
  }

  // A container that was running and that the runtime no longer has did stop, even without an exit code:
  // shown as terminated last, so that the pod does not fall back to pending.
  for (const container of containers) {
    if (podStatus.containerStatuses.some((cs) => cs.name === container.name)) continue;
    const old = oldStatuses.get(container.name);
    if (old === undefined || old.state?.terminated || !old.state?.running) continue;
    const status = statuses.get(container.name) as v1.ContainerStatus;
    if (status.state?.waiting?.reason !== defaultWaitingReason || status.lastState?.terminated) continue;
    status.lastState = {
      terminated: {
        reason: ContainerReasonStatusUnknown,
        message:
          "The container could not be located when the pod was deleted.  The container used to be Running",
        exitCode: 137,
      },
    };
    // Not being deleted, the pod will start it again.
    if (!pod.metadata?.deletionTimestamp) status.restartCount += 1;
  }

  // The newest instance of each container gives its state, the one before its last state.
  const seen = new Map<string, number>();
  const newestFirst = [...podStatus.containerStatuses].sort(
    (a, b) => b.createdAt.getTime() - a.createdAt.getTime(),
  );
  for (const cs of newestFirst) {
    const existing = statuses.get(cs.name);
    // Not a container of this list (or the sandbox).
    if (existing === undefined) continue;
    const count = seen.get(cs.name) ?? 0;
    if (count >= 2) continue;
    const status = convertContainerStatus(cs, oldStatuses.get(cs.name));
    if (count === 0) statuses.set(cs.name, status);
    else existing.lastState = status.state;
    seen.set(cs.name, count + 1);
  }

  // A container to be restarted whose last start failed waits, with the failure as its reason.
  for (const container of containers) {
    if (isInitContainer) {
      // An init container that succeeded is never restarted.
      const s = findContainerStatusByName(podStatus, container.name);
      if (s?.state === ContainerState.Exited && s.exitCode === 0) continue;
    }
    if (!shouldContainerBeRestarted(container, pod, podStatus)) continue;
    const reason = reasons.get(container.name);
    if (reason === undefined) continue;
    const status = statuses.get(container.name) as v1.ContainerStatus;
    if (status.state?.terminated) status.lastState = status.state;
    status.state = { waiting: omitEmpty({ reason: reason.reason, message: reason.message }) };
  }

  // Clients expect a fixed order: init containers in spec order, the others by name.
  if (isInitContainer) {
    return (pod.spec?.initContainers ?? []).flatMap((c) => statuses.get(c.name) ?? []);
  }
  return [...statuses.values()].sort((a, b) => compareStrings(a.name, b.name));
}

function convertContainerStatus(cs: Status, oldStatus: v1.ContainerStatus | undefined): v1.ContainerStatus {
  const cid = containerIDString(cs.id);
  const status: v1.ContainerStatus = {
    name: cs.name,
    state: {},
    lastState: {},
    ready: false,
    restartCount: cs.restartCount,
    image: cs.image,
    imageID: cs.imageID,
    containerID: cid,
  };
  if (cs.state === ContainerState.Running) {
    status.state = { running: omitEmpty({ startedAt: timeOf(cs.startedAt) }) };
  } else if (cs.state === ContainerState.Created) {
    // Created but not started: waiting to run.
    status.state = { waiting: {} };
  } else if (cs.state === ContainerState.Exited) {
    status.state = {
      terminated: omitEmpty({
        exitCode: cs.exitCode,
        reason: cs.reason,
        message: cs.message,
        startedAt: timeOf(cs.startedAt),
        finishedAt: timeOf(cs.finishedAt),
        containerID: cid,
      }),
    };
  } else if (oldStatus?.state?.running) {
    // It ran and the runtime lost track of it: it stopped, and ran once more than counted. Waiting
    // would read as never having run, and a run-once pod could run twice.
    status.state = {
      terminated: {
        reason: ContainerReasonStatusUnknown,
        message: "The container could not be located when the pod was terminated",
        exitCode: 137,
      },
    };
    status.restartCount = oldStatus.restartCount + 1;
  } else {
    // Any other unknown state reads as waiting, which makes the pod pending.
    status.state = { waiting: {} };
  }
  return status;
}

/**
 * getPhase: Pending until every regular init container succeeded and every container started;
 * Running while any container runs (or, with restarts allowed, all will run again); Succeeded or
 * Failed once all have stopped for good. Restartable init containers count only while they run.
 */
export function getPhase(pod: v1.Pod, info: v1.ContainerStatus[], podIsTerminal: boolean): string {
  const spec = pod.spec;
  const statusOf = (name: string) => info.find((s) => s.name === name);
  let pendingInitialization = 0;
  let failedInitialization = 0;
  for (const container of spec?.initContainers ?? []) {
    if (isRestartableInitContainer(container)) continue;
    const cs = statusOf(container.name);
    if (cs === undefined || cs.state?.running) {
      pendingInitialization++;
    } else if (cs.state?.terminated) {
      if (cs.state.terminated.exitCode !== 0) failedInitialization++;
    } else if (cs.state?.waiting && cs.lastState?.terminated) {
      if (cs.lastState.terminated.exitCode !== 0) failedInitialization++;
    } else {
      pendingInitialization++;
    }
  }

  let unknown = 0;
  let running = 0;
  let waiting = 0;
  let stopped = 0;
  let succeeded = 0;
  for (const container of spec?.initContainers ?? []) {
    if (!isRestartableInitContainer(container)) continue;
    const cs = statusOf(container.name);
    if (cs === undefined) {
      unknown++;
    } else if (cs.state?.running) {
      if (!cs.started) pendingInitialization++;
      running++;
    } else if (cs.state?.terminated) {
      // A stopped restartable init container does not decide the phase.
    } else if (cs.state?.waiting) {
      if (!cs.lastState?.terminated) {
        pendingInitialization++;
        waiting++;
      }
    } else {
      pendingInitialization++;
      unknown++;
    }
  }
  for (const container of spec?.containers ?? []) {
    const cs = statusOf(container.name);
    if (cs === undefined) {
      unknown++;
    } else if (cs.state?.running) {
      running++;
    } else if (cs.state?.terminated) {
      stopped++;
      if (cs.state.terminated.exitCode === 0) succeeded++;
    } else if (cs.state?.waiting) {
      if (cs.lastState?.terminated) stopped++;
      else waiting++;
    } else {
      unknown++;
    }
  }

  const restartPolicy = spec?.restartPolicy ?? "Always";
  if (failedInitialization > 0 && restartPolicy === "Never") return PodPhase.Failed;
  if (pendingInitialization > 0 || waiting > 0) return PodPhase.Pending;
  if (running > 0 && unknown === 0) return PodPhase.Running;
  if (running === 0 && stopped > 0 && unknown === 0) {
    // A terminal pod is not restarted whatever its policy (static pods excepted, for now upstream too).
    if (podIsTerminal && !isStaticPod(pod))
      return stopped === succeeded ? PodPhase.Succeeded : PodPhase.Failed;
    if (restartPolicy === "Always") return PodPhase.Running;
    if (stopped === succeeded) return PodPhase.Succeeded;
    if (restartPolicy === "Never") return PodPhase.Failed;
    // OnFailure, with a failure being restarted.
    return PodPhase.Running;
  }
  return PodPhase.Pending;
}

/**
 * The prober manager's UpdatePodStatus: a running container has started once its startup probe
 * succeeded (at once without one), and a started one is ready once its readiness probe succeeded
 * (at once without one). A regular init container is ready once it exited 0.
 */
export function updatePodStatusFromProbes(
  pod: v1.Pod,
  status: v1.PodStatus,
  probes: Pick<GenerateDeps, "readinessManager" | "startupManager">,
): void {
  const spec = pod.spec;
  // The prober runs a worker per probe of each regular container and restartable init container.
  const probed = (name: string, kind: "readinessProbe" | "startupProbe") => {
    const c =
      spec?.containers.find((x) => x.name === name) ??
      spec?.initContainers?.find((x) => x.name === name && isRestartableInitContainer(x));
    return c?.[kind] !== undefined;
  };
  const isStarted = (cs: v1.ContainerStatus) => {
    if (!cs.state?.running) return false;
    const result = probes.startupManager.get(idOf(cs));
    if (result !== undefined) return result === "success";
    return !probed(cs.name, "startupProbe");
  };
  const isReady = (cs: v1.ContainerStatus) => {
    if (!cs.state?.running) return false;
    if (probes.readinessManager.get(idOf(cs)) === "success") return true;
    return !probed(cs.name, "readinessProbe");
  };
  for (const cs of status.containerStatuses ?? []) {
    cs.started = isStarted(cs);
    if (cs.started) cs.ready = isReady(cs);
  }
  for (const [i, cs] of (status.initContainerStatuses ?? []).entries()) {
    cs.started = isStarted(cs);
    const container = spec?.initContainers?.[i];
    if (container === undefined || container.name !== cs.name) continue;
    if (!isRestartableInitContainer(container)) {
      if (cs.state?.terminated?.exitCode === 0) cs.ready = true;
      continue;
    }
    if (cs.started) cs.ready = isReady(cs);
  }
}

function idOf(cs: v1.ContainerStatus): ContainerID {
  try {
    return parseContainerID(cs.containerID ?? "");
  } catch {
    return { type: "", id: "" };
  }
}

/** GenerateContainersReadyCondition: true once every regular (and restartable init) container is ready. */
export function generateContainersReadyCondition(
  spec: v1.PodSpec,
  containerStatuses: v1.ContainerStatus[] | undefined,
  podPhase: string,
): v1.PodCondition {
  if (containerStatuses === undefined) {
    return { type: ContainersReady, status: "False", reason: UnknownContainerStatuses };
  }
  const unknown: string[] = [];
  const unready: string[] = [];
  const containers = [...(spec.initContainers ?? []).filter(isRestartableInitContainer), ...spec.containers];
  for (const container of containers) {
    const cs = containerStatuses.find((s) => s.name === container.name);
    if (cs === undefined) unknown.push(container.name);
    else if (!cs.ready) unready.push(container.name);
  }
  // A finished pod's containers are not ready, terminating or not.
  if ((podPhase === PodPhase.Succeeded && unknown.length === 0) || podPhase === PodPhase.Failed) {
    return { type: ContainersReady, status: "False", reason: terminalReason(podPhase) };
  }
  const messages: string[] = [];
  if (unknown.length > 0) messages.push(`containers with unknown status: ${goList(unknown)}`);
  if (unready.length > 0) messages.push(`containers with unready status: ${goList(unready)}`);
  if (messages.length > 0) {
    return {
      type: ContainersReady,
      status: "False",
      reason: ContainersNotReady,
      message: messages.join(", "),
    };
  }
  return { type: ContainersReady, status: "True" };
}

/** GeneratePodReadyCondition: ContainersReady, and then every readiness gate's condition true. */
export function generatePodReadyCondition(
  spec: v1.PodSpec,
  conditions: v1.PodCondition[],
  containerStatuses: v1.ContainerStatus[] | undefined,
  podPhase: string,
): v1.PodCondition {
  const containersReady = generateContainersReadyCondition(spec, containerStatuses, podPhase);
  if (containersReady.status !== "True") return { ...containersReady, type: PodReady };
  const messages: string[] = [];
  for (const gate of spec.readinessGates ?? []) {
    const c = conditions.find((x) => x.type === gate.conditionType);
    if (c === undefined) {
      messages.push(`corresponding condition of pod readiness gate "${gate.conditionType}" does not exist.`);
    } else if (c.status !== "True") {
      messages.push(
        `the status of pod readiness gate "${gate.conditionType}" is not "True", but ${c.status}`,
      );
    }
  }
  if (messages.length > 0) {
    return { type: PodReady, status: "False", reason: ReadinessGatesNotReady, message: messages.join(", ") };
  }
  return { type: PodReady, status: "True" };
}

/** GeneratePodInitializedCondition: true once every regular init container succeeded and every restartable one started. */
export function generatePodInitializedCondition(
  spec: v1.PodSpec,
  containerStatuses: v1.ContainerStatus[] | undefined,
  podPhase: string,
): v1.PodCondition {
  const initContainers = spec.initContainers ?? [];
  if (containerStatuses === undefined && initContainers.length > 0) {
    return { type: PodInitialized, status: "False", reason: UnknownContainerStatuses };
  }
  const unknown: string[] = [];
  const incomplete: string[] = [];
  for (const container of initContainers) {
    const cs = containerStatuses?.find((s) => s.name === container.name);
    if (cs === undefined) unknown.push(container.name);
    else if (isRestartableInitContainer(container) ? !cs.started : !cs.ready) incomplete.push(container.name);
  }
  if (podPhase === PodPhase.Succeeded && unknown.length === 0) {
    return { type: PodInitialized, status: "True", reason: PodCompleted };
  }
  const messages: string[] = [];
  if (unknown.length > 0) messages.push(`containers with unknown status: ${goList(unknown)}`);
  if (incomplete.length > 0) messages.push(`containers with incomplete status: ${goList(incomplete)}`);
  if (messages.length > 0) {
    return {
      type: PodInitialized,
      status: "False",
      reason: ContainersNotInitialized,
      message: messages.join(", "),
    };
  }
  return { type: PodInitialized, status: "True" };
}

/**
 * What the status manager does to a generated status before keeping it (updateStatusInternal): refuses
 * a container leaving the terminated state its restart policy keeps it in (FailedPrecondition), carries
 * each condition's lastTransitionTime over while its status is unchanged (`now` otherwise), keeps the
 * first startTime, and normalizes (times to seconds, termination messages within 12 KiB per pod,
 * statuses in order). `cachedStatus` is the status manager's last one; without it the pod's own.
 */
export function prepareStatusUpdate(
  pod: v1.Pod,
  status: v1.PodStatus,
  cachedStatus: v1.PodStatus | undefined,
  now: Date,
): v1.PodStatus {
  const oldStatus = cachedStatus ?? pod.status ?? {};
  checkContainerStateTransition(oldStatus, status, pod.spec);
  const s = structuredClone(status);
  for (const type of [
    ContainersReady,
    PodReady,
    PodInitialized,
    PodReadyToStartContainers,
    PodScheduled,
    DisruptionTarget,
  ]) {
    const condition = s.conditions?.find((c) => c.type === type);
    if (condition === undefined) continue;
    const old = oldStatus.conditions?.find((c) => c.type === type);
    condition.lastTransitionTime =
      old !== undefined && old.status === condition.status && old.lastTransitionTime
        ? old.lastTransitionTime
        : rfc3339(now);
  }
  s.startTime = oldStatus.startTime || s.startTime || rfc3339(now);
  return normalizeStatus(pod, s);
}

/** checkContainerStateTransition: with restartPolicy Never (or OnFailure after success) terminated is final. */
function checkContainerStateTransition(
  oldStatus: v1.PodStatus,
  newStatus: v1.PodStatus,
  spec: v1.PodSpec | undefined,
): void {
  const restartPolicy = spec?.restartPolicy ?? "Always";
  if (restartPolicy === "Always") return;
  const check = (
    olds: v1.ContainerStatus[] | undefined,
    news: v1.ContainerStatus[] | undefined,
    skip: (name: string) => boolean,
  ) => {
    for (const old of olds ?? []) {
      const terminated = old.state?.terminated;
      if (terminated === undefined || skip(old.name)) continue;
      if (terminated.exitCode !== 0 && restartPolicy === "OnFailure") continue;
      const next = news?.find((n) => n.name === old.name);
      if (next !== undefined && !next.state?.terminated) {
        throw failedPrecondition(
          `terminated container ${next.name} attempted illegal transition to non-terminated state`,
        );
      }
    }
  };
  check(oldStatus.containerStatuses, newStatus.containerStatuses, () => false);
  // Restartable init containers always may restart.
  const restartable = new Set(
    (spec?.initContainers ?? []).filter(isRestartableInitContainer).map((c) => c.name),
  );
  check(oldStatus.initContainerStatuses, newStatus.initContainerStatuses, (name) => restartable.has(name));
}

/** normalizeStatus. */
function normalizeStatus(pod: v1.Pod, status: v1.PodStatus): v1.PodStatus {
  const spec = pod.spec;
  const count =
    (spec?.containers.length ?? 0) +
    (spec?.initContainers?.length ?? 0) +
    (spec?.ephemeralContainers?.length ?? 0);
  const bytesPerStatus =
    count > 0 ? Math.floor(MaxPodTerminationMessageLogLength / count) : MaxPodTerminationMessageLogLength;
  const normalizeState = (state: v1.ContainerState | undefined) => {
    if (state?.running?.startedAt) state.running.startedAt = normalizeTime(state.running.startedAt);
    const t = state?.terminated;
    if (t === undefined) return;
    if (t.startedAt) t.startedAt = normalizeTime(t.startedAt);
    if (t.finishedAt) t.finishedAt = normalizeTime(t.finishedAt);
    if (t.message !== undefined && Buffer.byteLength(t.message) > bytesPerStatus) {
      t.message = Buffer.from(t.message).subarray(0, bytesPerStatus).toString("utf8");
    }
  };
  if (status.startTime) status.startTime = normalizeTime(status.startTime);
  for (const c of status.conditions ?? []) {
    if (c.lastProbeTime) c.lastProbeTime = normalizeTime(c.lastProbeTime);
    if (c.lastTransitionTime) c.lastTransitionTime = normalizeTime(c.lastTransitionTime);
  }
  for (const cs of [...(status.containerStatuses ?? []), ...(status.initContainerStatuses ?? [])]) {
    normalizeState(cs.state);
    normalizeState(cs.lastState);
  }
  status.containerStatuses?.sort((a, b) => compareStrings(a.name, b.name));
  if (status.initContainerStatuses) {
    const order = new Map((spec?.initContainers ?? []).map((c, i) => [c.name, i]));
    status.initContainerStatuses.sort((a, b) => (order.get(a.name) ?? 0) - (order.get(b.name) ?? 0));
  }
  return status;
}

/** A time as the API writes it (metav1.Time): RFC 3339 in UTC, whole seconds. */
export function rfc3339(d: Date): string {
  return `${d.toISOString().slice(0, 19)}Z`;
}

function normalizeTime(t: string): string {
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? t : rfc3339(d);
}

function timeOf(d: Date | undefined): string | undefined {
  return d === undefined ? undefined : rfc3339(d);
}

function isTerminal(phase: string | undefined): phase is "Succeeded" | "Failed" {
  return phase === PodPhase.Succeeded || phase === PodPhase.Failed;
}

function terminalReason(phase: string): string {
  return phase === PodPhase.Failed ? PodFailed : PodCompleted;
}

function isStaticPod(pod: v1.Pod): boolean {
  const source = pod.metadata?.annotations?.[ConfigSourceAnnotationKey];
  return source !== undefined && source !== "api";
}

function replaceOrAppendPodCondition(conditions: v1.PodCondition[], condition: v1.PodCondition): void {
  const i = conditions.findIndex((c) => c.type === condition.type);
  if (i >= 0) conditions[i] = condition;
  else conditions.push(condition);
}

function ipFamily(ip: string | undefined): 4 | 6 | 0 {
  return ip === undefined ? 0 : isIPv4(ip) ? 4 : isIPv6(ip) ? 6 : 0;
}

/** A list as Go's %s prints a []string: "[a b]". */
function goList(names: string[]): string {
  return `[${names.join(" ")}]`;
}

/** Go's byte-wise string order (the same as UTF-16 order for the names the API allows). */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The API's JSON leaves empty strings and unset times out (omitempty). */
function omitEmpty<T extends object>(fields: T): T {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined && v !== "")) as T;
}
