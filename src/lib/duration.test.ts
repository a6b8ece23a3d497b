import assert from "node:assert/strict";
import { test } from "node:test";
import { parseDuration } from "./duration.js";

test("parseDuration reads Go durations and bare seconds", () => {
  const cases: [string, number][] = [
    ["2s", 2000],
    ["500ms", 500],
    ["1m30s", 90_000],
    ["1h", 3_600_000],
    ["1.5s", 1500],
    ["10", 10_000],
    ["0", 0],
  ];
  for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
});

test("parseDuration rejects what Go rejects", () => {
  for (const bad of ["", "s", "2x", "2s junk", "-1s"]) {
    assert.throws(() => parseDuration(bad), /invalid duration/, bad);
  }
});
