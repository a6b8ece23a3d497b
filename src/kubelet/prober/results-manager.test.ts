import assert from "node:assert/strict";
import { test } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.js";
import { ResultsManager, type ResultUpdate } from "./results-manager.js";

const pod: Pod = { metadata: { name: "test-pod", uid: "pod-uid" } };
const fooID = { type: "test", id: "foo" };
const barID = { type: "test", id: "bar" };

// results_manager_test.go TestCacheOperations
test("a result is cached by container id until removed", () => {
  const m = new ResultsManager();
  assert.equal(m.get({ type: "test", id: "unset" }), undefined);
  m.set(fooID, "success", pod);
  assert.equal(m.get(fooID), "success");
  assert.equal(m.get({ type: "other", id: "foo" }), undefined, "the runtime's name is part of the id");
  m.remove(fooID);
  assert.equal(m.get(fooID), undefined);
});

// results_manager_test.go TestUpdates
test("a new or changed result is sent on updates, an unchanged one is not", () => {
  const m = new ResultsManager();
  const expectUpdate = (expected: ResultUpdate, msg: string) =>
    assert.deepEqual(m.updates.tryReceive(), expected, msg);
  const expectNoUpdate = (msg: string) => assert.equal(m.updates.tryReceive(), undefined, msg);

  m.set(fooID, "success", pod);
  expectUpdate({ containerID: fooID, result: "success", podUID: "pod-uid" }, "new success");
  m.set(barID, "failure", pod);
  expectUpdate({ containerID: barID, result: "failure", podUID: "pod-uid" }, "new failure");

  m.set(fooID, "success", pod);
  expectNoUpdate("unchanged foo");
  m.set(barID, "failure", pod);
  expectNoUpdate("unchanged bar");

  m.set(fooID, "failure", pod);
  expectUpdate({ containerID: fooID, result: "failure", podUID: "pod-uid" }, "changed foo");
  m.set(barID, "success", pod);
  expectUpdate({ containerID: barID, result: "success", podUID: "pod-uid" }, "changed bar");

  // A removal sends nothing; the next result for the id counts as new.
  m.remove(fooID);
  expectNoUpdate("removed foo");
  m.set(fooID, "failure", pod);
  expectUpdate({ containerID: fooID, result: "failure", podUID: "pod-uid" }, "foo after removal");
});
