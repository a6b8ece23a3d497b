// pkg/kubelet/prober/worker.go (kubelet 1.28): one worker per container and kind of probe. Every
// periodSeconds it reads the container from the pod's status, and once initialDelaySeconds have passed
// since the container started it probes it; a result counts only after successThreshold successes or
// failureThreshold failures in a row. Liveness and readiness wait until the container has started (its
// startup probe succeeded); the startup probe stops once it has. A liveness or startup failure holds the
// worker (and its result) until the container is replaced, i.e. a new container id appears.
import type * as v1 from "kubernetes-types/core/v1.js";
import { messageOf } from "../../lib/errdefs.js";
import type { Logger } from "../../lib/log.js";
import { type ContainerID, containerIDString, parseContainerID } from "../container/runtime.js";
import type { ProbeResult } from "../kuberuntime/pod-actions.js";
import { formatPod } from "../kuberuntime/sandbox.js";
import { ProbeType, probeSpecOf } from "./prober.js";
import type { ProberManager } from "./prober-manager.js";
import type { ResultsManager } from "./results-manager.js";

/** Why a wait ended. */
type Wake = "timer" | "manual" | "stop";

export class Worker {
  /** The probe as the pod had it when the worker was made; changes to it are not picked up (as upstream). */
  readonly spec: v1.Probe;
  readonly resultsManager: ResultsManager;
  /** The result until the probe has run: a container is live, not ready, and of unknown startup. */
  readonly initialValue: ProbeResult;
  /** The container being probed; a new id starts the count over. */
  containerID?: ContainerID;
  lastResult: ProbeResult = "success";
  /** How many times in a row the probe gave lastResult. */
  resultRun = 0;
  /** Set after a liveness or startup failure: no probing until a new container appears. */
  onHold = false;
  private stopped = false;
  private manualPending = false;
  private wake?: (why: Wake) => void;
  private readonly log: Logger;

  constructor(
    private readonly m: ProberManager,
    readonly probeType: ProbeType,
    readonly pod: v1.Pod,
    readonly container: v1.Container,
  ) {
    this.spec = probeSpecOf(container, probeType) ?? {};
    this.resultsManager = m.resultsManagerFor(probeType);
    this.initialValue =
      probeType === ProbeType.Liveness
        ? "success"
        : probeType === ProbeType.Readiness
          ? "failure"
          : "unknown";
    this.log = m.log.child({
      probeType,
      pod: formatPod(pod),
      podUID: pod.metadata?.uid,
      container: container.name,
    });
  }

  /** run: probes every periodSeconds until stopped or the container is gone for good, then cleans up. */
  async run(): Promise<void> {
    // Defaulting makes the period at least 1 s; never spin on a pod that skipped it.
    const periodMs = (this.spec.periodSeconds || 10) * 1000;
    try {
      // Probes of pods found at a kubelet (re)start are spread over the first period, not fired at once.
      if (periodMs > Date.now() - this.m.start) await this.sleep(Math.random() * periodMs, false);
      let nextTick = Date.now() + periodMs;
      while (!this.stopped && (await this.doProbe())) {
        const now = Date.now();
        const why = now < nextTick ? await this.sleep(nextTick - now, true) : "timer";
        if (why === "stop") break;
        // A tick that came while the probe ran is taken at once; the ones after it keep the period.
        // A timer may fire a millisecond early: the tick it stands for is taken all the same.
        if (why === "timer") {
          nextTick += periodMs;
          while (nextTick <= Date.now()) nextTick += periodMs;
        }
      }
    } finally {
      if (this.containerID) this.resultsManager.remove(this.containerID);
      this.m.removeWorker(this);
    }
  }

  /** stop: the worker ends after the probe in progress, if any; calling it again does nothing more. */
  stop(): void {
    this.stopped = true;
    this.wake?.("stop");
  }

  /** Runs the probe now instead of at the next period (one pending trigger at most). */
  triggerManual(): void {
    if (this.wake) this.wake("manual");
    else this.manualPending = true;
  }

