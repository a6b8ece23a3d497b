import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.js";
import { hashContainer } from "./hash.js";
import {
  Backoff,
  backOffPeriodMs,
  doBackOff,
  getStableKey,
  maxContainerBackOffMs,
  shouldContainerBeRestarted,
} from "./helpers.js";
import { ContainerState, type PodStatus, type Status } from "./runtime.js";

class FakeClock {
  constructor(private t: number) {}
  now() {
    return this.t;
  }
  step(ms: number) {
    this.t += ms;
  }
  setTime(ms: number) {
    this.t = ms;
  }
}

const containerStatus = (name: string, state: ContainerState, exitCode = 0, finishedAt?: Date): Status => ({
  id: { type: "berth", id: `${name}-${state}-${exitCode}` },
  name,
  state,
  createdAt: new Date(0),
  finishedAt,
  exitCode,
  image: "",
  imageID: "",
  hash: "",
  restartCount: 0,
  reason: "",
  message: "",
});

const podStatus = (containerStatuses: Status[]): PodStatus => ({
  id: "12345678",
  name: "foo",
  namespace: "new",
  ips: [],
  sandboxStatuses: [],
  containerStatuses,
  timeStamp: new Date(0),
});

// TestShouldContainerBeRestarted (pkg/kubelet/container/helpers_test.go)
describe("TestShouldContainerBeRestarted", () => {
  const names = ["no-history", "alive", "succeed", "failed", "unknown"];
  const pod: Pod = {
    metadata: { uid: "12345678", name: "foo", namespace: "new" },
    spec: { containers: names.map((name) => ({ name })) },
  };
  // Newest first: "alive" runs now, an older instance exited.
  const status = podStatus([
    containerStatus("alive", ContainerState.Running),
    containerStatus("succeed", ContainerState.Exited, 0),
    containerStatus("failed", ContainerState.Exited, 1),
    containerStatus("alive", ContainerState.Exited, 2),
    containerStatus("unknown", ContainerState.Unknown),
    containerStatus("failed", ContainerState.Exited, 3),
  ]);
  const policies = ["Never", "OnFailure", "Always"];
  const run = (expected: Record<string, boolean[]>) => {
    for (const container of pod.spec?.containers ?? []) {
      policies.forEach((policy, i) => {
        (pod.spec ?? { containers: [] }).restartPolicy = policy;
        assert.equal(
          shouldContainerBeRestarted(container, pod, status),
          expected[container.name]?.[i],
          `${container.name} under ${policy}`,
        );
      });
    }
  };

  test("by restart policy", () => {
    run({
      "no-history": [true, true, true],
      alive: [false, false, false],
      succeed: [false, false, true],
      failed: [false, true, true],
      unknown: [true, true, true],
    });
  });

  test("a deleted pod restarts nothing", () => {
    pod.metadata = { ...pod.metadata, deletionTimestamp: new Date().toISOString() };
    const never = [false, false, false];
    run({ "no-history": never, alive: never, succeed: never, failed: never, unknown: never });
  });

  test("a created-but-not-started container is started even under Never", () => {
    const p: Pod = { spec: { restartPolicy: "Never", containers: [{ name: "c" }] } };
    const s = podStatus([containerStatus("c", ContainerState.Created)]);
    assert.equal(shouldContainerBeRestarted({ name: "c" }, p, s), true);
  });
});

