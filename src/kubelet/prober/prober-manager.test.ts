import assert from "node:assert/strict";
import { test } from "node:test";
import type { Pod, Probe } from "kubernetes-types/core/v1.js";
import { ProbeType } from "./prober.js";
import type { ProberManager } from "./prober-manager.js";
import type { ResultUpdate } from "./results-manager.js";
import {
  getTestPod,
  getTestRunningStatus,
  newTestManager,
  setTestProbe,
  testContainerID,
  testContainerName,
  testPodUID,
} from "./testing.js";

const defaultProbe: Probe = {
  exec: { command: ["probe"] },
  timeoutSeconds: 1,
  periodSeconds: 1,
  successThreshold: 1,
  failureThreshold: 3,
};

type Key = [string, string, ProbeType];

/** expectProbes: exactly these workers exist. */
function expectProbes(m: ProberManager, keys: Key[], all: Key[]): void {
  for (const [uid, name, type] of all) {
    const want = keys.some(([u, n, t]) => u === uid && n === name && t === type);
    assert.equal(m.getWorker(uid, name, type) !== undefined, want, `worker ${uid}/${name}/${type}`);
  }
  assert.equal(m.workerCount(), keys.length, "worker count");
}

/** waitForWorkerExit: the workers have stopped and removed themselves. */
async function waitForWorkerExit(m: ProberManager, keys: Key[]): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (keys.every(([uid, name, type]) => !m.getWorker(uid, name, type))) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.fail(`workers still running: ${keys.map((k) => k.join("/"))}`);
}

// prober_manager_test.go TestAddRemovePods
test("addPod starts a worker per probe; removePod stops them", async () => {
  const { m } = newTestManager();
  try {
    const noProbePod: Pod = {
      metadata: { uid: "no_probe_pod" },
      spec: { containers: [{ name: "no_probe1" }, { name: "no_probe2" }, { name: "no_probe3" }] },
    };
    const probePod: Pod = {
      metadata: { uid: "probe_pod" },
      spec: {
        containers: [
          { name: "probe1" },
          { name: "readiness", readinessProbe: defaultProbe },
          { name: "probe2" },
          { name: "liveness", livenessProbe: defaultProbe },
          { name: "probe3" },
          { name: "startup", startupProbe: defaultProbe },
        ],
      },
    };
    const probePaths: Key[] = [
      ["probe_pod", "readiness", ProbeType.Readiness],
      ["probe_pod", "liveness", ProbeType.Liveness],
      ["probe_pod", "startup", ProbeType.Startup],
    ];
    const all: Key[] = [...probePaths, ["probe_pod", "readiness", ProbeType.Liveness]];
    expectProbes(m, [], all);
    m.addPod(noProbePod);
    expectProbes(m, [], all);
    m.addPod(probePod);
    expectProbes(m, probePaths, all);
    // Adding it again changes nothing.
    m.addPod(probePod);
    expectProbes(m, probePaths, all);
    m.removePod(noProbePod);
    expectProbes(m, probePaths, all);
    m.removePod(probePod);
    await waitForWorkerExit(m, probePaths);
    expectProbes(m, [], all);
    m.removePod(probePod);
    expectProbes(m, [], all);
  } finally {
    await m.stop();
  }
});

// prober_manager_test.go TestAddRemovePodsWithRestartableInitContainer
test("addPod probes restartable init containers when SidecarContainers is on", async () => {
  for (const sidecars of [false, true]) {
    const { m } = newTestManager(sidecars);
    try {
      const pod: Pod = {
        metadata: { uid: "restartable_init_container_pod" },
        spec: {
          initContainers: [
            { name: "init" },
            {
              name: "restartable-init",
              livenessProbe: defaultProbe,
              readinessProbe: defaultProbe,
              startupProbe: defaultProbe,
              restartPolicy: "Always",
            },
          ],
          containers: [{ name: "main" }],
        },
      };
      const keys: Key[] = sidecars
        ? Object.values(ProbeType).map((t): Key => ["restartable_init_container_pod", "restartable-init", t])
        : [];
      m.addPod(pod);
      expectProbes(m, keys, keys);
      m.removePod(pod);
      await waitForWorkerExit(m, keys);
      expectProbes(m, [], keys);
    } finally {
      await m.stop();
    }
  }
});

