// pkg/kubelet/prober/prober_manager.go (kubelet 1.28): a probe worker for every probe of every container
// of the pods being synced (restartable init containers too with SidecarContainers), stopped when the
// pod terminates or is no longer wanted, and the three results caches the kubelet reads: liveness and
// startup for computePodActions, readiness and startup for the pod's status (status/generate.ts
// updatePodStatusFromProbes sets each container's started and ready from them). The workers read the
// pod's status — container ids, states, pod IP — from the kubelet's status manager.
import type * as v1 from "kubernetes-types/core/v1.js";
import type { Logger } from "../../lib/log.js";
import type { EventRecorder } from "../events/event-recorder.js";
import type { FeatureGates } from "../features/features.js";
import type { ProbeResult } from "../kuberuntime/pod-actions.js";
import { isRestartableInitContainer } from "../kuberuntime/pod-actions.js";
import type { CommandRunner } from "./exec-probe.js";
import { Prober, ProbeType, probeSpecOf } from "./prober.js";
import { ResultsManager } from "./results-manager.js";
import { Worker } from "./worker.js";

/** One probe run the prober could judge, for prober_probe_total and prober_probe_duration_seconds. */
export interface ProbeObservation {
  probeType: ProbeType;
  result: ProbeResult;
  pod: v1.Pod;
  container: v1.Container;
  /** From reading the pod's status to the probe's answer. */
  durationMs: number;
}
export type OnProbeResult = (o: ProbeObservation) => void;

export interface ProberManagerOptions {
  /** The status manager's GetPodStatus: the pod's latest API status. */
  getPodStatus(uid: string): v1.PodStatus | undefined;
  runner: CommandRunner;
  recorder: EventRecorder;
  featureGates: Pick<FeatureGates, "SidecarContainers">;
  log: Logger;
  /** Called after every probe run with a result (the metrics hook). */
  onProbeResult?: OnProbeResult;
  /** When the kubelet started, in ms since the epoch (default: now); see Worker.run's first wait. */
  start?: number;
}

/** Probe kinds in the order AddPod starts them. */
const probeTypes = [ProbeType.Startup, ProbeType.Readiness, ProbeType.Liveness] as const;

export class ProberManager {
  readonly livenessManager = new ResultsManager();
  readonly readinessManager = new ResultsManager();
  readonly startupManager = new ResultsManager();
  readonly prober: Prober;
  /** When the kubelet started: workers starting within a period of it spread their first probe. */
  readonly start: number;
  readonly log: Logger;
  onProbeResult?: OnProbeResult;
  private readonly workers = new Map<string, { uid: string; worker: Worker; done: Promise<void> }>();
  private readonly closing = new AbortController();

  constructor(private readonly o: ProberManagerOptions) {
    this.log = o.log;
    this.start = o.start ?? Date.now();
    this.onProbeResult = o.onProbeResult;
    this.prober = new Prober({
      runner: o.runner,
      recorder: o.recorder,
      log: o.log,
      signal: this.closing.signal,
    });
  }

  /** AddPod: a worker for each probe of the pod's containers; a pod already probed is left as it is. */
  addPod(pod: v1.Pod): void {
    const uid = pod.metadata?.uid ?? "";
    for (const c of this.probedContainers(pod)) {
      for (const probeType of probeTypes) {
        if (!probeSpecOf(c, probeType)) continue;
        const key = probeKey(uid, c.name, probeType);
        if (this.workers.has(key)) {
          this.log.debug(
            { pod: pod.metadata?.name, container: c.name, probeType },
            "Probe already exists for container",
          );
          return;
        }
        const entry = { uid, worker: new Worker(this, probeType, pod, c), done: Promise.resolve() };
        this.workers.set(key, entry);
        entry.done = entry.worker.run();
      }
    }
  }

  /** StopLivenessAndStartup: a terminating pod is not restarted by its probes; readiness goes on. */
  stopLivenessAndStartup(pod: v1.Pod): void {
    this.stopWorkers(pod, [ProbeType.Liveness, ProbeType.Startup]);
  }

  /** RemovePod: every worker of the pod stops, and its results go with it. */
  removePod(pod: v1.Pod): void {
    this.stopWorkers(pod, probeTypes);
  }

  /** CleanupPods: stops the workers of pods not in `desired` (the pods that may still run). */
  cleanupPods(desired: ReadonlySet<string>): void {
    for (const { uid, worker } of this.workers.values()) if (!desired.has(uid)) worker.stop();
  }

  /**
   * The manual run UpdatePodStatus asks for: a started container that is not ready has its readiness
   * probe run now rather than a period later.
   */
  triggerReadinessProbes(uid: string, status: v1.PodStatus): void {
    for (const c of [...(status.containerStatuses ?? []), ...(status.initContainerStatuses ?? [])]) {
      if (!c.state?.running || !c.started || c.ready) continue;
      this.workers.get(probeKey(uid, c.name, ProbeType.Readiness))?.worker.triggerManual();
    }
  }

  /** Stops every worker and waits for them; exec probes in flight are given up. */
  async stop(): Promise<void> {
    for (const { worker } of this.workers.values()) worker.stop();
    this.closing.abort();
    await Promise.all([...this.workers.values()].map((w) => w.done));
  }

  workerCount(): number {
    return this.workers.size;
  }

  getWorker(uid: string, containerName: string, probeType: ProbeType): Worker | undefined {
    return this.workers.get(probeKey(uid, containerName, probeType))?.worker;
  }

  // ---- What the workers use ----

  getPodStatus(uid: string): v1.PodStatus | undefined {
    return this.o.getPodStatus(uid);
  }

  resultsManagerFor(probeType: ProbeType): ResultsManager {
    switch (probeType) {
      case ProbeType.Liveness:
        return this.livenessManager;
      case ProbeType.Readiness:
        return this.readinessManager;
      case ProbeType.Startup:
        return this.startupManager;
    }
  }

  /** Called by a worker as it exits. */
  removeWorker(worker: Worker): void {
    const key = probeKey(worker.pod.metadata?.uid ?? "", worker.container.name, worker.probeType);
    if (this.workers.get(key)?.worker === worker) this.workers.delete(key);
  }

  private stopWorkers(pod: v1.Pod, types: readonly ProbeType[]): void {
    const uid = pod.metadata?.uid ?? "";
    for (const c of this.probedContainers(pod)) {
      for (const probeType of types) this.workers.get(probeKey(uid, c.name, probeType))?.worker.stop();
    }
  }

  /** The containers that get probe workers: regular ones, and sidecars once their gate is on. */
  private probedContainers(pod: v1.Pod): v1.Container[] {
    const sidecars = this.o.featureGates.SidecarContainers
      ? (pod.spec?.initContainers ?? []).filter(isRestartableInitContainer)
      : [];
    return [...(pod.spec?.containers ?? []), ...sidecars];
  }
}

function probeKey(uid: string, containerName: string, probeType: ProbeType): string {
  return `${uid}/${containerName}/${probeType}`;
}
