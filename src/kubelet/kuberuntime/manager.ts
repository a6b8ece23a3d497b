// kubeGenericRuntimeManager (pkg/kubelet/kuberuntime/kuberuntime_manager.go): the kubelet's
// side of CRI. syncPod carries out what computePodActions decided, in upstream's eight
// numbered steps; killPod stops a pod's containers and sandboxes. The per-object work lives
// beside it as upstream has it: startContainer and killContainer in container.ts,
// createPodSandbox in sandbox.ts.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Container, Pod } from "kubernetes-types/core/v1.js";
import {
  type PodSandboxConfigSchema,
  PodSandboxState,
  type PodSandboxStatus,
} from "../../cri/gen/runtime/v1/api_pb.js";
import type { ImageServiceClient } from "../../cri/remote-image.js";
import type { RuntimeServiceClient } from "../../cri/remote-runtime.js";
import { isNotFound, messageOf } from "../../lib/errdefs.js";
import type { Logger } from "../../lib/log.js";
import type { Backoff } from "../container/helpers.js";
import { doBackOff } from "../container/helpers.js";
import {
  buildContainerID,
  type ContainerID,
  ContainerState,
  containerIDString,
  type PodStatus,
} from "../container/runtime.js";
import {
  ErrConfigPodSandbox,
  ErrCreatePodSandbox,
  ErrKillContainer,
  ErrKillPodSandbox,
  PodSyncResult,
  SyncAction,
  SyncResult,
} from "../container/sync-result.js";
import { type EventRecorder, Reason } from "../events/event-recorder.js";
import type { ImageManager } from "../images/image-manager.js";
import type { ContainerLogManager } from "../logs/container-log-manager.js";
import type { KubeletMetrics } from "../metrics/metrics.js";
import type { LocalObjects, VolumeInfo } from "./container.js";
import { killContainer, startContainer } from "./container.js";
import { computePodActions, isRestartableInitContainer, type ProbeResults } from "./pod-actions.js";
import { determinePodSandboxIPs, type RuntimePod } from "./pod-status.js";
import { createPodSandbox, type DNSSettings, formatPod, generatePodSandboxConfig } from "./sandbox.js";
import type { KubeRuntimeSettings } from "./settings.js";

type PodSandboxConfig = MessageInitShape<typeof PodSandboxConfigSchema>;

/** What the kubelet knows of the node and of the pod's host side (upstream's runtimeHelper). */
export interface KubeletHost {
  /** <root-dir>/pods/<uid>. */
  podDir(pod: Pod): string;
  /** The pod's volumes as the volume manager set them up. */
  volumes(pod: Pod): Record<string, VolumeInfo>;
  localObjects(namespace: string): LocalObjects;
  hostIPs: string[];
  nodeAllocatable: Record<string, string>;
  nodeEtcHosts: string;
  dns: DNSSettings;
  /** The pod's cgroup parent from the pod container manager. */
  cgroupParent(pod: Pod): string;
}

export interface RuntimeManagerDeps {
  runtime: RuntimeServiceClient;
  images: ImageServiceClient;
  /** The runtime's name from Version: the type of every ContainerID ("containerd", "berth"). */
  runtimeName: string;
  imageManager: ImageManager;
  settings: KubeRuntimeSettings;
  host: KubeletHost;
  recorder: EventRecorder;
  /** kubelet_started_pods_total and kubelet_started_containers_total, with their error counts. */
  metrics: Pick<
    KubeletMetrics,
    "startedPodsTotal" | "startedPodsErrorsTotal" | "startedContainersTotal" | "startedContainersErrorsTotal"
  >;
  livenessManager: ProbeResults;
  startupManager: ProbeResults;
  /** Removes a container's log files with the container. */
  logManager: ContainerLogManager;
  log: Logger;
}

/** ConvertPodStatusToRunningPod: the running containers and every sandbox of a status. */
export function runningPodOf(s: PodStatus, runtimeName: string): RuntimePod {
  return {
    id: s.id,
    name: s.name,
    namespace: s.namespace,
    createdAt: 0n,
    containers: s.containerStatuses
      .filter((c) => c.state === ContainerState.Running)
      .map((c) => ({
        id: c.id,
        name: c.name,
        image: c.image,
        imageID: c.imageID,
        hash: c.hash,
        state: c.state,
      })),
    sandboxes: s.sandboxStatuses.map((x) => ({
      id: buildContainerID(runtimeName, x.id),
      name: "",
      image: "",
      imageID: "",
      hash: "",
      state: x.state === PodSandboxState.SANDBOX_READY ? ContainerState.Running : ContainerState.Exited,
    })),
  };
}

export class KubeGenericRuntimeManager {
  constructor(readonly deps: RuntimeManagerDeps) {}

  get log(): Logger {
    return this.deps.log;
  }

