import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { defaultGCPolicy, type GCPolicy, newContainerGC } from "./container-gc.js";

describe("newContainerGC (container_gc.go)", () => {
  const calls: [GCPolicy, boolean, boolean][] = [];
  const runtime = {
    garbageCollect: async (policy: GCPolicy, allSourcesReady: boolean, evictNonDeletedPods: boolean) => {
      calls.push([policy, allSourcesReady, evictNonDeletedPods]);
    },
  };

  test("a negative minimum age is refused", () => {
    assert.throws(
      () => newContainerGC(runtime, { ...defaultGCPolicy, minAgeMs: -1 }, { allReady: () => true }),
      {
        message: "invalid minimum garbage collection age: -1ms",
      },
    );
  });

  test("GarbageCollect keeps terminated pods; DeleteAllUnusedContainers evicts them too", async () => {
    let ready = false;
    const gc = newContainerGC(runtime, defaultGCPolicy, { allReady: () => ready });
    await gc.garbageCollect();
    ready = true;
    await gc.deleteAllUnusedContainers();
    assert.deepEqual(calls, [
      [defaultGCPolicy, false, false],
      [defaultGCPolicy, true, true],
    ]);
  });
});
