import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { pino } from "pino";
import { PodSandboxState, PodSandboxStatusSchema } from "../../cri/gen/runtime/v1/api_pb.js";
import { Cache } from "../container/cache.js";
import { ContainerState, type PodStatus } from "../container/runtime.js";
import type { PodRuntime, RuntimeContainer, RuntimePod } from "../kuberuntime/pod-status.js";
import { KubeletMetrics } from "../metrics/metrics.js";
import { GenericPLEG } from "./generic.js";
import { EventChannel, PodLifeCycleEventType, type PodLifecycleEvent } from "./pleg.js";

// Ported from pkg/kubelet/pleg/generic_test.go. Upstream drives the PLEG with a fake runtime; this
// one answers GetPods from a list the test sets, and GetPodStatus from statuses it sets (or an error),
// counting the calls. The real runtimes are driven in test/kubelet-pod-status.test.ts.

const log = pino({ level: "silent" });
const { ContainerStarted, ContainerDied, ContainerRemoved } = PodLifeCycleEventType;

class TestRuntime implements PodRuntime {
  pods: RuntimePod[] = [];
  /** GetPodStatus answers by pod UID; without an entry, a status naming the pod's containers. */
  statuses = new Map<string, PodStatus | Error>();
  statusCalls: string[] = [];

  async getPods(): Promise<RuntimePod[]> {
    return this.pods;
  }

  async getPodStatus(uid: string): Promise<PodStatus> {
    this.statusCalls.push(uid);
    const answer = this.statuses.get(uid);
    if (answer instanceof Error) throw answer;
    return (
      answer ??
      podStatus(
        uid,
        (this.pods.find((p) => p.id === uid)?.containers ?? []).map((c) => [c.id.id, c.state]),
      )
    );
  }
}

function container(id: string, state: ContainerState): RuntimeContainer {
  return { id: { type: "fooRuntime", id }, name: "", image: "", imageID: "", hash: "", state };
}

function pod(id: string, containers: RuntimeContainer[], sandboxes: RuntimeContainer[] = []): RuntimePod {
  return { id, name: "", namespace: "", createdAt: 0n, containers, sandboxes };
}

function podStatus(id: string, containers: [string, ContainerState][], ips: string[] = []): PodStatus {
  return {
    id,
    name: "",
    namespace: "",
    ips,
    sandboxStatuses: [],
    timeStamp: new Date(0),
    containerStatuses: containers.map(([cid, state]) => ({
      id: { type: "fooRuntime", id: cid },
      name: "",
      state,
      createdAt: new Date(0),
      exitCode: 0,
      image: "",
      imageID: "",
      hash: "",
      restartCount: 0,
      reason: "",
      message: "",
    })),
  };
}

function newTestPLEG(channelCapacity = 100, clock = { now: () => 0 }) {
  const runtime = new TestRuntime();
  const cache = new Cache();
  const pleg = new GenericPLEG(runtime, cache, {
    log,
    channelCapacity,
    clock,
    relistDuration: { relistPeriodMs: 3_600_000, relistThresholdMs: 180_000 },
  });
  return { pleg, runtime, cache, ch: pleg.watch() };
}

function drain(ch: EventChannel<PodLifecycleEvent>): PodLifecycleEvent[] {
  const out: PodLifecycleEvent[] = [];
  for (let e = ch.tryReceive(); e !== undefined; e = ch.tryReceive()) out.push(e);
  return out;
}

const sorted = (events: PodLifecycleEvent[]) =>
  [...events].sort((a, b) => a.id.localeCompare(b.id) || a.data.localeCompare(b.data));

const ev = (id: string, type: PodLifecycleEvent["type"], data: string): PodLifecycleEvent => ({
  id,
  type,
  data,
});

