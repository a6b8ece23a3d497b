// The merge semantics of pkg/kubelet/config/config_test.go (kubelet 1.28), incremental mode.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isDeepStrictEqual } from "node:util";
import type { Pod } from "kubernetes-types/core/v1.js";
import type { MutablePod } from "./common.js";
import {
  AllSource,
  ConfigFirstSeenAnnotationKey,
  ConfigSourceAnnotationKey,
  formatTimestamp,
  isStaticPod,
  PodConfig,
  type PodOperation,
  type PodUpdate,
  podsDifferSemantically,
} from "./pod-config.js";

const TestSource = "test";

/** CreateValidPod */
function createValidPod(name: string, namespace: string): MutablePod {
  return {
    metadata: { uid: name + namespace, name, namespace },
    spec: {
      restartPolicy: "Always",
      dnsPolicy: "ClusterFirst",
      containers: [
        {
          name: "ctr",
          image: "image",
          imagePullPolicy: "IfNotPresent",
          securityContext: { privileged: false },
          terminationMessagePolicy: "File",
        },
      ],
    },
  };
}

function update(op: PodOperation, source: string, ...pods: Pod[]): PodUpdate {
  return { op, pods, source };
}

function tester() {
  const config = new PodConfig({ now: () => new Date("2024-05-06T07:08:09.120Z") });
  return { config, channel: config.channel(TestSource) };
}

const byNamespace = (pods: Pod[]) =>
  [...pods].sort((a, b) => (a.metadata?.namespace ?? "").localeCompare(b.metadata?.namespace ?? ""));

/** expectPodUpdate: exactly these updates are queued, pods compared without the kubelet's own annotations. */
function expectPodUpdate(config: PodConfig, ...expected: PodUpdate[]) {
  for (const want of expected) {
    const got = config.next();
    assert.ok(got, `expected ${want.op} from ${want.source}, got nothing`);
    assert.equal(got.op, want.op);
    assert.equal(got.source, want.source);
    assert.equal(got.pods.length, want.pods.length, `pods of ${got.op}`);
    const gotPods = byNamespace(got.pods);
    byNamespace(want.pods).forEach((p, i) => {
      const g = gotPods[i] as Pod;
      assert.ok(
        !podsDifferSemantically(p, g) && isDeepStrictEqual(p.status, g.status),
        `pod ${i} of ${got.op}`,
      );
    });
  }
  expectNoPodUpdate(config);
}

function expectNoPodUpdate(config: PodConfig) {
  assert.equal(config.next(), undefined);
}