  /**
   * SyncPod: brings what runs for the pod to its spec, step by step as upstream numbers them.
   * Every step's outcome is in the result; the first step that fails ends the sync.
   */
  async syncPod(pod: Pod, podStatus: PodStatus, backOff: Backoff): Promise<PodSyncResult> {
    const result = new PodSyncResult();
    const { deps } = this;
    const log = this.log.child({ pod: formatPod(pod) });

    // Step 1: Compute sandbox and container changes.
    const changes = computePodActions(pod, podStatus, {
      featureGates: deps.settings.featureGates,
      livenessManager: deps.livenessManager,
      startupManager: deps.startupManager,
    });
    log.debug({ changes: summarize(changes) }, "computePodActions");
    if (changes.createSandbox) {
      if (changes.sandboxID !== "") {
        deps.recorder.record(pod, {
          type: "Normal",
          reason: Reason.SandboxChanged,
          message: "Pod sandbox changed, it will be killed and re-created.",
        });
      } else {
        log.info("SyncPod received new pod, will create a sandbox for it");
      }
    }

    if (changes.killPod) {
      // Step 2: Kill the pod if the sandbox has changed.
      const killResult = await this.killPodWithSyncResult(pod, runningPodOf(podStatus, deps.runtimeName));
      result.addPodSyncResult(killResult);
      if (killResult.error()) return result;
      if (changes.createSandbox) await this.purgeInitContainers(pod, podStatus);
    } else {
      // Step 3: kill any running containers in this pod which are not to keep.
      for (const info of changes.containersToKill.values()) {
        const r = new SyncResult(SyncAction.KillContainer, info.name);
        result.addSyncResult(r);
        try {
          await killContainer(this, pod, info.id, info.name, info.message, info.reason);
        } catch (err) {
          r.fail(ErrKillContainer, messageOf(err));
          return result;
        }
      }
    }

    // Keep terminated init containers fairly aggressively controlled.
    await this.pruneInitContainersBeforeStart(pod, podStatus);

    let podIPs = podStatus.ips;

    // Step 4: Create a sandbox for the pod if necessary.
    let podSandboxID = changes.sandboxID;
    if (changes.createSandbox) {
      const r = new SyncResult(SyncAction.CreatePodSandbox, formatPod(pod));
      result.addSyncResult(r);
      deps.metrics.startedPodsTotal.inc();
      try {
        podSandboxID = await createPodSandbox(this, pod, changes.attempt);
      } catch (err) {
        deps.metrics.startedPodsErrorsTotal.inc();
        r.fail(ErrCreatePodSandbox, messageOf(err));
        deps.recorder.record(pod, {
          type: "Warning",
          reason: Reason.FailedCreatePodSandBox,
          message: `Failed to create pod sandbox: ${messageOf(err)}`,
        });
        return result;
      }
      let status: PodSandboxStatus | undefined;
      try {
        status = (await deps.runtime.podSandboxStatus({ podSandboxId: podSandboxID })).status;
      } catch (err) {
        deps.recorder.record(pod, {
          type: "Warning",
          reason: Reason.FailedStatusPodSandBox,
          message: `Unable to get pod sandbox status: ${messageOf(err)}`,
        });
        result.fail(err);
        return result;
      }
      if (!status) {
        result.fail(new Error("pod sandbox status is nil"));
        return result;
      }
      if (!pod.spec?.hostNetwork) {
        podIPs = determinePodSandboxIPs(pod.metadata?.namespace ?? "", pod.metadata?.name ?? "", status, log);
      }
    }
    const podIP = podIPs[0] ?? "";

    // Get podSandboxConfig for containers to start.
    const configResult = new SyncResult(SyncAction.ConfigPodSandbox, podSandboxID);
    result.addSyncResult(configResult);
    let podSandboxConfig: PodSandboxConfig;
    try {
      podSandboxConfig = generatePodSandboxConfig(deps.settings, pod, changes.attempt, {
        cgroupParent: deps.host.cgroupParent(pod),
        dns: deps.host.dns,
        recordEvent: deps.recorder.forPod(pod),
      });
    } catch (err) {
      configResult.fail(
        ErrConfigPodSandbox,
        `GeneratePodSandboxConfig for pod ${JSON.stringify(formatPod(pod))} failed: ${messageOf(err)}`,
      );
      return result;
    }

    // Starts one container, with the back-off check; false when it did not start.
    const start = async (kind: string, container: Container): Promise<boolean> => {
      const r = new SyncResult(SyncAction.StartContainer, container.name);
      result.addSyncResult(r);
      const backedOff = doBackOff(pod, container, podStatus, backOff);
      if (backedOff) {
        deps.recorder.record(pod, {
          type: "Warning",
          reason: Reason.BackOffStartContainer,
          message: `Back-off restarting failed container ${container.name} in pod ${formatPod(pod)}`,
          fieldPath: `spec.${kind === "init container" ? "initContainers" : "containers"}{${container.name}}`,
        });
        r.fail(backedOff.reason, backedOff.message);
        return false;
      }
      // "init container" → init_container, as upstream's metric labels name the kinds.
      const container_type = kind.replace(" ", "_");
      deps.metrics.startedContainersTotal.inc({ container_type });
      const failed = await startContainer(
        this,
        podSandboxID,
        podSandboxConfig,
        container,
        pod,
        podStatus,
        podIP,
        podIPs,
      );
      if (failed) {
        deps.metrics.startedContainersErrorsTotal.inc({ container_type, code: failed.reason });
        r.fail(failed.reason, failed.message);
        log.info(
          { container: container.name, reason: failed.reason, err: failed.message },
          `failed to start ${kind}`,
        );
        return false;
      }
      return true;
    };

    // Step 5: start ephemeral containers (berth's kubelet has no API server to add them).
    const init = pod.spec?.initContainers ?? [];
    if (!deps.settings.featureGates.SidecarContainers) {
      // Step 6: start the init container.
      if (changes.nextInitContainerToStart) {
        if (!(await start("init container", changes.nextInitContainerToStart))) return result;
      }
    } else {
      // Step 6: start init containers.
      for (const idx of changes.initContainersToStart) {
        const container = init[idx];
        if (!container) continue;
        if (!(await start("init container", container))) {
          // A restartable init container that failed gets another try; the others end the sync.
          if (isRestartableInitContainer(container)) continue;
          return result;
        }
      }
    }

    // Step 7: resize running containers in place (InPlacePodVerticalScaling is off in 1.28).

    // Step 8: start containers in podContainerChanges.ContainersToStart.
    const containers = pod.spec?.containers ?? [];
    for (const idx of changes.containersToStart) {
      const container = containers[idx];
      if (container) await start("container", container);
    }
    return result;
  }