describe("relisting", () => {
  for (const kind of ["containers", "sandboxes"] as const) {
    // TestRelisting and TestRelistingWithSandboxes: sandboxes are followed as containers.
    test(`reports each ${kind === "containers" ? "container" : "sandbox"} state change once`, async () => {
      const { pleg, runtime, ch } = newTestPLEG();
      const mk = (id: string, cs: RuntimeContainer[]) =>
        kind === "containers" ? pod(id, cs) : pod(id, [], cs);
      runtime.pods = [
        mk("1234", [
          container("c1", ContainerState.Exited),
          container("c2", ContainerState.Running),
          container("c3", ContainerState.Unknown),
        ]),
        mk("4567", [container("c1", ContainerState.Exited)]),
      ];
      await pleg.relist();
      // Every running or exited container is reported when first seen.
      assert.deepEqual(
        sorted(drain(ch)),
        sorted([
          ev("1234", ContainerStarted, "c2"),
          ev("4567", ContainerDied, "c1"),
          ev("1234", ContainerDied, "c1"),
        ]),
      );

      // Nothing changed, nothing to report.
      await pleg.relist();
      assert.deepEqual(drain(ch), []);

      runtime.pods = [
        mk("1234", [container("c2", ContainerState.Exited), container("c3", ContainerState.Running)]),
        mk("4567", [container("c4", ContainerState.Running)]),
      ];
      await pleg.relist();
      assert.deepEqual(
        sorted(drain(ch)),
        sorted([
          ev("1234", ContainerRemoved, "c1"),
          ev("1234", ContainerDied, "c2"),
          ev("1234", ContainerStarted, "c3"),
          ev("4567", ContainerRemoved, "c1"),
          ev("4567", ContainerStarted, "c4"),
        ]),
      );
    });
  }

  test("drops events when the channel is full (TestEventChannelFull)", async () => {
    const { pleg, runtime, ch } = newTestPLEG(4);
    runtime.pods = [
      pod("1234", [
        container("c1", ContainerState.Exited),
        container("c2", ContainerState.Running),
        container("c3", ContainerState.Unknown),
      ]),
      pod("4567", [container("c1", ContainerState.Exited)]),
    ];
    await pleg.relist();
    assert.equal(drain(ch).length, 3);
    runtime.pods = [
      pod("1234", [container("c2", ContainerState.Exited), container("c3", ContainerState.Running)]),
      pod("4567", [container("c4", ContainerState.Running)]),
    ];
    await pleg.relist();
    const all = [
      ev("1234", ContainerRemoved, "c1"),
      ev("1234", ContainerDied, "c2"),
      ev("1234", ContainerStarted, "c3"),
      ev("4567", ContainerRemoved, "c1"),
      ev("4567", ContainerStarted, "c4"),
    ];
    const got = drain(ch);
    assert.equal(got.length, 4);
    for (const e of got)
      assert.ok(
        all.some((x) => JSON.stringify(x) === JSON.stringify(e)),
        JSON.stringify(e),
      );
  });

  // TestDetectingContainerDeaths: after 1 and after 3 relists of the running state.
  for (const numRelists of [1, 3]) {
    test(`reports containers that disappeared (after ${numRelists} relists)`, async () => {
      const { pleg, runtime, ch } = newTestPLEG();
      runtime.pods = [
        pod("1234", [
          container("c1", ContainerState.Running),
          container("c2", ContainerState.Running),
          container("c3", ContainerState.Exited),
        ]),
      ];
      for (let i = 0; i < numRelists; i++) {
        await pleg.relist();
        drain(ch);
      }
      // c2 stopped and was removed between relists; the exited c3 was garbage collected.
      runtime.pods = [pod("1234", [container("c1", ContainerState.Running)])];
      await pleg.relist();
      assert.deepEqual(
        sorted(drain(ch)),
        sorted([
          ev("1234", ContainerDied, "c2"),
          ev("1234", ContainerRemoved, "c2"),
          ev("1234", ContainerRemoved, "c3"),
        ]),
      );
    });

    test(`reports pods that disappeared (after ${numRelists} relists)`, async () => {
      const { pleg, runtime, ch } = newTestPLEG();
      runtime.pods = [pod("1234", [container("c2", ContainerState.Running)])];
      for (let i = 0; i < numRelists; i++) {
        await pleg.relist();
        drain(ch);
      }
      runtime.pods = [];
      await pleg.relist();
      assert.deepEqual(
        sorted(drain(ch)),
        sorted([ev("1234", ContainerDied, "c2"), ev("1234", ContainerRemoved, "c2")]),
      );
    });
  }
});

