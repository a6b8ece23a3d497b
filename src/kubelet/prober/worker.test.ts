import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { PodStatus, Probe } from "kubernetes-types/core/v1.js";
import { ProbeType } from "./prober.js";
import {
  getTestPod,
  getTestRunningStatus,
  getTestRunningStatusWithStarted,
  newTestManager,
  setTestProbe,
  type TestManager,
  testContainerID,
  testPodUID,
} from "./testing.js";
import { Worker } from "./worker.js";

const allTypes = [ProbeType.Liveness, ProbeType.Readiness, ProbeType.Startup];

/** newTestWorker: a worker of the test manager for the test pod's container, not running. */
function newTestWorker(t: TestManager, probeType: ProbeType, spec: Probe, deleting = false): Worker {
  const base = getTestPod();
  const pod = deleting
    ? { ...base, metadata: { ...base.metadata, deletionTimestamp: new Date().toISOString() } }
    : base;
  setTestProbe(pod, probeType, spec);
  return new Worker(t.m, probeType, pod, pod.spec?.containers[0] ?? { name: "" });
}

function expectResult(w: Worker, expected: string, msg: string): void {
  assert.ok(w.containerID, `[${w.probeType} - ${msg}] the worker has seen no container`);
  assert.equal(w.resultsManager.get(w.containerID), expected, `[${w.probeType} - ${msg}] result`);
}

async function expectContinue(w: Worker, msg: string): Promise<void> {
  assert.equal(await w.doProbe(), true, `[${w.probeType} - ${msg}] continue`);
}

const setStatus = (t: TestManager, s: PodStatus) => t.statuses.set(testPodUID, s);

// worker_test.go TestDoProbe
test("doProbe: what each pod and container state makes of the result", async () => {
  for (const probeType of allTypes) {
    const started = probeType !== ProbeType.Startup;
    const running = getTestRunningStatusWithStarted(started);
    const pending = getTestRunningStatusWithStarted(started);
    delete pending.containerStatuses?.[0]?.state?.running;
    const terminated = getTestRunningStatusWithStarted(started);
    const tc = terminated.containerStatuses?.[0];
    if (tc) tc.state = { terminated: { exitCode: 0, startedAt: new Date().toISOString() } };
    const other = getTestRunningStatusWithStarted(started);
    const oc = other.containerStatuses?.[0];
    if (oc) oc.name = "otherContainer";
    const failed = { ...getTestRunningStatusWithStarted(started), phase: "Failed" };

    const cases: {
      name: string;
      status?: PodStatus;
      probe?: Probe;
      deleting?: boolean;
      cont: ProbeType[];
      set?: string;
    }[] = [
      { name: "no status", cont: allTypes },
      { name: "pod failed", status: failed, cont: [] },
      { name: "pod deletion", status: running, deleting: true, cont: [ProbeType.Readiness], set: "success" },
      { name: "no container status", status: other, cont: allTypes },
      { name: "container waiting", status: pending, cont: allTypes, set: "failure" },
      { name: "container terminated", status: terminated, cont: [], set: "failure" },
      { name: "probe successful", status: running, cont: allTypes, set: "success" },
      {
        name: "initial delay passed",
        status: running,
        probe: { initialDelaySeconds: -100 },
        cont: allTypes,
        set: "success",
      },
    ];
    for (const c of cases) {
      const t = newTestManager();
      const w = newTestWorker(t, probeType, c.probe ?? {}, c.deleting);
      if (c.status) setStatus(t, structuredClone(c.status));
      const msg = `[${probeType}] ${c.name}`;
      assert.equal(await w.doProbe(), c.cont.includes(probeType), `${msg}: continue`);
      assert.equal(w.resultsManager.get(testContainerID), c.set, `${msg}: result`);
    }
  }
});

