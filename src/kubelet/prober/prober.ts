// pkg/kubelet/prober/prober.go (kubelet 1.28): runs one probe of a container — exec through the runtime,
// httpGet or tcpSocket to the pod's IP — retrying only when the prober itself failed, and records a
// Warning "Unhealthy" event for every failed probe ("Liveness probe failed: <output>").
import type * as v1 from "kubernetes-types/core/v1.js";
import { messageOf } from "../../lib/errdefs.js";
import type { Logger } from "../../lib/log.js";
import type { ContainerID } from "../container/runtime.js";
import { containerFieldPath, type EventRecorder, Reason } from "../events/event-recorder.js";
import { expand, mappingFuncFor } from "../kuberuntime/container.js";
import type { ProbeResult } from "../kuberuntime/pod-actions.js";
import { formatPod } from "../kuberuntime/sandbox.js";
import { type CommandRunner, execProbe } from "./exec-probe.js";
import { doHTTPProbe, newRequestForHTTPGetAction } from "./http-probe.js";
import { type Outcome, resolveContainerPort } from "./probe.js";
import { doTCPProbe } from "./tcp-probe.js";

/** The kinds of probe, named as events and logs name them. */
export const ProbeType = { Liveness: "Liveness", Readiness: "Readiness", Startup: "Startup" } as const;
export type ProbeType = (typeof ProbeType)[keyof typeof ProbeType];

/** A prober error (not a failing container) is retried this many times in one probe. */
const maxProbeRetries = 3;

export interface ProberDeps {
  runner: CommandRunner;
  recorder: EventRecorder;
  log: Logger;
  /** Aborted when the kubelet stops: exec calls in flight are given up. */
  signal?: AbortSignal;
}

/** The container's probe of that kind. */
export function probeSpecOf(container: v1.Container, probeType: ProbeType): v1.Probe | undefined {
  switch (probeType) {
    case ProbeType.Liveness:
      return container.livenessProbe;
    case ProbeType.Readiness:
      return container.readinessProbe;
    case ProbeType.Startup:
      return container.startupProbe;
  }
}

export class Prober {
  constructor(private readonly deps: ProberDeps) {}

  /**
   * probe: success or failure of the container's probe of this kind (success without one). `error`
   * says the prober could not tell, which the worker does not count at all.
   */
  async probe(
    probeType: ProbeType,
    pod: v1.Pod,
    status: v1.PodStatus,
    container: v1.Container,
    containerID: ContainerID,
  ): Promise<{ result: ProbeResult; error?: Error }> {
    const log = this.deps.log.child({ probeType, pod: formatPod(pod), container: container.name });
    const spec = probeSpecOf(container, probeType);
    if (!spec) {
      log.info("Probe is nil");
      return { result: "success" };
    }
    const { result, output, error } = await this.runProbeWithRetries(
      spec,
      pod,
      status,
      container,
      containerID,
    );
    // A probe cut short by the kubelet stopping says nothing about the container.
    if (error && this.deps.signal?.aborted) return { result: "failure", error };
    if (error || (result !== "success" && result !== "warning")) {
      if (error) {
        log.debug({ err: messageOf(error) }, "Probe errored");
        this.recordContainerEvent(
          pod,
          container,
          "Warning",
          Reason.Unhealthy,
          `${probeType} probe errored: ${messageOf(error)}`,
        );
      } else {
        log.debug({ probeResult: result, output }, "Probe failed");
        this.recordContainerEvent(
          pod,
          container,
          "Warning",
          Reason.Unhealthy,
          `${probeType} probe failed: ${output}`,
        );
      }
      return error ? { result: "failure", error } : { result: "failure" };
    }
    if (result === "warning") {
      this.recordContainerEvent(
        pod,
        container,
        "Warning",
        Reason.ProbeWarning,
        `${probeType} probe warning: ${output}`,
      );
      log.debug({ output }, "Probe succeeded with a warning");
    } else {
      log.trace("Probe succeeded");
    }
    return { result: "success" };
  }

  /** runProbeWithRetries: the first attempt the prober could judge, else the last one's error. */
  private async runProbeWithRetries(
    p: v1.Probe,
    pod: v1.Pod,
    status: v1.PodStatus,
    container: v1.Container,
    containerID: ContainerID,
  ): Promise<Outcome> {
    let outcome: Outcome = { result: "unknown", output: "" };
    for (let i = 0; i < maxProbeRetries; i++) {
      outcome = await this.runProbe(p, pod, status, container, containerID);
      if (!outcome.error || this.deps.signal?.aborted) return outcome;
    }
    return outcome;
  }

  /** runProbe: one attempt with the probe's handler and timeout. */
  runProbe(
    p: v1.Probe,
    pod: v1.Pod,
    status: v1.PodStatus,
    container: v1.Container,
    containerID: ContainerID,
  ): Promise<Outcome> {
    const timeoutMs = (p.timeoutSeconds ?? 1) * 1000;
    try {
      if (p.exec) {
        // Only variables with a value in the spec expand: the probe does not see the container's environment.
        const command = expandContainerCommandOnlyStatic(p.exec.command ?? [], container.env ?? []);
        return execProbe(() =>
          this.deps.runner.runInContainer(containerID, command, timeoutMs, this.deps.signal),
        );
      }
      if (p.httpGet) {
        const req = newRequestForHTTPGetAction(p.httpGet, container, status.podIP ?? "", "probe");
        return doHTTPProbe(req, timeoutMs);
      }
      if (p.tcpSocket) {
        const port = resolveContainerPort(p.tcpSocket.port, container);
        return doTCPProbe(p.tcpSocket.host || (status.podIP ?? ""), port, timeoutMs);
      }
    } catch (err) {
      // A port or URL that cannot be made out: the prober cannot tell.
      return Promise.resolve({ result: "unknown", output: "", error: err as Error });
    }
    const why = p.grpc
      ? `grpc probes are not supported by berth's kubelet (${formatPod(pod)}:${container.name})`
      : `missing probe handler for ${formatPod(pod)}:${container.name}`;
    return Promise.resolve({ result: "unknown", output: "", error: new Error(why) });
  }

  /** recordContainerEvent: an event about the container, by its field path in the pod. */
  private recordContainerEvent(
    pod: v1.Pod,
    container: v1.Container,
    type: "Normal" | "Warning",
    reason: string,
    message: string,
  ): void {
    this.deps.recorder.record(pod, {
      type,
      reason,
      message,
      fieldPath: containerFieldPath(pod, container.name),
    });
  }
}

/** ExpandContainerCommandOnlyStatic: $(VAR) from the values the container's env spells out. */
function expandContainerCommandOnlyStatic(command: string[], env: v1.EnvVar[]): string[] {
  const mapping = mappingFuncFor(new Map(env.map((e) => [e.name, e.value ?? ""])));
  return command.map((c) => expand(c, mapping));
}
