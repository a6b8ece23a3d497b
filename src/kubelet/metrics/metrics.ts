// pkg/kubelet/metrics/metrics.go (kubelet 1.28), plus the prober's two metrics from
// pkg/kubelet/prober/prober_manager.go: upstream's names, labels, help and buckets, so that
// dashboards and alerts written for a kubelet read berth's. Each kubelet has its own registries
// (no process-wide state): `registry` is what /metrics serves, `probesRegistry` what
// /metrics/probes serves, as upstream keeps prober metrics apart.

import type { Pod } from "kubernetes-types/core/v1.js";
import {
  Counter,
  collectDefaultMetrics,
  exponentialBuckets,
  Gauge,
  Histogram,
  type LabelValues,
  Registry,
} from "prom-client";
import { ConfigFirstSeenAnnotationKey } from "../config/pod-config.js";
import { ContainerState } from "../container/runtime.js";
import type { RuntimePod } from "../kuberuntime/pod-status.js";

/** component-base's DefBuckets. */
const DefBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** component-base prefixes each help text with the metric's stability level. */
const alpha = (help: string) => `[ALPHA] ${help}`;

/** kubelet_started_containers_total's container_type values. */
export type ContainerMetricType = "container" | "init_container" | "ephemeral_container";

/** The prober's probe types as its metrics name them (probeType.String()). */
export type ProbeMetricType = "Liveness" | "Readiness" | "Startup";
export type ProbeMetricResult = "successful" | "failed" | "unknown";

export interface ProbeMetricLabels {
  probeType: ProbeMetricType;
  result: ProbeMetricResult;
  container: string;
  pod: string;
  namespace: string;
  podUID: string;
}

export class KubeletMetrics {
  readonly registry = new Registry();
  readonly probesRegistry = new Registry();

  readonly nodeName: Gauge<"node">;
  readonly podWorkerDuration: Histogram<"operation_type">;
  readonly podStartDuration: Histogram;
  readonly plegRelistDuration: Histogram;
  readonly plegRelistInterval: Histogram;
  readonly runtimeOperations: Counter<"operation_type">;
  readonly runtimeOperationsDuration: Histogram<"operation_type">;
  readonly runtimeOperationsErrors: Counter<"operation_type">;
  readonly runningPods: Gauge;
  readonly runningContainers: Gauge<"container_state">;
  readonly startedPodsTotal: Counter;
  readonly startedPodsErrorsTotal: Counter;
  readonly startedContainersTotal: Counter<"container_type">;
  readonly startedContainersErrorsTotal: Counter<"container_type" | "code">;
  readonly proberProbeTotal: Counter<"probe_type" | "result" | "container" | "pod" | "namespace" | "pod_uid">;
  readonly proberProbeDuration: Histogram<"probe_type" | "container" | "pod" | "namespace">;