// worker_test.go TestInitialDelay
test("doProbe: during the initial delay the result stays the initial one", async () => {
  const initial = { Liveness: "success", Readiness: "failure", Startup: "unknown" };
  for (const probeType of allTypes) {
    const t = newTestManager();
    const w = newTestWorker(t, probeType, { initialDelaySeconds: 10 });
    setStatus(t, getTestRunningStatusWithStarted(probeType !== ProbeType.Startup));
    await expectContinue(w, "during initial delay");
    expectResult(w, initial[probeType], "during initial delay");

    // 100 seconds later...
    const later = getTestRunningStatusWithStarted(probeType !== ProbeType.Startup);
    const running = later.containerStatuses?.[0]?.state?.running;
    if (running) running.startedAt = new Date(Date.now() - 100_000).toISOString();
    setStatus(t, later);
    await expectContinue(w, "after initial delay");
    expectResult(w, "success", "after initial delay");
    assert.equal(t.runner.calls, 1, "probed once, after the delay");
  }
});

// worker_test.go TestFailureThreshold
test("doProbe: a failure counts after failureThreshold in a row", async () => {
  const t = newTestManager();
  const w = newTestWorker(t, ProbeType.Readiness, { successThreshold: 1, failureThreshold: 3 });
  setStatus(t, getTestRunningStatus());
  for (let i = 0; i < 2; i++) {
    t.runner.exitCode = 0;
    for (let j = 0; j < 3; j++) {
      await expectContinue(w, `${j + 1} success (${i})`);
      expectResult(w, "success", `${j + 1} success (${i})`);
    }
    t.runner.exitCode = 1;
    for (let j = 0; j < 2; j++) {
      await expectContinue(w, `${j + 1} failing (${i})`);
      expectResult(w, "success", `${j + 1} failing (${i})`);
    }
    for (let j = 0; j < 3; j++) {
      await expectContinue(w, `${j + 3} failure (${i})`);
      expectResult(w, "failure", `${j + 3} failure (${i})`);
    }
  }
});

// worker_test.go TestSuccessThreshold
test("doProbe: a success counts after successThreshold in a row", async () => {
  const t = newTestManager();
  const w = newTestWorker(t, ProbeType.Readiness, { successThreshold: 3, failureThreshold: 1 });
  setStatus(t, getTestRunningStatus());
  for (let i = 0; i < 2; i++) {
    for (let j = 0; j < 2; j++) {
      await expectContinue(w, `${j + 1} success (${i})`);
      expectResult(w, "failure", `${j + 1} success (${i})`);
    }
    for (let j = 0; j < 3; j++) {
      await expectContinue(w, `${j + 3} success (${i})`);
      expectResult(w, "success", `${j + 3} success (${i})`);
    }
    // The prober flakes.
    t.runner.exitCode = 1;
    await expectContinue(w, `1 failure (${i})`);
    expectResult(w, "failure", `1 failure (${i})`);
    t.runner.exitCode = 0;
  }
});

// worker_test.go TestStartupProbeFailureThreshold and TestResultRunOnStartupCheckFailure
test("doProbe: a startup probe stays unknown until failureThreshold, then fails and holds", async () => {
  const t = newTestManager();
  const w = newTestWorker(t, ProbeType.Startup, { successThreshold: 1, failureThreshold: 3 });
  setStatus(t, getTestRunningStatusWithStarted(false));
  t.runner.exitCode = 1;
  for (let i = 0; i < 2; i++) {
    assert.equal(w.onHold, false);
    await expectContinue(w, `${i + 1} failure`);
    expectResult(w, "unknown", `${i + 1} failure`);
    assert.equal(w.resultRun, i + 1);
  }
  await expectContinue(w, "3rd failure");
  expectResult(w, "failure", "3rd failure");
  assert.equal(w.resultRun, 0, "reset for the next container");
  assert.equal(w.onHold, true);
  const calls = t.runner.calls;
  await expectContinue(w, "on hold");
  assert.equal(t.runner.calls, calls, "no probe while on hold");
});

