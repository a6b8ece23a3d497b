import assert from "node:assert/strict";
import { test } from "node:test";
import { kindOf } from "../lib/errdefs.js";
import {
  assertAllowed,
  type CreatedState,
  containerState,
  type ExitStatus,
  exited,
  exitReason,
  type Operation,
  type ProcessState,
  started,
} from "./process-state.js";

const createdAt = new Date(1000);
const startedAt = new Date(2000);
const exit: ExitStatus = { exitCode: 1, exitedAt: new Date(3000), oomKilled: false };
const created: CreatedState = { status: "created", pid: 7, createdAt };
const running = started(created, startedAt);
const stopped = exited(running, exit);

test("each state allows the operations of containerd's init_state.go", () => {
  const table: [ProcessState, Operation, boolean][] = [
    [created, "start", true],
    [created, "delete", true],
    [created, "exec", true],
    [created, "reopenLog", false],
    [running, "start", false],
    [running, "delete", false],
    [running, "kill", true],
    [running, "update", true],
    [running, "reopenLog", true],
    [stopped, "start", false],
    [stopped, "update", false],
    [stopped, "exec", false],
    [stopped, "kill", true],
    [stopped, "delete", true],
  ];
  for (const [state, op, ok] of table) {
    if (ok) assert.doesNotThrow(() => assertAllowed(state, op), `${state.status} ${op}`);
    else
      assert.throws(
        () => assertAllowed(state, op),
        (err) =>
          kindOf(err) === "FailedPrecondition" &&
          String(err).includes(`cannot ${op} a ${state.status} process`),
      );
  }
});

test("transitions keep what the earlier states knew", () => {
  assert.deepEqual(running, { status: "running", pid: 7, createdAt, startedAt });
  assert.deepEqual(stopped, { status: "stopped", pid: 7, createdAt, startedAt, exit });
  assert.deepEqual(exited(created, exit), { status: "stopped", pid: 7, createdAt, exit });
  // A second exit changes nothing, as SetExited on stoppedState.
  assert.equal(exited(stopped, { ...exit, exitCode: 2 }), stopped);
  assert.throws(
    () => started(running, startedAt),
    (err) => kindOf(err) === "FailedPrecondition",
  );
});

test("CRI states and exit reasons follow containerd", () => {
  assert.deepEqual([created, running, stopped, undefined].map(containerState), [
    "CONTAINER_CREATED",
    "CONTAINER_RUNNING",
    "CONTAINER_EXITED",
    "CONTAINER_UNKNOWN",
  ]);
  const table: [Partial<ExitStatus>, string][] = [
    [{ exitCode: 0 }, "Completed"],
    [{ exitCode: 3 }, "Error"],
    [{ exitCode: 137, oomKilled: true }, "OOMKilled"],
    [{ exitCode: 0, oomKilled: true }, "OOMKilled"],
    [{ exitCode: 255, monitorLost: true }, "Unknown"],
  ];
  for (const [e, reason] of table) assert.equal(exitReason({ ...exit, oomKilled: false, ...e }), reason);
});
