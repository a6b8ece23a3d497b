// pkg/kubelet/kuberuntime/kuberuntime_manager.go computePodActions and podActions, with
// kuberuntime_container.go findNextInitContainerToRun / computeInitContainerActions and
// kuberuntime/util PodSandboxChanged (kubelet 1.28): syncPod's first step, deciding from the pod spec
// and what the runtime reports which sandbox and containers to kill and which to start. Pure: the
// probe results are looked up through the interfaces passed in.
//
// Not covered: InPlacePodVerticalScaling (alpha, off by default). With it off, as here, a change to
// a container's resources changes its hash and restarts it; berth does not resize in place. The
// CPU manager's post-stop hook upstream calls from here is left to the caller.
import type { Container, Pod } from "kubernetes-types/core/v1.js";
import { NamespaceMode, PodSandboxState } from "../../cri/gen/runtime/v1/api_pb.js";
import { hashContainer } from "../container/hash.js";
import { shouldContainerBeRestarted } from "../container/helpers.js";
import {
  type ContainerID,
  ContainerState,
  containerIDString,
  findContainerStatusByName,
  type PodStatus,
  type Status,
} from "../container/runtime.js";
import type { FeatureGates } from "../features/features.js";

/** Why a container is killed, for the event and the container's status (upstream containerKillReason). */
export const reasonStartupProbe = "StartupProbe";
export const reasonLivenessProbe = "LivenessProbe";
export const reasonFailedPostStartHook = "FailedPostStartHook";
export const reasonUnknown = "Unknown";
export type ContainerKillReason =
  | typeof reasonStartupProbe
  | typeof reasonLivenessProbe
  | typeof reasonFailedPostStartHook
  | typeof reasonUnknown
  | "";

/** A container to kill, with the spec it runs and why. */
export interface ContainerToKillInfo {
  id: ContainerID;
  container: Container;
  name: string;
  message: string;
  reason: ContainerKillReason;
}

/** What syncPod is to do for a pod. */
export interface PodActions {
  /** Stop every container of the pod and its sandbox. */
  killPod: boolean;
  /** Create a new sandbox; when killPod is set too, the old init containers are purged first. */
  createSandbox: boolean;
  /** The existing sandbox, which containersToStart go into; "" when there is none to reuse. */
  sandboxID: string;
  /** The attempt number for the sandbox to create. */
  attempt: number;
  /** The next init container to run (without the SidecarContainers gate). */
  nextInitContainerToStart?: Container;
  /** Indexes into spec.initContainers to start, in order (with the SidecarContainers gate). */
  initContainersToStart: number[];
  /** Indexes into spec.containers to start. */
  containersToStart: number[];
  /** Containers to kill, keyed by containerIDString of their id. */
  containersToKill: Map<string, ContainerToKillInfo>;
  /** Indexes into spec.ephemeralContainers to start. */
  ephemeralContainersToStart: number[];
}

/** A probe's latest result (prober/results); none until the probe has run once. */
export type ProbeResult = "success" | "failure" | "unknown";

export interface ProbeResults {
  get(id: ContainerID): ProbeResult | undefined;
}

/** What computePodActions reads besides the pod and its status. */
export interface PodActionsDeps {
  featureGates: Pick<FeatureGates, "SidecarContainers">;
  livenessManager: ProbeResults;
  startupManager: ProbeResults;
}

