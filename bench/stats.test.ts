import assert from "node:assert/strict";
import { test } from "node:test";
import { ratio, summarize, table } from "./stats.js";

test("summarize takes min, median and max, averaging the middle pair of an even count", () => {
  const cases: [number[], { min: number; median: number; max: number }][] = [
    [[5], { min: 5, median: 5, max: 5 }],
    [[3, 1, 2], { min: 1, median: 2, max: 3 }],
    [[4, 1, 3, 2], { min: 1, median: 2.5, max: 4 }],
  ];
  for (const [samples, want] of cases) assert.deepEqual(summarize(samples), want);
  assert.throws(() => summarize([]));
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
