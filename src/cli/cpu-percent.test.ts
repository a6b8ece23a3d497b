import assert from "node:assert/strict";
import { test } from "node:test";
import { cpuPercent } from "./cpu-percent.js";

test("cpuPercent divides used CPU time by elapsed time", () => {
  const s = (t: number, u: number) => ({ timestamp: BigInt(t), usageCoreNanoSeconds: BigInt(u) });
  assert.equal(cpuPercent(s(0, 0), s(1e9, 5e8)), 50);
  assert.equal(cpuPercent(s(0, 0), s(1e9, 2e9)), 200);
  assert.equal(cpuPercent(s(0, 10), s(0, 20)), 0);
  assert.equal(cpuPercent(undefined, s(1, 1)), 0);
});