// prober_manager_test.go TestCleanupPods
test("cleanupPods stops the workers of pods no longer wanted", async () => {
  const { m } = newTestManager();
  try {
    const podOf = (uid: string): Pod => ({
      metadata: { uid },
      spec: {
        containers: [
          { name: "prober1", readinessProbe: defaultProbe },
          { name: "prober2", livenessProbe: defaultProbe },
          { name: "prober3", startupProbe: defaultProbe },
        ],
      },
    });
    m.addPod(podOf("pod_cleanup"));
    m.addPod(podOf("pod_keep"));
    m.cleanupPods(new Set(["pod_keep"]));
    const keysOf = (uid: string): Key[] => [
      [uid, "prober1", ProbeType.Readiness],
      [uid, "prober2", ProbeType.Liveness],
      [uid, "prober3", ProbeType.Startup],
    ];
    await waitForWorkerExit(m, keysOf("pod_cleanup"));
    expectProbes(m, keysOf("pod_keep"), [...keysOf("pod_keep"), ...keysOf("pod_cleanup")]);
  } finally {
    await m.stop();
  }
});

// prober_manager_test.go TestCleanupRepeated
test("cleanupPods may be called again and again", async () => {
  const { m } = newTestManager();
  for (let i = 0; i < 100; i++) {
    m.addPod({
      metadata: { uid: String(i) },
      spec: {
        containers: [
          {
            name: "prober1",
            readinessProbe: defaultProbe,
            livenessProbe: defaultProbe,
            startupProbe: defaultProbe,
          },
        ],
      },
    });
  }
  for (let i = 0; i < 10; i++) m.cleanupPods(new Set());
  await m.stop();
  assert.equal(m.workerCount(), 0);
});

test("stopLivenessAndStartup leaves readiness running", async () => {
  const { m } = newTestManager();
  const pod: Pod = {
    metadata: { uid: "p" },
    spec: {
      containers: [
        { name: "c", readinessProbe: defaultProbe, livenessProbe: defaultProbe, startupProbe: defaultProbe },
      ],
    },
  };
  try {
    m.addPod(pod);
    m.stopLivenessAndStartup(pod);
    await waitForWorkerExit(m, [
      ["p", "c", ProbeType.Liveness],
      ["p", "c", ProbeType.Startup],
    ]);
    assert.ok(m.getWorker("p", "c", ProbeType.Readiness));
  } finally {
    await m.stop();
  }
});

// prober_manager_test.go TestUpdateReadiness: the readiness stream as the kubelet's sync loop reads it.
test("a running readiness worker sends the container's readiness as it changes", async () => {
  const { m, runner, statuses } = newTestManager();
  const pod = getTestPod();
  setTestProbe(pod, ProbeType.Readiness, {});
  statuses.set(testPodUID, getTestRunningStatus());
  const next = async (): Promise<ResultUpdate> => {
    const signal = AbortSignal.timeout(5000);
    return m.readinessManager.updates.receive(signal);
  };
  try {
    m.addPod(pod);
    assert.deepEqual(await next(), { containerID: testContainerID, result: "failure", podUID: testPodUID });
    assert.deepEqual(await next(), { containerID: testContainerID, result: "success", podUID: testPodUID });
    runner.exitCode = 1;
    assert.deepEqual(await next(), { containerID: testContainerID, result: "failure", podUID: testPodUID });
  } finally {
    await m.stop();
  }
});

test("triggerReadinessProbes runs the readiness probe of a started, unready container now", async () => {
  const { m, runner, statuses } = newTestManager();
  const pod = getTestPod();
  setTestProbe(pod, ProbeType.Readiness, { periodSeconds: 60 });
  const status = getTestRunningStatus();
  statuses.set(testPodUID, status);
  try {
    m.addPod(pod);
    await m.readinessManager.updates.receive(AbortSignal.timeout(5000));
    await m.readinessManager.updates.receive(AbortSignal.timeout(5000));
    assert.equal(runner.calls, 1);
    // Ready: nothing to do.
    const cs = status.containerStatuses?.[0];
    if (cs) cs.ready = true;
    m.triggerReadinessProbes(testPodUID, status);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(runner.calls, 1);
    if (cs) cs.ready = false;
    m.triggerReadinessProbes(testPodUID, status);
    for (let i = 0; i < 250 && runner.calls < 2; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(
      runner.calls,
      2,
      `the ${testContainerName} readiness probe ran again long before its period`,
    );
  } finally {
    await m.stop();
  }
});