describe("PodConfig", () => {
  it("TestNewPodAdded", () => {
    const { config, channel } = tester();
    channel(update("ADD", TestSource, createValidPod("foo", "new")));
    expectPodUpdate(config, update("ADD", TestSource, createValidPod("foo", "new")));
    config.sync();
    expectPodUpdate(config, update("SET", AllSource, createValidPod("foo", "new")));
  });

  for (const [name, namespace] of [
    ["TestNewPodAddedInvalidNamespace", ""],
    ["TestNewPodAddedDefaultNamespace", "default"],
  ]) {
    it(name as string, () => {
      const { config, channel } = tester();
      channel(update("ADD", TestSource, createValidPod("foo", namespace as string)));
      expectPodUpdate(config, update("ADD", TestSource, createValidPod("foo", namespace as string)));
      config.sync();
      expectPodUpdate(config, update("SET", AllSource, createValidPod("foo", namespace as string)));
    });
  }

  it("TestNewPodAddedDifferentNamespaces", () => {
    const { config, channel } = tester();
    channel(update("ADD", TestSource, createValidPod("foo", "default")));
    expectPodUpdate(config, update("ADD", TestSource, createValidPod("foo", "default")));
    channel(update("ADD", TestSource, createValidPod("foo", "new")));
    expectPodUpdate(config, update("ADD", TestSource, createValidPod("foo", "new")));
    config.sync();
    expectPodUpdate(
      config,
      update("SET", AllSource, createValidPod("foo", "default"), createValidPod("foo", "new")),
    );
  });

  it("TestInvalidPodFiltered", () => {
    const { config, channel } = tester();
    channel(update("ADD", TestSource, createValidPod("foo", "new")));
    expectPodUpdate(config, update("ADD", TestSource, createValidPod("foo", "new")));
    // The same pod again is no change.
    channel(update("ADD", TestSource, createValidPod("foo", "new")));
    expectNoPodUpdate(config);
  });

  it("drops a second pod of the same name in one update (filterInvalidPods)", () => {
    const { config, channel } = tester();
    const twin = {
      ...createValidPod("foo", "new"),
      metadata: { uid: "other", name: "foo", namespace: "new" },
    };
    channel(update("SET", TestSource, createValidPod("foo", "new"), twin));
    const got = config.next();
    assert.equal(got?.op, "ADD");
    assert.deepEqual(
      got?.pods.map((p) => p.metadata?.uid),
      ["foonew"],
    );
  });

  it("TestNewPodAddedUpdatedRemoved", () => {
    const { config, channel } = tester();
    channel(update("ADD", TestSource, createValidPod("foo", "new")));
    expectPodUpdate(config, update("ADD", TestSource, createValidPod("foo", "new")));
    // An ADD of a known pod with another spec is an UPDATE.
    const pod = createValidPod("foo", "new");
    pod.spec = {
      ...pod.spec,
      containers: [
        { name: "bar", image: "test", imagePullPolicy: "IfNotPresent", terminationMessagePolicy: "File" },
      ],
    };
    channel(update("ADD", TestSource, pod));
    expectPodUpdate(config, update("UPDATE", TestSource, pod));
    channel(update("REMOVE", TestSource, createValidPod("foo", "new")));
    expectPodUpdate(config, update("REMOVE", TestSource, pod));
  });

  it("TestNewPodAddedDelete", () => {
    const { config, channel } = tester();
    const added = createValidPod("foo", "new");
    channel(update("ADD", TestSource, added));
    expectPodUpdate(config, update("ADD", TestSource, added));
    const deleted = createValidPod("foo", "new");
    deleted.metadata = { ...deleted.metadata, deletionTimestamp: "2024-05-06T07:09:00Z" };
    channel(update("DELETE", TestSource, deleted));
    // The existing pod is gracefully deleted: the update carries it with the deletion timestamp.
    const got = config.next();
    assert.equal(got?.op, "DELETE");
    assert.equal(got?.pods[0]?.metadata?.deletionTimestamp, "2024-05-06T07:09:00Z");
    expectNoPodUpdate(config);
  });

  it("TestNewPodAddedUpdatedSet", () => {
    const { config, channel } = tester();
    channel(
      update(
        "ADD",
        TestSource,
        createValidPod("foo", "new"),
        createValidPod("foo2", "new"),
        createValidPod("foo3", "new"),
      ),
    );
    expectPodUpdate(
      config,
      update(
        "ADD",
        TestSource,
        createValidPod("foo", "new"),
        createValidPod("foo2", "new"),
        createValidPod("foo3", "new"),
      ),
    );
    // A SET becomes REMOVE (foo), ADD (foo4) and UPDATE (foo2), in that order.
    const pod = createValidPod("foo2", "new");
    pod.spec = {
      ...pod.spec,
      containers: [
        { name: "bar", image: "test", imagePullPolicy: "IfNotPresent", terminationMessagePolicy: "File" },
      ],
    };
    channel(update("SET", TestSource, pod, createValidPod("foo3", "new"), createValidPod("foo4", "new")));
    expectPodUpdate(
      config,
      update("REMOVE", TestSource, createValidPod("foo", "new")),
      update("ADD", TestSource, createValidPod("foo4", "new")),
      update("UPDATE", TestSource, pod),
    );
  });

  it("TestNewPodAddedSetReconciled", () => {
    const newTestPods = (touchStatus: boolean, touchSpec: boolean): [Pod[], Pod] => {
      const pods = [
        createValidPod("changeable-pod-0", "new"),
        createValidPod("constant-pod-1", "new"),
        createValidPod("constant-pod-2", "new"),
      ];
      const first = pods[0] as MutablePod;
      if (touchStatus) first.status = { message: String(Math.random()) };
      if (touchSpec) (first.spec?.containers[0] as { name: string }).name = String(Math.random()).slice(2);
      return [pods, first];
    };
    for (const op of ["ADD", "SET"] as const) {
      const { config, channel } = tester();
      let [pods] = newTestPods(false, false);
      channel(update("SET", TestSource, ...pods));
      expectPodUpdate(config, update("ADD", TestSource, ...pods));
      // The same status: nothing to reconcile.
      channel(update(op, TestSource, ...pods));
      expectNoPodUpdate(config);
      // Only the status changed: a RECONCILE.
      let changed: Pod;
      [pods, changed] = newTestPods(true, false);
      channel(update(op, TestSource, ...pods));
      expectPodUpdate(config, update("RECONCILE", TestSource, changed));
      // Status and spec changed: an UPDATE, no RECONCILE.
      [pods, changed] = newTestPods(true, true);
      channel(update(op, TestSource, ...pods));
      expectPodUpdate(config, update("UPDATE", TestSource, changed));
    }
  });

  it("TestInitialEmptySet", () => {
    const { config, channel } = tester();
    // The first SET, even empty, is announced: the source is ready.
    channel(update("SET", TestSource));
    expectPodUpdate(config, update("ADD", TestSource));
    // Later empty SETs are not.
    channel(update("SET", TestSource));
    channel(update("ADD", TestSource, createValidPod("foo", "new")));
    expectPodUpdate(config, update("ADD", TestSource, createValidPod("foo", "new")));
  });

  it("TestPodUpdateAnnotations", () => {
    const { config, channel } = tester();
    const pod = createValidPod("foo2", "new");
    pod.metadata = { ...pod.metadata, annotations: { "kubernetes.io/blah": "blah" } };
    channel(
      update(
        "SET",
        TestSource,
        createValidPod("foo1", "new"),
        structuredClone(pod),
        createValidPod("foo3", "new"),
      ),
    );
    expectPodUpdate(
      config,
      update("ADD", TestSource, createValidPod("foo1", "new"), pod, createValidPod("foo3", "new")),
    );
    const annotations = pod.metadata.annotations as Record<string, string>;
    for (const change of [
      () => {
        annotations["kubernetes.io/blah"] = "superblah";
      },
      () => {
        annotations["kubernetes.io/otherblah"] = "doh";
      },
      () => {
        delete annotations["kubernetes.io/blah"];
      },
    ]) {
      change();
      channel(
        update(
          "SET",
          TestSource,
          createValidPod("foo1", "new"),
          structuredClone(pod),
          createValidPod("foo3", "new"),
        ),
      );
      expectPodUpdate(config, update("UPDATE", TestSource, pod));
    }
  });

  it("TestPodUpdateLabels", () => {
    const { config, channel } = tester();
    const pod = createValidPod("foo2", "new");
    pod.metadata = { ...pod.metadata, labels: { key: "value" } };
    channel(update("SET", TestSource, structuredClone(pod)));
    expectPodUpdate(config, update("ADD", TestSource, pod));
    pod.metadata.labels = { key: "newValue" };
    channel(update("SET", TestSource, structuredClone(pod)));
    expectPodUpdate(config, update("UPDATE", TestSource, pod));
  });

  it("annotates the source and the first-seen time, and keeps that time through updates", () => {
    const { config, channel } = tester();
    channel(update("ADD", TestSource, createValidPod("foo", "new")));
    const added = config.next()?.pods[0];
    assert.equal(added?.metadata?.annotations?.[ConfigSourceAnnotationKey], TestSource);
    assert.equal(added?.metadata?.annotations?.[ConfigFirstSeenAnnotationKey], "2024-05-06T07:08:09.12Z");
    const changed = createValidPod("foo", "new");
    changed.metadata = { ...changed.metadata, labels: { a: "b" } };
    channel(update("ADD", TestSource, changed));
    const updated = config.next()?.pods[0];
    assert.equal(updated?.metadata?.annotations?.[ConfigFirstSeenAnnotationKey], "2024-05-06T07:08:09.12Z");
    assert.deepEqual(updated?.metadata?.labels, { a: "b" });
  });

  it("does not change what a source sent", () => {
    const { config, channel } = tester();
    const pod = createValidPod("foo", "new");
    const before = structuredClone(pod);
    channel(update("SET", TestSource, pod));
    assert.deepEqual(pod, before);
    config.next();
  });

  it("keeps sources apart: a SET of one source removes none of another's", () => {
    const config = new PodConfig();
    const file = config.channel("file");
    const api = config.channel("api");
    file(update("SET", "file", createValidPod("static", "default")));
    api(update("SET", "api", createValidPod("web", "default")));
    assert.equal(config.next()?.source, "file");
    assert.equal(config.next()?.source, "api");
    api(update("SET", "api"));
    expectPodUpdate(config, update("REMOVE", "api", createValidPod("web", "default")));
    assert.deepEqual(
      config.mergedState().map((p) => p.metadata?.name),
      ["static"],
    );
    assert.equal(isStaticPod(config.mergedState()[0] as Pod), true);
  });

  it("SeenAllSources: every registered source has sent a SET and the kubelet has seen it", () => {
    const config = new PodConfig();
    const file = config.channel("file");
    const api = config.channel("api");
    assert.equal(config.seenAllSources(new Set(["file", "api"])), false);
    file(update("SET", "file"));
    api(update("ADD", "api", createValidPod("web", "default")));
    assert.equal(config.seenAllSources(new Set(["file", "api"])), false, "an ADD is not a SET");
    api(update("SET", "api", createValidPod("web", "default")));
    assert.equal(config.seenAllSources(new Set(["file"])), false, "the kubelet has not handled api's update");
    assert.equal(config.seenAllSources(new Set(["file", "api"])), true);
  });

  it("hands updates to one waiting reader, in order", async () => {
    const { config, channel } = tester();
    const read: PodOperation[] = [];
    const reader = (async () => {
      for await (const u of config) {
        read.push(u.op);
        if (read.length === 2) break;
      }
    })();
    await new Promise((resolve) => setImmediate(resolve));
    channel(update("ADD", TestSource, createValidPod("foo", "new")));
    channel(update("REMOVE", TestSource, createValidPod("foo", "new")));
    await reader;
    assert.deepEqual(read, ["ADD", "REMOVE"]);
  });

  it("ends the updates when the signal aborts, even with none queued", async () => {
    const { config, channel } = tester();
    const stop = new AbortController();
    const read: PodOperation[] = [];
    const reader = (async () => {
      for await (const u of config.updates(stop.signal)) read.push(u.op);
    })();
    channel(update("ADD", TestSource, createValidPod("foo", "new")));
    await new Promise((resolve) => setImmediate(resolve));
    stop.abort();
    await reader;
    assert.deepEqual(read, ["ADD"]);
  });

  it("formats the first-seen time as Go's RFC 3339 with nanoseconds does", () => {
    assert.equal(formatTimestamp(new Date("2024-01-02T03:04:05.000Z")), "2024-01-02T03:04:05Z");
    assert.equal(formatTimestamp(new Date("2024-01-02T03:04:05.100Z")), "2024-01-02T03:04:05.1Z");
    assert.equal(formatTimestamp(new Date("2024-01-02T03:04:05.123Z")), "2024-01-02T03:04:05.123Z");
  });
});