/** Decides what syncPod does to bring the pod's runtime state to its spec. */
export function computePodActions(pod: Pod, podStatus: PodStatus, deps: PodActionsDeps): PodActions {
  const spec = pod.spec ?? { containers: [] };
  const initContainers = spec.initContainers ?? [];
  const sidecars = deps.featureGates.SidecarContainers;
  const sandbox = podSandboxChanged(pod, podStatus);
  const changes: PodActions = {
    killPod: sandbox.changed,
    createSandbox: sandbox.changed,
    sandboxID: sandbox.sandboxID,
    attempt: sandbox.attempt,
    initContainersToStart: [],
    containersToStart: [],
    containersToKill: new Map(),
    ephemeralContainersToStart: [],
  };

  // A new sandbox means starting over: everything is killed and created again, init containers first.
  if (sandbox.changed) {
    // A pod that never restarts and already ran its containers is done: no new sandbox just to
    // tear it down. With no container status at all nothing ever ran, so creating one is retried.
    if (!shouldRestartOnFailure(pod) && sandbox.attempt !== 0 && podStatus.containerStatuses.length !== 0) {
      changes.createSandbox = false;
      return changes;
    }
    const containersToStart: number[] = [];
    spec.containers.forEach((c, idx) => {
      if (spec.restartPolicy === "OnFailure" && containerSucceeded(c, podStatus)) return;
      containersToStart.push(idx);
    });
    // Initialized and nothing left to run: no sandbox, the pod is only killed.
    if (containersToStart.length === 0 && findNextInitContainerToRun(pod, podStatus).done) {
      changes.createSandbox = false;
      return changes;
    }
    if (initContainers.length !== 0) {
      if (sidecars) changes.initContainersToStart = [0];
      else changes.nextInitContainerToStart = initContainers[0];
      return changes;
    }
    changes.containersToStart = containersToStart;
    return changes;
  }

  // Ephemeral containers start even while the pod initializes, and never restart.
  (spec.ephemeralContainers ?? []).forEach((c, i) => {
    if (findContainerStatusByName(podStatus, c.name) === undefined)
      changes.ephemeralContainersToStart.push(i);
  });

  if (!sidecars) {
    const { status: lastInitStatus, next, done } = findNextInitContainerToRun(pod, podStatus);
    if (!done) {
      if (next !== undefined) {
        const initFailed = lastInitStatus !== undefined && isInitContainerFailed(lastInitStatus);
        if (initFailed && !shouldRestartOnFailure(pod)) {
          changes.killPod = true;
        } else {
          // An instance in unknown state may still run: kill it before starting another.
          if (lastInitStatus?.state === ContainerState.Unknown) {
            addKill(changes, lastInitStatus, next, {
              message: `Init container is in ${JSON.stringify(lastInitStatus.state)} state, try killing it before restart`,
              reason: reasonUnknown,
            });
          }
          changes.nextInitContainerToStart = next;
        }
      }
      // Initialization failed or is still running; regular containers wait.
      return changes;
    }
  } else {
    const hasInitialized = computeInitContainerActions(pod, podStatus, changes, deps);
    if (changes.killPod || !hasInitialized) return changes;
  }

  // Running containers that stay as they are.
  let keepCount = 0;
  spec.containers.forEach((container, idx) => {
    const status = findContainerStatusByName(podStatus, container.name);
    if (status === undefined || status.state !== ContainerState.Running) {
      if (shouldContainerBeRestarted(container, pod, podStatus)) {
        changes.containersToStart.push(idx);
        // It may still run; never have two instances of one container.
        if (status?.state === ContainerState.Unknown) {
          addKill(changes, status, container, {
            message: `Container is in ${JSON.stringify(status.state)} state, try killing it before restart`,
            reason: reasonUnknown,
          });
        }
      }
      return;
    }
    // Running: kill it if its spec changed or a probe failed.
    let message: string;
    let reason: ContainerKillReason = "";
    let restart = shouldRestartOnFailure(pod);
    if (containerChanged(container, status)) {
      message = `Container ${container.name} definition changed`;
      // A new spec runs whatever the restart policy says.
      restart = true;
    } else if (deps.livenessManager.get(status.id) === "failure") {
      message = `Container ${container.name} failed liveness probe`;
      reason = reasonLivenessProbe;
    } else if (deps.startupManager.get(status.id) === "failure") {
      message = `Container ${container.name} failed startup probe`;
      reason = reasonStartupProbe;
    } else {
      keepCount++;
      return;
    }
    // A container that will run again does not take the pod down with it.
    if (restart) {
      message = `${message}, will be restarted`;
      changes.containersToStart.push(idx);
    }
    addKill(changes, status, container, { message, reason });
  });

  // Nothing running and nothing to start: the pod is finished.
  if (keepCount === 0 && changes.containersToStart.length === 0) {
    changes.killPod = true;
    // Sidecars must not keep a finished pod alive.
    if (sidecars) changes.initContainersToStart = [];
  }
  return changes;
}