  /** KillPod: stops the pod's containers (all at once) and then its sandboxes; throws what failed. */
  async killPod(pod: Pod | undefined, runningPod: RuntimePod, gracePeriodOverride?: number): Promise<void> {
    const err = (await this.killPodWithSyncResult(pod, runningPod, gracePeriodOverride)).error();
    if (err) throw err;
  }

  async killPodWithSyncResult(
    pod: Pod | undefined,
    runningPod: RuntimePod,
    gracePeriodOverride?: number,
  ): Promise<PodSyncResult> {
    const result = new PodSyncResult();
    const killed = await Promise.all(
      runningPod.containers.map(async (c) => {
        const r = new SyncResult(SyncAction.KillContainer, c.name);
        try {
          await killContainer(this, pod, c.id, c.name, "", "", gracePeriodOverride);
        } catch (err) {
          r.fail(ErrKillContainer, messageOf(err));
        }
        return r;
      }),
    );
    result.addSyncResult(...killed);
    for (const sandbox of runningPod.sandboxes) {
      const r = new SyncResult(SyncAction.KillPodSandbox, runningPod.id);
      result.addSyncResult(r);
      try {
        await this.deps.runtime.stopPodSandbox({ podSandboxId: sandbox.id.id });
      } catch (err) {
        if (!isNotFound(err)) r.fail(ErrKillPodSandbox, messageOf(err));
      }
    }
    return result;
  }

  /** Removes every exited instance of the pod's init containers (before a new sandbox). */
  private async purgeInitContainers(pod: Pod, podStatus: PodStatus): Promise<void> {
    const names = new Set((pod.spec?.initContainers ?? []).map((c) => c.name));
    for (const s of podStatus.containerStatuses) {
      if (names.has(s.name) && s.state === ContainerState.Exited) await this.removeContainer(s.id);
    }
  }

  /** Keeps only the latest exited instance of each init container (statuses are newest first). */
  private async pruneInitContainersBeforeStart(pod: Pod, podStatus: PodStatus): Promise<void> {
    const names = new Set((pod.spec?.initContainers ?? []).map((c) => c.name));
    const seen = new Set<string>();
    for (const s of podStatus.containerStatuses) {
      if (!names.has(s.name) || s.state !== ContainerState.Exited) continue;
      if (seen.has(s.name)) await this.removeContainer(s.id);
      else seen.add(s.name);
    }
  }

  /** removeContainer: its log files (removeContainerLog), then the container. */
  async removeContainer(id: ContainerID): Promise<void> {
    try {
      await this.deps.logManager.clean(id.id);
      await this.deps.runtime.removeContainer({ containerId: id.id });
    } catch (err) {
      if (!isNotFound(err))
        this.log.warn(
          { container: containerIDString(id), err: messageOf(err) },
          "failed to remove container",
        );
    }
  }
}

function summarize(a: ReturnType<typeof computePodActions>): Record<string, unknown> {
  return {
    killPod: a.killPod,
    createSandbox: a.createSandbox,
    sandboxID: a.sandboxID,
    attempt: a.attempt,
    nextInit: a.nextInitContainerToStart?.name,
    initToStart: a.initContainersToStart,
    toStart: a.containersToStart,
    toKill: [...a.containersToKill.values()].map((k) => k.name),
  };
}
