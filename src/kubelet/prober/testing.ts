// pkg/kubelet/prober/testing.go: the pod, statuses and manager the prober's unit tests share. The command
// runner stands in for CRI ExecSync (the end-to-end test runs the real one); its exit code is what the
// tests set.
import type { Pod, PodStatus, Probe } from "kubernetes-types/core/v1.js";
import { pino } from "pino";
import { type ContainerID, containerIDString } from "../container/runtime.js";
import { EventRecorder } from "../events/event-recorder.js";
import type { CommandResult, CommandRunner } from "./exec-probe.js";
import { ProbeType } from "./prober.js";
import { ProberManager } from "./prober-manager.js";

export const testContainerName = "cOnTaInEr_NaMe";
export const testPodUID = "pOd_UiD";
export const testContainerID: ContainerID = { type: "test", id: "cOnTaInEr_Id" };

/** A runner whose commands exit with `exitCode` (or fail with `error`) until told otherwise. */
export class SettableRunner implements CommandRunner {
  exitCode = 0;
  error?: Error;
  calls = 0;
  /** When each command ran (ms since the epoch). */
  at: number[] = [];
  async runInContainer(): Promise<CommandResult> {
    this.calls++;
    this.at.push(Date.now());
    if (this.error) throw this.error;
    return { output: Buffer.from(this.exitCode === 0 ? "" : "probe failed"), exitCode: this.exitCode };
  }
}

export interface TestManager {
  m: ProberManager;
  runner: SettableRunner;
  /** The status manager's statuses by pod UID. */
  statuses: Map<string, PodStatus>;
  recorder: EventRecorder;
}

/** newTestManager: probes succeed; no first-probe spreading (the kubelet "started" long ago). */
export function newTestManager(sidecars = false): TestManager {
  const log = pino({ level: "silent" });
  const runner = new SettableRunner();
  const statuses = new Map<string, PodStatus>();
  const recorder = new EventRecorder(log);
  const m = new ProberManager({
    getPodStatus: (uid) => statuses.get(uid),
    runner,
    recorder,
    featureGates: { SidecarContainers: sidecars },
    log,
    start: 0,
  });
  return { m, runner, statuses, recorder };
}

/** getTestRunningStatusWithStarted: the test container running since now. */
export function getTestRunningStatusWithStarted(started: boolean): PodStatus {
  return {
    phase: "Running",
    containerStatuses: [
      {
        name: testContainerName,
        containerID: containerIDString(testContainerID),
        image: "",
        imageID: "",
        ready: false,
        restartCount: 0,
        state: { running: { startedAt: new Date().toISOString() } },
        started,
      },
    ],
  };
}

export function getTestRunningStatus(): PodStatus {
  return getTestRunningStatusWithStarted(true);
}

export function getTestPod(): Pod {
  return {
    metadata: { name: "testPod", namespace: "default", uid: testPodUID },
    spec: { containers: [{ name: testContainerName }], restartPolicy: "Never" },
  };
}

/** setTestProbe: an exec probe of that kind, with 1 for each unset timing and threshold (for speed). */
export function setTestProbe(pod: Pod, probeType: ProbeType, spec: Probe): void {
  const probe: Probe = {
    ...spec,
    exec: { command: ["probe"] },
    timeoutSeconds: spec.timeoutSeconds || 1,
    periodSeconds: spec.periodSeconds || 1,
    successThreshold: spec.successThreshold || 1,
    failureThreshold: spec.failureThreshold || 1,
  };
  const container = pod.spec?.containers[0];
  if (!container) return;
  if (probeType === ProbeType.Liveness) container.livenessProbe = probe;
  else if (probeType === ProbeType.Readiness) container.readinessProbe = probe;
  else container.startupProbe = probe;
}
