import assert from "node:assert/strict";
import { test } from "node:test";
import { oomScoreAdj, restrictOomScoreAdj } from "./oom-score-adj.js";

test("a preferred oom_score_adj below the daemon's own is raised to it", async () => {
  const table: [number, number, number][] = [
    [-999, 0, 0],
    [-999, -500, -500],
    [500, 0, 500],
    [0, 0, 0],
    [-1000, 1000, 1000],
  ];
  for (const [preferred, current, want] of table) {
    assert.equal(await restrictOomScoreAdj(preferred, current), want, `${preferred} with own ${current}`);
  }
  assert.equal(await restrictOomScoreAdj(-1000), await oomScoreAdj());
});