// staging/src/k8s.io/client-go/util/flowcontrol/backoff_test.go
describe("flowcontrol.Backoff", () => {
  const step = 1000;
  const start = Date.parse("2024-01-01T00:00:00Z");

  test("TestSlowBackoff", () => {
    const id = "_idSlow";
    const tc = new FakeClock(start);
    const b = new Backoff(step, 50 * step, tc);
    for (const [ix, c] of [0, 1, 2, 4, 8, 16, 32, 50, 50, 50].entries()) {
      tc.step(step);
      assert.equal(b.get(id), c * step, `input ${ix}`);
      b.next(id, tc.now());
    }
    // Reset cancels the back-off.
    b.next(id, tc.now());
    b.reset(id);
    assert.equal(b.get(id), 0);
  });

  test("TestBackoffReset", () => {
    const id = "_idReset";
    const tc = new FakeClock(start);
    const maxDuration = 5 * step;
    const b = new Backoff(step, maxDuration, tc);
    for (let i = 0; i <= maxDuration / step; i++) {
      tc.step(step);
      b.next(id, tc.now());
    }
    assert.equal(b.isInBackOffSince(id, tc.now()), true, "capped at the maximum");
    const lastUpdate = tc.now();
    tc.step(2 * maxDuration + step);
    assert.equal(b.isInBackOffSince(id, lastUpdate), false, "quiet for more than twice the maximum");
  });

  test("TestBackoffHighWaterMark", () => {
    const id = "_idHiWaterMark";
    const tc = new FakeClock(start);
    const maxDuration = 5 * step;
    const b = new Backoff(step, maxDuration, tc);
    for (let i = 0; i <= maxDuration / step; i++) {
      tc.step(step);
      b.next(id, tc.now());
    }
    // The high-water mark holds until twice the maximum has passed.
    tc.step(maxDuration + step);
    b.next(id, tc.now());
    assert.equal(b.get(id), maxDuration);
  });

  test("TestBackoffGC", () => {
    const id = "_idGC";
    const tc = new FakeClock(start);
    const maxDuration = 5 * step;
    const b = new Backoff(step, maxDuration, tc);
    for (let i = 0; i <= maxDuration / step; i++) {
      tc.step(step);
      b.next(id, tc.now());
    }
    tc.step(maxDuration + step);
    b.gc();
    assert.equal(b.get(id), maxDuration, "kept before twice the maximum");
    tc.step(maxDuration + step);
    b.gc();
    assert.equal(b.get(id), 0, "collected after twice the maximum");
  });

  test("TestIsInBackOffSinceUpdate", () => {
    const id = "_idIsInBackOffSinceUpdate";
    const tc = new FakeClock(start);
    const b = new Backoff(step, 10 * step, tc);
    const cases: [tick: number, inBackOff: boolean, value: number][] = [
      [0, false, 0],
      [1, false, 1],
      [2, true, 2],
      [3, false, 2],
      [4, true, 4],
      [5, true, 4],
      [6, true, 4],
      [7, false, 4],
      [8, true, 8],
      [9, true, 8],
      [10, true, 8],
      [11, true, 8],
      [12, true, 8],
      [13, true, 8],
      [14, true, 8],
      [15, false, 8],
      [16, true, 10],
      [17, true, 10],
      [18, true, 10],
      [19, true, 10],
      [20, true, 10],
      [21, true, 10],
      [22, true, 10],
      [23, true, 10],
      [24, true, 10],
      [25, false, 10],
      [26, true, 10],
      [27, true, 10],
      [28, true, 10],
      [29, true, 10],
      [30, true, 10],
      [31, true, 10],
      [32, true, 10],
      [33, true, 10],
      [34, true, 10],
      [35, false, 10],
      [56, false, 0],
      [57, false, 1],
    ];
    for (const [tick, inBackOff, value] of cases) {
      tc.setTime(start + tick * step);
      assert.equal(b.isInBackOffSinceUpdate(id, tc.now()), inBackOff, `tick ${tick}`);
      if (inBackOff) assert.equal(b.get(id), value * step, `value at tick ${tick}`);
      else b.next(id, tc.now());
    }
  });
});

describe("crash-loop back-off (kuberuntime doBackOff)", () => {
  const pod: Pod = {
    metadata: { uid: "12345678", name: "foo", namespace: "new" },
    spec: { containers: [{ name: "app", image: "busybox" }] },
  };
  const app = { name: "app", image: "busybox" };

  test("the key names the pod, the container and its spec's hash", () => {
    assert.equal(getStableKey(pod, app), `foo_new_12345678_app_${hashContainer(app)}`);
    assert.notEqual(getStableKey(pod, { ...app, image: "busybox:1.36" }), getStableKey(pod, app));
  });

  test("waits 10s, 20s, 40s … up to 5m after each exit, counted from when it finished", () => {
    const clock = new FakeClock(Date.parse("2024-01-01T00:00:00Z"));
    const backOff = new Backoff(backOffPeriodMs, maxContainerBackOffMs, clock);
    // The container runs for a second, then exits.
    const runAndExit = () => {
      clock.step(1000);
      return podStatus([containerStatus("app", ContainerState.Exited, 1, new Date(clock.now()))]);
    };
    // The first exit is recorded and the container restarts at once.
    assert.equal(doBackOff(pod, app, runAndExit(), backOff), undefined);
    for (const delay of ["10s", "20s", "40s", "1m20s", "2m40s", "5m0s", "5m0s"]) {
      const exited = runAndExit();
      clock.step(1000);
      assert.deepEqual(doBackOff(pod, app, exited, backOff), {
        reason: "CrashLoopBackOff",
        message: `back-off ${delay} restarting failed container=app pod=foo_new(12345678)`,
      });
      // Once the delay has passed since the exit, the restart goes ahead.
      clock.step(backOff.get(getStableKey(pod, app)));
      assert.equal(doBackOff(pod, app, exited, backOff), undefined);
    }
  });

  test("a running container or one that never exited is not held back", () => {
    const backOff = new Backoff(backOffPeriodMs, maxContainerBackOffMs, new FakeClock(0));
    assert.equal(doBackOff(pod, app, podStatus([]), backOff), undefined);
    assert.equal(
      doBackOff(pod, app, podStatus([containerStatus("app", ContainerState.Running)]), backOff),
      undefined,
    );
    assert.equal(backOff.get(getStableKey(pod, app)), 0);
  });
});
