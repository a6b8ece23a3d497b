import assert from "node:assert/strict";
import { test } from "node:test";
import { quantile, ratio, summarize, table } from "./stats.js";

test("summarize takes min, median, p95 and max, averaging the middle pair of an even count", () => {
  const cases: [number[], { min: number; median: number; p95: number; max: number }][] = [
    [[5], { min: 5, median: 5, p95: 5, max: 5 }],
    [[3, 1, 2], { min: 1, median: 2, p95: 2.9, max: 3 }],
    [[4, 1, 3, 2], { min: 1, median: 2.5, p95: 3.85, max: 4 }],
  ];
  for (const [samples, want] of cases) {
    const got = summarize(samples);
    assert.deepEqual({ ...got, p95: Math.round(got.p95 * 1e9) / 1e9 }, want);
  }
  assert.throws(() => summarize([]));
});

test("quantile interpolates between the nearest ranks", () => {
  const twenty = Array.from({ length: 20 }, (_, i) => i + 1);
  const cases: [number[], number, number][] = [
    [[7], 0.95, 7],
    [[10, 20], 0.5, 15],
    [[10, 20], 0.95, 19.5],
    [twenty, 0.5, 10.5],
    [twenty, 0.95, 19.05],
    [twenty, 0, 1],
    [twenty, 1, 20],
  ];
  for (const [sorted, q, want] of cases)
    assert.ok(Math.abs(quantile(sorted, q) - want) < 1e-9, `${q} of ${sorted}`);
});

test("ratio is berth over containerd to two places", () => {
  assert.equal(ratio(1, 2), 0.5);
  assert.equal(ratio(2, 3), 0.67);
  assert.equal(ratio(3, 2), 1.5);
});

test("table aligns columns to the widest cell", () => {
  assert.equal(
    table([
      ["a", "bb"],
      ["ccc", "d"],
    ]),
    "a    bb\nccc  d",
  );
});