  constructor() {
    const registers = [this.registry];
    this.nodeName = new Gauge({
      name: "kubelet_node_name",
      help: alpha("The node's name. The count is always 1."),
      labelNames: ["node"],
      registers,
    });
    this.podWorkerDuration = new Histogram({
      name: "kubelet_pod_worker_duration_seconds",
      help: alpha(
        "Duration in seconds to sync a single pod. Broken down by operation type: create, update, or sync",
      ),
      labelNames: ["operation_type"],
      buckets: DefBuckets,
      registers,
    });
    // 1.28's buckets; the wider ones of pod_start_sli_duration_seconds came with 1.29.
    this.podStartDuration = new Histogram({
      name: "kubelet_pod_start_duration_seconds",
      help: alpha(
        "Duration in seconds from kubelet seeing a pod for the first time to the pod starting to run",
      ),
      buckets: DefBuckets,
      registers,
    });
    this.plegRelistDuration = new Histogram({
      name: "kubelet_pleg_relist_duration_seconds",
      help: alpha("Duration in seconds for relisting pods in PLEG."),
      buckets: DefBuckets,
      registers,
    });
    this.plegRelistInterval = new Histogram({
      name: "kubelet_pleg_relist_interval_seconds",
      help: alpha("Interval in seconds between relisting in PLEG."),
      buckets: DefBuckets,
      registers,
    });
    this.runtimeOperations = new Counter({
      name: "kubelet_runtime_operations_total",
      help: alpha("Cumulative number of runtime operations by operation type."),
      labelNames: ["operation_type"],
      registers,
    });
    this.runtimeOperationsDuration = new Histogram({
      name: "kubelet_runtime_operations_duration_seconds",
      help: alpha("Duration in seconds of runtime operations. Broken down by operation type."),
      labelNames: ["operation_type"],
      buckets: exponentialBuckets(0.005, 2.5, 14),
      registers,
    });
    this.runtimeOperationsErrors = new Counter({
      name: "kubelet_runtime_operations_errors_total",
      help: alpha("Cumulative number of runtime operation errors by operation type."),
      labelNames: ["operation_type"],
      registers,
    });
    this.runningPods = new Gauge({
      name: "kubelet_running_pods",
      help: alpha("Number of pods that have a running pod sandbox"),
      registers,
    });
    this.runningContainers = new Gauge({
      name: "kubelet_running_containers",
      help: alpha("Number of containers currently running"),
      labelNames: ["container_state"],
      registers,
    });
    this.startedPodsTotal = new Counter({
      name: "kubelet_started_pods_total",
      help: alpha("Cumulative number of pods started"),
      registers,
    });
    this.startedPodsErrorsTotal = new Counter({
      name: "kubelet_started_pods_errors_total",
      help: alpha("Cumulative number of errors when starting pods"),
      registers,
    });
    this.startedContainersTotal = new Counter({
      name: "kubelet_started_containers_total",
      help: alpha("Cumulative number of containers started"),
      labelNames: ["container_type"],
      registers,
    });
    this.startedContainersErrorsTotal = new Counter({
      name: "kubelet_started_containers_errors_total",
      help: alpha("Cumulative number of errors when starting containers"),
      labelNames: ["container_type", "code"],
      registers,
    });
    // The process_* metrics of Go's process collector (and Node's runtime in place of go_*).
    collectDefaultMetrics({ register: this.registry });

    const probes = [this.probesRegistry];
    this.proberProbeTotal = new Counter({
      name: "prober_probe_total",
      help: alpha("Cumulative number of a liveness, readiness or startup probe for a container by result."),
      labelNames: ["probe_type", "result", "container", "pod", "namespace", "pod_uid"],
      registers: probes,
    });
    this.proberProbeDuration = new Histogram({
      name: "prober_probe_duration_seconds",
      help: alpha("Duration in seconds for a probe response."),
      labelNames: ["probe_type", "container", "pod", "namespace"],
      buckets: DefBuckets,
      registers: probes,
    });
    // /metrics/probes carries the process start time too (RegisterProcessStartTime).
    const start = new Gauge({
      name: "process_start_time_seconds",
      help: alpha("Start time of the process since unix epoch in seconds."),
      registers: probes,
    });
    start.set(Math.round(Date.now() / 1000 - process.uptime()));
  }

  setNodeName(node: string): void {
    this.nodeName.set({ node }, 1);
  }

  /**
   * kubelet_pod_start_duration_seconds (SyncPod): from when the config first saw the pod to the
   * first status with phase Running, taken when a pending (or not yet known) pod turns Running.
   * Upstream also observes at a pod's first sync whatever its phase; berth counts each start once.
   */
  observePodStart(
    pod: Pod,
    oldPhase: string | undefined,
    newPhase: string | undefined,
    now = Date.now(),
  ): void {
    if (newPhase !== "Running" || (oldPhase !== undefined && oldPhase !== "Pending")) return;
    const seen = Date.parse(pod.metadata?.annotations?.[ConfigFirstSeenAnnotationKey] ?? "");
    if (!Number.isNaN(seen)) this.podStartDuration.observe((now - seen) / 1000);
  }

  /**
   * The prober worker's record of one probe: every result is counted, and the time of a successful
   * one observed (upstream times only successes).
   */
  recordProbe(l: ProbeMetricLabels, durationSeconds: number): void {
    this.proberProbeTotal.inc({
      probe_type: l.probeType,
      result: l.result,
      container: l.container,
      pod: l.pod,
      namespace: l.namespace,
      pod_uid: l.podUID,
    });
    if (l.result === "successful") {
      this.proberProbeDuration.observe(
        { probe_type: l.probeType, container: l.container, pod: l.pod, namespace: l.namespace },
        durationSeconds,
      );
    }
  }

  /**
   * updateRunningPodAndContainerMetrics (pleg/generic.go): pods with a running sandbox, and
   * containers by state. Unlike upstream, a state no container is in any more reads 0 rather
   * than its last count.
   */
  updateRunningPodAndContainerMetrics(pods: readonly RuntimePod[]): void {
    const byState = new Map<string, number>(Object.values(ContainerState).map((s) => [s, 0]));
    let runningSandboxes = 0;
    for (const pod of pods) {
      for (const c of pod.containers) byState.set(c.state, (byState.get(c.state) ?? 0) + 1);
      if (pod.sandboxes.some((s) => s.state === ContainerState.Running)) runningSandboxes += 1;
    }
    for (const [state, n] of byState) this.runningContainers.set({ container_state: state }, n);
    this.runningPods.set(runningSandboxes);
  }

  /** One runtime call: counted and timed, and counted again if it failed. */
  recordOperation(operation: string, seconds: number, failed: boolean): void {
    const labels: LabelValues<"operation_type"> = { operation_type: operation };
    this.runtimeOperations.inc(labels);
    this.runtimeOperationsDuration.observe(labels, seconds);
    if (failed) this.runtimeOperationsErrors.inc(labels);
  }
}