// worker_test.go TestStartupProbeSuccessThreshold, as 1.28 has it: a success sets the result and does not
// hold the worker; it is the container's started status that ends the probing (next test).
test("doProbe: a startup probe succeeds after successThreshold", async () => {
  const t = newTestManager();
  const w = newTestWorker(t, ProbeType.Startup, { successThreshold: 1, failureThreshold: 3 });
  setStatus(t, getTestRunningStatusWithStarted(false));
  await expectContinue(w, "1 success");
  expectResult(w, "success", "1 success");
  assert.equal(w.onHold, false);
  assert.equal(w.resultRun, 1);
});

// worker_test.go TestOnHoldOnLivenessOrStartupCheckFailure
test("doProbe: a liveness or startup failure holds the worker until a new container", async () => {
  for (const probeType of [ProbeType.Liveness, ProbeType.Startup]) {
    const t = newTestManager();
    const w = newTestWorker(t, probeType, { successThreshold: 1, failureThreshold: 1 });
    const status = getTestRunningStatusWithStarted(probeType !== ProbeType.Startup);
    setStatus(t, status);
    t.runner.exitCode = 1;
    await expectContinue(w, "first probe");
    expectResult(w, "failure", "first probe");
    assert.equal(w.onHold, true);
    // Healthy again, but the worker does not look while on hold.
    t.runner.exitCode = 0;
    await expectContinue(w, "while on hold");
    expectResult(w, "failure", "while on hold");
    assert.equal(w.onHold, true);
    // A new container lifts the hold; the next probe succeeds.
    const cs = status.containerStatuses?.[0];
    if (cs) cs.containerID = "test://newCont_ID";
    await expectContinue(w, "hold lifted");
    expectResult(w, "success", "hold lifted");
    assert.equal(w.onHold, false);
    assert.equal(w.resultsManager.get(testContainerID), undefined, "the old container's result is gone");
  }
});

// worker_test.go TestResultRunOnLivenessCheckFailure
test("doProbe: the failure run resets once it reaches failureThreshold", async () => {
  const t = newTestManager();
  const w = newTestWorker(t, ProbeType.Liveness, { successThreshold: 1, failureThreshold: 3 });
  setStatus(t, getTestRunningStatus());
  await expectContinue(w, "initial probe success");
  expectResult(w, "success", "initial probe success");
  assert.equal(w.resultRun, 1);
  t.runner.exitCode = 1;
  await expectContinue(w, "probe failure, result success");
  expectResult(w, "success", "probe failure, result success");
  assert.equal(w.resultRun, 1);
  await expectContinue(w, "2nd probe failure, result success");
  expectResult(w, "success", "2nd probe failure, result success");
  assert.equal(w.resultRun, 2);
  await expectContinue(w, "3rd probe failure, result failure");
  expectResult(w, "failure", "3rd probe failure, result failure");
  assert.equal(w.resultRun, 0);
});

// worker_test.go TestLivenessProbeDisabledByStarted
test("doProbe: liveness waits for the container to have started", async () => {
  const t = newTestManager();
  const w = newTestWorker(t, ProbeType.Liveness, { successThreshold: 1, failureThreshold: 1 });
  const status = getTestRunningStatusWithStarted(false);
  setStatus(t, status);
  t.runner.exitCode = 1;
  await expectContinue(w, "not started, probe failure, result success");
  expectResult(w, "success", "not started, probe failure, result success");
  assert.equal(t.runner.calls, 0);
  const cs = status.containerStatuses?.[0];
  if (cs) cs.started = true;
  await expectContinue(w, "started, probe failure, result failure");
  expectResult(w, "failure", "started, probe failure, result failure");
});

