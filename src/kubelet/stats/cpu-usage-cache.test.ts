import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type CpuSample, CpuUsageCache } from "./cpu-usage-cache.js";

const sec = 1_000_000_000n;
const sample = (timestampNs: bigint, usageCoreNanoSeconds: bigint): CpuSample => ({
  timestampNs,
  usageCoreNanoSeconds,
});

// TestGetContainerUsageNanoCores (pkg/kubelet/stats/cri_stats_provider_test.go): the cached sample,
// then the new one; the rate between them, which get() then returns too.
describe("usageNanoCores from two samples", () => {
  const cases: { desc: string; cached?: CpuSample; next: CpuSample; want: number | undefined }[] = [
    { desc: "nothing cached yet", next: sample(1n, 10_000_000_000n), want: undefined },
    {
      desc: "the same usage as the cached sample: zero",
      cached: sample(0n, 10_000_000_000n),
      next: sample(1n, 10_000_000_000n),
      want: 0,
    },
    {
      desc: "ten seconds of CPU in one second: ten cores",
      cached: sample(0n, 10_000_000_000n),
      next: sample(sec, 20_000_000_000n),
      want: 10_000_000_000,
    },
    {
      desc: "a large container of 100+ CPUs",
      cached: sample(0n, 67_983_588_375_722n),
      next: sample(sec, 68_172_016_162_105n),
      want: 188_427_786_383,
    },
    {
      desc: "cpuacct reset to 0 in a live container: no rate, a new baseline",
      cached: sample(1n, 10_000_000_000n),
      next: sample(2n, 0n),
      want: undefined,
    },
  ];
  for (const c of cases) {
    test(c.desc, () => {
      const cache = new CpuUsageCache();
      if (c.cached) assert.equal(cache.getAndUpdate("1", c.cached), undefined, "a first sample has no rate");
      assert.equal(cache.get("1"), undefined, "nothing computed before the update");
      assert.equal(cache.getAndUpdate("1", c.next), c.want);
      assert.equal(cache.get("1"), c.want, "the cache holds the latest rate");
    });
  }

  test("a sample no newer than the cached one leaves the cache as it was", () => {
    const cache = new CpuUsageCache();
    cache.getAndUpdate("1", sample(sec, 0n));
    cache.getAndUpdate("1", sample(2n * sec, sec / 2n));
    assert.equal(cache.getAndUpdate("1", sample(2n * sec, sec)), undefined);
    assert.equal(cache.get("1"), 500_000_000, "the previous rate stays");
    assert.equal(
      cache.getAndUpdate("1", sample(3n * sec, sec)),
      500_000_000,
      "measured from the kept sample",
    );
  });

  test("cleanup drops samples older than ten minutes", () => {
    const cache = new CpuUsageCache();
    const nowMs = 1_700_000_000_000;
    cache.getAndUpdate("old", sample(BigInt(nowMs - 11 * 60_000) * 1_000_000n, 1n));
    cache.getAndUpdate("fresh", sample(BigInt(nowMs - 60_000) * 1_000_000n, 1n));
    cache.getAndUpdate("fresh", sample(BigInt(nowMs) * 1_000_000n, 60n * sec + 1n));
    cache.cleanup(nowMs);
    assert.equal(cache.getAndUpdate("old", sample(BigInt(nowMs) * 1_000_000n, 2n)), undefined, "starts over");
    assert.equal(cache.get("fresh"), 1_000_000_000);
  });
});
