import assert from "node:assert/strict";
import { test } from "node:test";
import { lastError, lastLoggedError, runcErrorKind } from "./runc.js";

test("runc's messages map to error kinds", () => {
  const table: [string, string][] = [
    ["container does not exist", "NotFound"],
    ["container not running", "NotFound"],
    ["runc create failed: container with given ID already exists", "AlreadyExists"],
    ["cannot start an already running container", "FailedPrecondition"],
    ["cannot start a container that has stopped", "FailedPrecondition"],
    ["cannot delete container c2 that is not stopped: running", "FailedPrecondition"],
    ["exec failed: cannot exec in a stopped container", "FailedPrecondition"],
    ['exec: "x": executable file not found in $PATH', "Unknown"],
  ];
  for (const [message, kind] of table) assert.equal(runcErrorKind(message), kind, message);
});

test("runc's error is read from its stderr and from its JSON log", () => {
  const stderr =
    'time="2026-01-01T00:00:00Z" level=warning msg="ignored"\n' +
    'time="2026-01-01T00:00:00Z" level=error msg="runc create failed: \\"quoted\\" thing"\n';
  assert.equal(lastError(stderr), 'runc create failed: "quoted" thing');
  assert.equal(lastError("plain text\n"), "plain text");
  assert.equal(lastError(""), undefined);
  const log =
    '{"level":"info","msg":"hello"}\n{"level":"error","msg":"first"}\n{"level":"error","msg":"last"}\n{"lev';
  assert.equal(lastLoggedError(log), "last");
  assert.equal(lastLoggedError('{"level":"info","msg":"fine"}\n'), undefined);
});
