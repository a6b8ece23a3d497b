import assert from "node:assert/strict";
import { test } from "node:test";
import { tricolor } from "./tricolor.js";

test("tricolor marks exactly what the roots reach", () => {
  const graph: Record<string, string[]> = {
    image: ["index"],
    index: ["manifest"],
    manifest: ["config", "layer0", "layer1"],
    config: [],
    layer0: [],
    layer1: ["layer0"],
    cycleA: ["cycleB"],
    cycleB: ["cycleA"],
    loose: ["layer0"],
  };
  const cases: { roots: string[]; want: string[] }[] = [
    { roots: [], want: [] },
    { roots: ["image"], want: ["config", "image", "index", "layer0", "layer1", "manifest"] },
    { roots: ["cycleA"], want: ["cycleA", "cycleB"] },
    { roots: ["loose", "loose"], want: ["layer0", "loose"] },
    { roots: ["dangling"], want: ["dangling"] },
  ];
  for (const { roots, want } of cases) {
    assert.deepEqual([...tricolor(roots, (n) => graph[n] ?? [])].sort(), want, roots.join(","));
  }
});

test("tricolor visits each node's references once", () => {
  const visits: string[] = [];
  tricolor(["a"], (n) => {
    visits.push(n);
    return n === "a" ? ["b", "c"] : n === "b" || n === "c" ? ["d"] : [];
  });
  assert.deepEqual(visits.sort(), ["a", "b", "c", "d"]);
});
