import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Pod } from "kubernetes-types/core/v1.js";
import { newLogger } from "../lib/log.js";
import type { PodStatus } from "./container/runtime.js";
import { type PodSyncer, PodWorkers } from "./pod-workers.js";

// The worker life of a pod as pod_workers_test.go walks it (TestUpdatePod, TestKnownPods and the
// ShouldPod*BeRemoved cases): sync → terminating → terminated → finished, with the syncer only
// recording what it was asked.

const pod = (uid: string, deleted = false): Pod => ({
  metadata: {
    uid,
    name: uid,
    namespace: "ns",
    ...(deleted ? { deletionTimestamp: "2026-11-27T00:00:00Z" } : {}),
  },
  spec: { containers: [] },
});

const status = (id: string): PodStatus => ({
  id,
  name: id,
  namespace: "ns",
  ips: [],
  sandboxStatuses: [],
  containerStatuses: [],
  timeStamp: new Date(),
});

function newWorkers(terminalAfterSync = false) {
  const calls: string[] = [];
  const syncer: PodSyncer = {
    syncPod: async (_t, p) => {
      calls.push(`sync ${p.metadata?.uid}`);
      return terminalAfterSync;
    },
    syncTerminatingPod: async (p) => void calls.push(`terminating ${p.metadata?.uid}`),
    syncTerminatingRuntimePod: async (r) => void calls.push(`terminating-runtime ${r.id}`),
    syncTerminatedPod: async (p) => void calls.push(`terminated ${p.metadata?.uid}`),
  };
  const cache = { getNewerThan: async (uid: string) => ({ status: status(uid) }) };
  const workers = new PodWorkers(syncer, cache, { log: newLogger("error") });
  return { workers, calls };
}

async function settle(workers: PodWorkers, uid: string, want: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (workers.knownPods().get(uid) === want) return;
    await sleep(5);
  }
  assert.fail(`pod ${uid} never reached ${want}: ${workers.knownPods().get(uid)}`);
}

describe("PodWorkers", () => {
  it("keeps a running pod's runtime and content, and removes both once a deleted pod is done", async () => {
    const { workers, calls } = newWorkers();
    workers.updatePod({ updateType: "create", pod: pod("a") });
    await settle(workers, "a", "sync");
    assert.equal(workers.shouldPodRuntimeBeRemoved("a"), false);
    assert.equal(workers.shouldPodContentBeRemoved("a"), false);

    workers.updatePod({ updateType: "update", pod: pod("a", true) });
    await settle(workers, "a", "finished");
    assert.deepEqual(calls, ["sync a", "terminating a", "terminated a"]);
    assert.equal(workers.shouldPodRuntimeBeRemoved("a"), true);
    assert.equal(workers.shouldPodContentBeRemoved("a"), true);
  });

  it("removes a finished pod's runtime but keeps its content while the pod is not deleted", async () => {
    const { workers, calls } = newWorkers(true);
    workers.updatePod({ updateType: "create", pod: pod("b") });
    await settle(workers, "b", "finished");
    assert.deepEqual(calls, ["sync b", "terminating b", "terminated b"]);
    assert.equal(workers.shouldPodRuntimeBeRemoved("b"), true);
    assert.equal(workers.shouldPodContentBeRemoved("b"), false, "its logs stay for the user to read");
  });

  it("treats a pod removed from its source (a kill) as deleted", async () => {
    const { workers } = newWorkers();
    workers.updatePod({ updateType: "create", pod: pod("c") });
    await settle(workers, "c", "sync");
    workers.updatePod({ updateType: "kill", pod: pod("c") });
    await settle(workers, "c", "finished");
    assert.equal(workers.shouldPodContentBeRemoved("c"), true);
  });

  it("has nothing to keep of a pod it never saw", () => {
    const { workers } = newWorkers();
    assert.equal(workers.shouldPodRuntimeBeRemoved("unknown"), true);
    assert.equal(workers.shouldPodContentBeRemoved("unknown"), true);
  });

  it("forgets a finished pod once it is no longer desired", async () => {
    const { workers } = newWorkers(true);
    workers.updatePod({ updateType: "create", pod: pod("d") });
    await settle(workers, "d", "finished");
    workers.syncKnownPods(new Set(["d"]));
    assert.equal(workers.knownPods().has("d"), true);
    workers.syncKnownPods(new Set());
    assert.equal(workers.knownPods().has("d"), false);
  });
});