// worker_test.go TestStartupProbeDisabledByStarted
test("doProbe: the startup probe rests once the container has started", async () => {
  const t = newTestManager();
  const w = newTestWorker(t, ProbeType.Startup, { successThreshold: 1, failureThreshold: 2 });
  const status = getTestRunningStatusWithStarted(false);
  setStatus(t, status);
  t.runner.exitCode = 1;
  await expectContinue(w, "not started, probe failure, result unknown");
  expectResult(w, "unknown", "not started, probe failure, result unknown");
  t.runner.exitCode = 0;
  await expectContinue(w, "started, probe success, result success");
  expectResult(w, "success", "started, probe success, result success");
  const cs = status.containerStatuses?.[0];
  if (cs) cs.started = true;
  t.runner.exitCode = 1;
  await expectContinue(w, "started, probe failure, result success");
  expectResult(w, "success", "started, probe failure, result success");
});

test("doProbe: a prober error is thrown away; every judged run reaches the metrics hook", async () => {
  const t = newTestManager();
  const seen: string[] = [];
  t.m.onProbeResult = (o) => seen.push(`${o.probeType}:${o.result}:${o.container.name}`);
  const w = newTestWorker(t, ProbeType.Readiness, {});
  setStatus(t, getTestRunningStatus());
  t.runner.error = new Error("runtime unreachable");
  await expectContinue(w, "prober error");
  expectResult(w, "failure", "prober error: still the initial value");
  assert.equal(t.runner.calls, 3, "retried");
  t.runner.error = undefined;
  await expectContinue(w, "success");
  expectResult(w, "success", "success");
  assert.deepEqual(seen, ["Readiness:success:cOnTaInEr_NaMe"]);
});

// worker_test.go TestCleanUp
test("run: probes every period; stop ends it and clears the result and the worker", async () => {
  for (const probeType of allTypes) {
    const t = newTestManager();
    const pod = getTestPod();
    setTestProbe(pod, probeType, {});
    setStatus(t, getTestRunningStatusWithStarted(probeType !== ProbeType.Startup));
    t.m.addPod(pod);
    const w = t.m.getWorker(testPodUID, pod.spec?.containers[0]?.name ?? "", probeType);
    assert.ok(w);
    for (let i = 0; i < 50 && w.resultsManager.get(testContainerID) !== "success"; i++) await sleep(20);
    assert.equal(w.resultsManager.get(testContainerID), "success", `[${probeType}] worker ran`);
    // Stop may be called any number of times.
    for (let i = 0; i < 10; i++) w.stop();
    await t.m.stop();
    assert.equal(w.resultsManager.get(testContainerID), undefined, `[${probeType}] result cleared`);
    assert.equal(t.m.workerCount(), 0, `[${probeType}] worker cleared`);
  }
});

/** Polls until `check` holds (at most `ms`). */
async function eventually(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${ms} ms`);
    await sleep(10);
  }
}

test("run: the probe runs every periodSeconds", async () => {
  const t = newTestManager();
  const pod = getTestPod();
  setTestProbe(pod, ProbeType.Readiness, { periodSeconds: 1 });
  setStatus(t, getTestRunningStatus());
  t.m.addPod(pod);
  try {
    await eventually(() => t.runner.calls >= 3, 10_000, "three probes");
    const [a = 0, b = 0, c = 0] = t.runner.at;
    assert.ok(b - a >= 950 && c - b >= 950, `probes ${b - a} and ${c - b} ms apart`);
  } finally {
    await t.m.stop();
  }
});

test("run: a manual trigger runs the probe now rather than a period later", async () => {
  const t = newTestManager();
  const pod = getTestPod();
  setTestProbe(pod, ProbeType.Readiness, { periodSeconds: 60 });
  setStatus(t, getTestRunningStatus());
  t.m.addPod(pod);
  const w = t.m.getWorker(testPodUID, pod.spec?.containers[0]?.name ?? "", ProbeType.Readiness);
  assert.ok(w);
  try {
    await eventually(() => t.runner.calls === 1, 5000, "the first probe");
    w.triggerManual();
    await eventually(() => t.runner.calls === 2, 5000, "the triggered probe");
  } finally {
    await t.m.stop();
  }
});