describe("the pod cache", () => {
  test("holds each changed pod's status or error; a pod that failed is retried (TestRelistWithCache)", async () => {
    const { pleg, runtime, cache, ch } = newTestPLEG();
    runtime.pods = [
      pod("test-pod-0", [container("c0", ContainerState.Running)]),
      pod("test-pod-1", [container("c1", ContainerState.Running)]),
    ];
    const status0 = podStatus("test-pod-0", [["c0", ContainerState.Running]]);
    const status1 = podStatus("test-pod-1", [["c1", ContainerState.Running]]);
    const statusErr = new Error("unable to get status");
    runtime.statuses.set("test-pod-0", status0);
    runtime.statuses.set("test-pod-1", statusErr);
    await pleg.relist();
    assert.deepEqual(cache.get("test-pod-0"), { status: status0 });
    assert.deepEqual(cache.get("test-pod-1"), { status: undefined, error: statusErr });
    // No event for the pod whose status could not be read.
    assert.deepEqual(drain(ch), [ev("test-pod-0", ContainerStarted, "c0")]);

    runtime.statuses.set("test-pod-1", status1);
    runtime.statusCalls = [];
    await pleg.relist();
    assert.deepEqual(runtime.statusCalls, ["test-pod-1"]);
    assert.deepEqual(cache.get("test-pod-0"), { status: status0 });
    assert.deepEqual(cache.get("test-pod-1"), { status: status1 });
    assert.deepEqual(drain(ch), [ev("test-pod-1", ContainerStarted, "c1")]);
  });

  test("forgets a pod gone from the runtime (TestRemoveCacheEntry)", async () => {
    const { pleg, runtime, cache } = newTestPLEG();
    runtime.pods = [pod("test-pod-0", [container("c0", ContainerState.Running)])];
    await pleg.relist();
    assert.equal(cache.get("test-pod-0").status?.containerStatuses.length, 1);
    runtime.pods = [];
    await pleg.relist();
    assert.deepEqual(cache.get("test-pod-0").status?.containerStatuses, []);
  });

  test("reinspects a pod whose status failed, without repeating its events (TestRelistWithReinspection)", async () => {
    const { pleg, runtime, cache, ch } = newTestPLEG();
    const infra = container("infra", ContainerState.Running);
    runtime.pods = [pod("test-pod", [infra])];
    const good = podStatus("test-pod", [["infra", ContainerState.Running]]);
    runtime.statuses.set("test-pod", good);
    await pleg.relist();
    assert.deepEqual(cache.get("test-pod"), { status: good });
    assert.deepEqual(drain(ch), [ev("test-pod", ContainerStarted, "infra")]);

    // The runtime is creating another container and inspecting the pod fails.
    runtime.pods = [pod("test-pod", [infra, container("transient", ContainerState.Unknown)])];
    const inspectionError = new Error("inspection error");
    runtime.statuses.set("test-pod", inspectionError);
    await pleg.relist();
    assert.deepEqual(cache.get("test-pod"), { status: undefined, error: inspectionError });
    assert.deepEqual(drain(ch), []);

    // The transient container is gone: the pod is read again, and as its containers are those of
    // the first list, nothing changed.
    runtime.pods = [pod("test-pod", [infra])];
    runtime.statuses.set("test-pod", good);
    runtime.statusCalls = [];
    await pleg.relist();
    assert.deepEqual(runtime.statusCalls, ["test-pod"]);
    assert.deepEqual(cache.get("test-pod"), { status: good });
    assert.deepEqual(drain(ch), []);
  });

  // TestRelistIPChange: a finished pod keeps the IPs it had.
  for (const ips of [["192.168.1.5"], ["192.168.1.5/24", "2000::"]]) {
    test(`keeps the pod's IPs ${JSON.stringify(ips)} once its sandbox is gone`, async () => {
      const { pleg, runtime, cache, ch } = newTestPLEG();
      runtime.pods = [pod("test-pod", [container("c0", ContainerState.Running)])];
      runtime.statuses.set("test-pod", podStatus("test-pod", [["c0", ContainerState.Running]], ips));
      await pleg.relist();
      assert.deepEqual(cache.get("test-pod").status?.ips, ips);
      assert.deepEqual(drain(ch), [ev("test-pod", ContainerStarted, "c0")]);

      runtime.pods = [pod("test-pod", [container("c0", ContainerState.Exited)])];
      runtime.statuses.set("test-pod", podStatus("test-pod", [["c0", ContainerState.Exited]]));
      await pleg.relist();
      assert.deepEqual(cache.get("test-pod").status?.ips, ips);
      assert.deepEqual(drain(ch), [ev("test-pod", ContainerDied, "c0")]);
    });
  }

  test("takes no old IPs while a sandbox is ready", async () => {
    const { pleg, runtime, cache } = newTestPLEG();
    runtime.pods = [pod("p", [container("c0", ContainerState.Running)])];
    runtime.statuses.set("p", podStatus("p", [["c0", ContainerState.Running]], ["10.0.0.1"]));
    await pleg.relist();
    runtime.pods = [pod("p", [container("c0", ContainerState.Exited)])];
    const noIPs = podStatus("p", [["c0", ContainerState.Exited]]);
    noIPs.sandboxStatuses = [
      create(PodSandboxStatusSchema, { id: "s", state: PodSandboxState.SANDBOX_READY }),
    ];
    runtime.statuses.set("p", noIPs);
    await pleg.relist();
    assert.deepEqual(cache.get("p").status?.ips, []);
  });

  test("a reader waiting for a newer status gets it from the next relist", async () => {
    const now = { t: 1000 };
    const { pleg, runtime, cache } = newTestPLEG(100, { now: () => now.t });
    runtime.pods = [pod("p", [container("c0", ContainerState.Running)])];
    const waiting = cache.getNewerThan("p", new Date(1500));
    now.t = 2000;
    await pleg.relist();
    assert.equal((await waiting).status?.containerStatuses[0]?.state, ContainerState.Running);
  });
});