/**
 * Whether the pod needs a new sandbox: none exists, more than one is ready, the latest is not ready,
 * its network namespace mode no longer matches, or it has no IP while the pod is not on the host
 * network. Also the attempt number for the new one, and the id of the sandbox to reuse or replace.
 */
export function podSandboxChanged(
  pod: Pod,
  podStatus: PodStatus,
): { changed: boolean; attempt: number; sandboxID: string } {
  const latest = podStatus.sandboxStatuses[0];
  if (latest === undefined) return { changed: true, attempt: 0, sandboxID: "" };
  const next = (latest.metadata?.attempt ?? 0) + 1;
  const ready = podStatus.sandboxStatuses.filter((s) => s.state === PodSandboxState.SANDBOX_READY).length;
  if (ready > 1 || latest.state !== PodSandboxState.SANDBOX_READY) {
    return { changed: true, attempt: next, sandboxID: latest.id };
  }
  // A sandbox in the wrong kind of network namespace cannot be reused, so nothing of it is kept.
  const network = latest.linux?.namespaces?.options?.network ?? NamespaceMode.POD;
  if (network !== networkNamespaceForPod(pod)) return { changed: true, attempt: next, sandboxID: "" };
  if (pod.spec?.hostNetwork !== true && latest.network !== undefined && latest.network.ip === "") {
    return { changed: true, attempt: next, sandboxID: latest.id };
  }
  return { changed: false, attempt: latest.metadata?.attempt ?? 0, sandboxID: latest.id };
}

/** NODE for a pod on the host network, POD otherwise (kuberuntime/util NetworkNamespaceForPod). */
export function networkNamespaceForPod(pod: Pod): NamespaceMode {
  return pod.spec?.hostNetwork === true ? NamespaceMode.NODE : NamespaceMode.POD;
}

/** A sidecar: an init container with restartPolicy Always (pkg/kubelet/types IsRestartableInitContainer). */
export function isRestartableInitContainer(container: Container): boolean {
  return container.restartPolicy === "Always";
}

function shouldRestartOnFailure(pod: Pod): boolean {
  return pod.spec?.restartPolicy !== "Never";
}

function containerSucceeded(c: Container, podStatus: PodStatus): boolean {
  const status = findContainerStatusByName(podStatus, c.name);
  if (status === undefined || status.state === ContainerState.Running) return false;
  return status.exitCode === 0;
}

function containerChanged(container: Container, status: Status): boolean {
  return hashContainer(container) !== status.hash;
}

/** OOM-killed, exited non-zero, or lost track of. */
function isInitContainerFailed(status: Status): boolean {
  if (status.reason === "OOMKilled") return true;
  if (status.state === ContainerState.Exited && status.exitCode !== 0) return true;
  return status.state === ContainerState.Unknown;
}

function addKill(
  changes: PodActions,
  status: Status,
  container: Container,
  why: { message: string; reason: ContainerKillReason },
): void {
  changes.containersToKill.set(containerIDString(status.id), {
    id: status.id,
    container,
    name: container.name,
    ...why,
  });
}

/**
 * Without the SidecarContainers gate: the init container to run next. `status` is set when an init
 * container failed (then `next` is that one again); `done` when all have completed.
 */
function findNextInitContainerToRun(
  pod: Pod,
  podStatus: PodStatus,
): { status?: Status; next?: Container; done: boolean } {
  const spec = pod.spec ?? { containers: [] };
  const initContainers = spec.initContainers ?? [];
  if (initContainers.length === 0) return { done: true };

  // A running regular container means initialization completed once, even if the runtime has since
  // removed the init containers; running them again would be wrong.
  for (const c of spec.containers) {
    if (findContainerStatusByName(podStatus, c.name)?.state === ContainerState.Running) return { done: true };
  }

  // The last one that failed.
  for (let i = initContainers.length - 1; i >= 0; i--) {
    const c = initContainers[i] as Container;
    const status = findContainerStatusByName(podStatus, c.name);
    if (status !== undefined && isInitContainerFailed(status)) return { status, next: c, done: false };
  }

  // None failed: continue after the last one that ran. Completed ones may have been removed, so
  // only the last one with a status counts.
  for (let i = initContainers.length - 1; i >= 0; i--) {
    const status = findContainerStatusByName(podStatus, (initContainers[i] as Container).name);
    if (status === undefined) continue;
    if (status.state === ContainerState.Running) return { done: false };
    if (status.state === ContainerState.Exited) {
      if (i === initContainers.length - 1) return { done: true };
      return { next: initContainers[i + 1], done: false };
    }
  }
  return { next: initContainers[0], done: false };
}

