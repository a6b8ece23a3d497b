import assert from "node:assert/strict";
import { test } from "node:test";
import { kindOf, notFound } from "../../lib/errdefs.js";
import {
  ErrCrashLoopBackOff,
  ErrKillContainer,
  ErrKillPodSandbox,
  PodSyncResult,
  SyncAction,
  SyncResult,
} from "./sync-result.js";

// TestPodSyncResult (pkg/kubelet/container/sync_result_test.go)
test("TestPodSyncResult", () => {
  const okResults = () => [
    new SyncResult(SyncAction.StartContainer, "container_0"),
    new SyncResult(SyncAction.CreatePodSandbox, "pod"),
  ];
  const errResults = () => {
    const r = [
      new SyncResult(SyncAction.KillContainer, "container_1"),
      new SyncResult(SyncAction.KillPodSandbox, "pod"),
    ];
    r[0]?.fail(ErrKillContainer, "message_0");
    r[1]?.fail(ErrKillPodSandbox, "message_1");
    return r;
  };

  // No failed result: no error.
  let result = new PodSyncResult();
  result.addSyncResult(...okResults());
  assert.equal(result.error(), undefined);

  // A failed result makes it an error.
  result = new PodSyncResult();
  result.addSyncResult(...okResults());
  result.addSyncResult(...errResults());
  assert.ok(result.error());

  // A failed PodSyncResult is an error.
  result = new PodSyncResult();
  result.addSyncResult(...okResults());
  result.fail(new Error("error"));
  assert.ok(result.error());

  // Merging in a failed one makes it an error.
  const errResult = new PodSyncResult();
  errResult.addSyncResult(...errResults());
  result = new PodSyncResult();
  result.addSyncResult(...okResults());
  result.addPodSyncResult(errResult);
  assert.ok(result.error());
});

test("PodSyncResult.error words failures as kubelet does", () => {
  const result = new PodSyncResult();
  const start = new SyncResult(SyncAction.StartContainer, "app");
  start.fail(ErrCrashLoopBackOff, "back-off 10s restarting failed container=app pod=p_ns(uid)");
  result.addSyncResult(start);
  assert.equal(
    result.error()?.message,
    'failed to "StartContainer" for "app" with CrashLoopBackOff: "back-off 10s restarting failed container=app pod=p_ns(uid)"',
  );
  result.fail(new Error("boom"));
  assert.equal(
    result.error()?.message,
    '[failed to SyncPod: boom, failed to "StartContainer" for "app" with CrashLoopBackOff: "back-off 10s restarting failed container=app pod=p_ns(uid)"]',
  );
  assert.equal(kindOf(result.error()), "Unknown");
});

test("PodSyncResult.error keeps the kind when syncPod itself failed alone", () => {
  const result = new PodSyncResult();
  result.fail(notFound('sandbox "s1" not found'));
  const err = result.error();
  assert.equal(err?.message, 'failed to SyncPod: sandbox "s1" not found');
  assert.equal(kindOf(err), "NotFound");
});