test("is healthy only within the threshold after a relist (TestHealthy)", async () => {
  const now = { t: 0 };
  const { pleg } = newTestPLEG(100, { now: () => now.t });
  assert.equal(pleg.healthy().ok, false);
  assert.match(pleg.healthy().error?.message ?? "", /pleg has yet to be successful/);
  now.t += 10 * 60_000;
  assert.equal(pleg.healthy().ok, false);
  await pleg.relist();
  now.t += 60_000;
  assert.deepEqual(pleg.healthy(), { ok: true });
  now.t += 180_000;
  assert.equal(pleg.healthy().ok, false);
  assert.match(pleg.healthy().error?.message ?? "", /pleg was last seen active 4m0s ago; threshold is 3m0s/);
});

test("start relists at once and every period until stop", async () => {
  const runtime = new TestRuntime();
  let lists = 0;
  runtime.getPods = async () => {
    lists++;
    return [];
  };
  const pleg = new GenericPLEG(runtime, new Cache(), {
    log,
    relistDuration: { relistPeriodMs: 20, relistThresholdMs: 1000 },
  });
  pleg.start();
  // A second start changes nothing.
  pleg.start();
  for (const deadline = Date.now() + 5000; lists < 3; ) {
    assert.ok(Date.now() < deadline, `only ${lists} relists in 5 s`);
    await new Promise((r) => setTimeout(r, 10));
  }
  await pleg.stop();
  const seen = lists;
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(lists, seen, "no relist after stop");
  assert.equal(pleg.healthy().ok, true);
});

describe("EventChannel", () => {
  test("buffers up to its capacity and hands values to a waiting reader first", async () => {
    const ch = new EventChannel<number>(2);
    assert.equal(ch.trySend(1), true);
    assert.equal(ch.trySend(2), true);
    assert.equal(ch.trySend(3), false);
    assert.equal(ch.length, 2);
    assert.equal(await ch.receive(), 1);
    assert.equal(ch.tryReceive(), 2);
    const next = ch.receive();
    assert.equal(ch.trySend(4), true);
    assert.equal(await next, 4);
    assert.equal(ch.length, 0);
  });

  test("an aborted receive rejects and takes nothing", async () => {
    const ch = new EventChannel<number>(1);
    const ac = new AbortController();
    const waiting = ch.receive(ac.signal);
    ac.abort();
    await assert.rejects(waiting, /canceled/);
    assert.equal(ch.trySend(5), true);
    assert.equal(ch.tryReceive(), 5);
  });
});

// TestRunningPodAndContainerCount: each relist counts the pods with a running sandbox and the
// containers by state, and times itself.
test("a relist sets kubelet_running_pods and kubelet_running_containers", async () => {
  const runtime = new TestRuntime();
  const metrics = new KubeletMetrics();
  const pleg = new GenericPLEG(runtime, new Cache(), { log, metrics });
  const { Running, Unknown, Exited } = ContainerState;
  runtime.pods = [
    pod(
      "1234",
      [container("c1", Running), container("c2", Unknown), container("c3", Unknown)],
      [container("s1", Running), container("s2", Running), container("s3", Unknown)],
    ),
    pod("4567", [container("c1", Exited)], [container("s1", Running), container("s2", Exited)]),
  ];
  await pleg.relist();
  await pleg.relist();
  const text = await metrics.registry.metrics();
  for (const line of [
    "# HELP kubelet_running_containers [ALPHA] Number of containers currently running",
    'kubelet_running_containers{container_state="exited"} 1',
    'kubelet_running_containers{container_state="running"} 1',
    'kubelet_running_containers{container_state="unknown"} 2',
    'kubelet_running_containers{container_state="created"} 0',
    "# HELP kubelet_running_pods [ALPHA] Number of pods that have a running pod sandbox",
    "kubelet_running_pods 2",
    "kubelet_pleg_relist_duration_seconds_count 2",
    "kubelet_pleg_relist_interval_seconds_count 1",
  ]) {
    assert.ok(text.split("\n").includes(line), `missing ${line}`);
  }
});
