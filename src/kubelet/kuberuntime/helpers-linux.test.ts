import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { milliCPUToShares } from "../cm/helpers-linux.js";
import { milliCPUToQuota, quotaToMilliCPU, sharesToMilliCPU } from "./helpers-linux.js";

describe("milliCPUToQuota", () => {
  // TestMilliCPUToQuota and TestMilliCPUToQuotaWithCustomCPUCFSQuotaPeriod (1.28): this variant takes
  // the period as given, so both tables hold regardless of the gate.
  const cases: [string, bigint, bigint, bigint][] = [
    ["all-zero", 0n, 0n, 0n],
    ["5 input default quota and period", 5n, 100000n, 1000n],
    ["9 input default quota and period", 9n, 100000n, 1000n],
    ["10 input default quota and period", 10n, 100000n, 1000n],
    ["200 input 20k quota and default period", 200n, 100000n, 20000n],
    ["500 input 50k quota and default period", 500n, 100000n, 50000n],
    ["1k input 100k quota and default period", 1000n, 100000n, 100000n],
    ["1500 input 150k quota and default period", 1500n, 100000n, 150000n],
    ["5 input 10k period and default quota expected", 5n, 10000n, 1000n],
    ["5 input 5k period and default quota expected", 5n, 5000n, 1000n],
    ["9 input 10k period and default quota expected", 9n, 10000n, 1000n],
    ["10 input 200k period and 2000 quota expected", 10n, 200000n, 2000n],
    ["200 input 200k period and 40k quota", 200n, 200000n, 40000n],
    ["500 input 20k period and 20k expected quota", 500n, 20000n, 10000n],
    ["1000 input 10k period and 10k expected quota", 1000n, 10000n, 10000n],
    ["1500 input 5000 period and 7500 expected quota", 1500n, 5000n, 7500n],
  ];
  for (const [msg, milli, period, expected] of cases) {
    it(msg, () => assert.equal(milliCPUToQuota(milli, period), expected));
  }
});

describe("sharesToMilliCPU", () => {
  it("inverts milliCPUToShares for every request from 0 to 2000m (TestSharesToMilliCPU)", () => {
    for (let milli = 0n; milli <= 2000n; milli++) {
      const expected = milli < 2n ? 2n : milli;
      assert.equal(sharesToMilliCPU(milliCPUToShares(milli)), expected, `${milli}m`);
    }
    assert.equal(sharesToMilliCPU(1n), 0n);
  });
});

describe("quotaToMilliCPU", () => {
  // TestQuotaToMilliCPU (1.28).
  const cases: [string, bigint, bigint, bigint][] = [
    ["50m", 5000n, 100000n, 50n],
    ["750m", 75000n, 100000n, 750n],
    ["1000m", 100000n, 100000n, 1000n],
    ["1500m", 150000n, 100000n, 1500n],
  ];
  for (const [name, quota, period, expected] of cases) {
    it(name, () => assert.equal(quotaToMilliCPU(quota, period), expected));
  }
  it("reads no quota (-1) as no limit", () => assert.equal(quotaToMilliCPU(-1n, 100000n), 0n));
});