  /** doProbe: probes once and records the result; false when the worker should end. */
  async doProbe(): Promise<boolean> {
    try {
      return await this.probeOnce();
    } catch (err) {
      // A bug in one probe must not end probing.
      this.log.error({ err: messageOf(err) }, "probe worker failed");
      return true;
    }
  }

  private async probeOnce(): Promise<boolean> {
    const startedAt = performance.now();
    const { pod, probeType, spec } = this;
    const status = this.m.getPodStatus(pod.metadata?.uid ?? "");
    if (!status) {
      // Not created yet, or already gone.
      this.log.trace("No status for pod");
      return true;
    }
    if (status.phase === "Failed" || status.phase === "Succeeded") {
      this.log.debug({ phase: status.phase }, "Pod is terminated, exiting probe worker");
      return false;
    }
    let c = status.containerStatuses?.find((s) => s.name === this.container.name);
    if (!c?.containerID) {
      c = status.initContainerStatuses?.find((s) => s.name === this.container.name);
      // Not created yet, or removed: wait for more.
      if (!c?.containerID) return true;
    }
    if (!this.containerID || containerIDString(this.containerID) !== c.containerID) {
      if (this.containerID) this.resultsManager.remove(this.containerID);
      this.containerID = parseContainerID(c.containerID);
      this.resultsManager.set(this.containerID, this.initialValue, pod);
      // A new container: probing resumes.
      this.onHold = false;
    }
    if (this.onHold) return true;

    const running = c.state?.running;
    if (!running) {
      this.log.trace("Non-running container probed");
      this.resultsManager.set(this.containerID, "failure", pod);
      // Only a container that will not run again ends the worker.
      return c.state?.terminated === undefined || pod.spec?.restartPolicy !== "Never";
    }
    // A pod shutting down gracefully is not restarted by its probes.
    if (pod.metadata?.deletionTimestamp && probeType !== ProbeType.Readiness) {
      this.log.debug("Pod deletion requested, setting probe result to success");
      this.resultsManager.set(this.containerID, "success", pod);
      return false;
    }
    const runningFor = Date.now() - (running.startedAt ? Date.parse(running.startedAt) : 0);
    if (Math.trunc(runningFor / 1000) < (spec.initialDelaySeconds ?? 0)) return true;
    if (c.started) {
      // Once started, the startup probe rests; it is kept for the container's next instance.
      if (probeType === ProbeType.Startup) return true;
    } else if (probeType !== ProbeType.Startup) {
      // Liveness and readiness wait for the start.
      return true;
    }

    const { result, error } = await this.m.prober.probe(
      probeType,
      pod,
      status,
      this.container,
      this.containerID,
    );
    // The prober could not tell: the result is thrown away.
    if (error) return true;
    this.m.onProbeResult?.({
      probeType,
      result,
      pod,
      container: this.container,
      durationMs: performance.now() - startedAt,
    });

    if (this.lastResult === result) {
      this.resultRun++;
    } else {
      this.lastResult = result;
      this.resultRun = 1;
    }
    // Below its threshold a result changes nothing yet.
    if (
      (result === "failure" && this.resultRun < (spec.failureThreshold ?? 0)) ||
      (result === "success" && this.resultRun < (spec.successThreshold ?? 0))
    ) {
      return true;
    }
    this.resultsManager.set(this.containerID, result, pod);
    if (probeType !== ProbeType.Readiness && result === "failure") {
      // The container is to be restarted: stop probing it (an exec into a stopping container can
      // wedge some runtimes), and give its successor a fresh count.
      this.onHold = true;
      this.resultRun = 0;
    }
    return true;
  }

  /** Sleeps `ms`; stop() ends it early, and so does triggerManual() when `manual` is set. */
  private sleep(ms: number, manual: boolean): Promise<Wake> {
    if (this.stopped) return Promise.resolve("stop");
    if (manual && this.manualPending) {
      this.manualPending = false;
      return Promise.resolve("manual");
    }
    return new Promise((resolve) => {
      const finish = (why: Wake) => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve(why);
      };
      const timer = setTimeout(() => finish("timer"), ms);
      this.wake = (why) => {
        if (why === "manual" && !manual) this.manualPending = true;
        else finish(why);
      };
    });
  }
}