/**
 * With the SidecarContainers gate: adds to `changes` the init containers to start (the next one to
 * initialize, and any sidecar to restart) and the sidecars to kill. Returns whether the pod has
 * initialized, i.e. whether its regular containers may run.
 */
function computeInitContainerActions(
  pod: Pod,
  podStatus: PodStatus,
  changes: PodActions,
  deps: PodActionsDeps,
): boolean {
  const spec = pod.spec ?? { containers: [] };
  const initContainers = spec.initContainers ?? [];
  if (initContainers.length === 0) return true;

  // As in findNextInitContainerToRun: a running regular container means initialization completed
  // once; from then on only sidecars are kept running.
  let podHasInitialized = spec.containers.some(
    (c) => findContainerStatusByName(podStatus, c.name)?.state === ContainerState.Running,
  );
  // Whether the init containers before the current one have initialized.
  let isPreviouslyInitialized = podHasInitialized;
  const restartOnFailure = shouldRestartOnFailure(pod);
  const toStart: number[] = [];

  // Backwards: completed init containers may have been removed, so the last one with a status tells
  // how far initialization got. The ones before it only matter if they are sidecars.
  for (let i = initContainers.length - 1; i >= 0; i--) {
    const container = initContainers[i] as Container;
    const restartable = isRestartableInitContainer(container);
    const status = findContainerStatusByName(podStatus, container.name);
    if (status === undefined) {
      // An initialized sidecar whose status is gone is started again.
      if (isPreviouslyInitialized && restartable) toStart.push(i);
      continue;
    }
    if (isPreviouslyInitialized && !restartable) continue;

    switch (status.state) {
      case ContainerState.Created:
        // Wait for it to start.
        break;
      case ContainerState.Running: {
        // A regular init container runs to completion; a sidecar counts once it has started.
        if (!restartable) break;
        if (container.startupProbe !== undefined) {
          const startup = deps.startupManager.get(status.id);
          // Not probed yet, or still starting: wait.
          if (startup === undefined) break;
          if (startup !== "success") {
            if (startup === "failure") {
              addKill(changes, status, container, {
                message: `Init container ${container.name} failed startup probe`,
                reason: reasonStartupProbe,
              });
              toStart.push(i);
            }
            break;
          }
        }
        if (i === initContainers.length - 1) podHasInitialized = true;
        else if (!isPreviouslyInitialized) toStart.push(i + 1);
        // Liveness does not hold back the next init container, it only restarts this one.
        if (container.livenessProbe !== undefined && deps.livenessManager.get(status.id) === "failure") {
          addKill(changes, status, container, {
            message: `Init container ${container.name} failed liveness probe`,
            reason: reasonLivenessProbe,
          });
          toStart.push(i);
        }
        break;
      }
      case ContainerState.Exited:
        // A sidecar always restarts, whatever the pod's restart policy.
        if (restartable) {
          toStart.push(i);
        } else if (isInitContainerFailed(status)) {
          if (!restartOnFailure) {
            changes.killPod = true;
            changes.initContainersToStart = [];
            return false;
          }
          toStart.push(i);
        } else if (i === initContainers.length - 1) {
          podHasInitialized = true;
        } else {
          toStart.push(i + 1);
        }
        break;
      default: {
        // Unknown: it may still run, so kill it before running it again. A regular init container
        // in this state counts as failed.
        if (!restartable && !restartOnFailure) {
          changes.killPod = true;
          changes.initContainersToStart = [];
          return false;
        }
        addKill(changes, status, container, {
          message: `Init container is in ${JSON.stringify(status.state)} state, try killing it before restart`,
          reason: reasonUnknown,
        });
        toStart.push(i);
      }
    }
    isPreviouslyInitialized = true;
  }

  // No init container has run yet: start with the first.
  if (!isPreviouslyInitialized) toStart.push(0);
  // Collected backwards; start them in spec order.
  changes.initContainersToStart.push(...toStart.reverse());
  return podHasInitialized;
}
