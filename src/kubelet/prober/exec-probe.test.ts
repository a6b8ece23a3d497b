import assert from "node:assert/strict";
import { test } from "node:test";
import { type CommandResult, execProbe, maxReadLength, TimeoutError } from "./exec-probe.js";
import type * as probe from "./probe.js";

// exec_test.go TestExec: what the command's end makes of the probe. The runner here stands in for CRI
// ExecSync, which test/kubelet-probes.test.ts runs for real on both runtimes.
test("execProbe: exit code 0 succeeds, others fail, a timeout fails, a runner error is unknown", async () => {
  const tenKiB = "x".repeat(maxReadLength);
  const out = (text: string, exitCode: number) => async (): Promise<CommandResult> => ({
    output: Buffer.from(text),
    exitCode,
  });
  const cases: {
    name: string;
    run: () => Promise<CommandResult>;
    result: probe.Result;
    output: string;
    error?: RegExp;
  }[] = [
    { name: "ok", run: out("OK", 0), result: "success", output: "OK" },
    { name: "ok, output cut at 10 KiB", run: out(`${tenKiB}and more`, 0), result: "success", output: tenKiB },
    { name: "unhealthy", run: out("Fail", 1), result: "failure", output: "Fail" },
    { name: "killed", run: out("", 137), result: "failure", output: "" },
    {
      name: "timeout",
      run: () => Promise.reject(new TimeoutError('command "sleep 10" timed out')),
      result: "failure",
      output: 'command "sleep 10" timed out',
    },
    {
      name: "runner error",
      run: () => Promise.reject(new Error("container is in CONTAINER_EXITED state")),
      result: "unknown",
      output: "",
      error: /CONTAINER_EXITED/,
    },
  ];
  for (const c of cases) {
    const got = await execProbe(c.run);
    assert.equal(got.result, c.result, c.name);
    assert.equal(got.output, c.output, c.name);
    if (c.error) assert.match(got.error?.message ?? "", c.error, c.name);
    else assert.equal(got.error, undefined, c.name);
  }
});
