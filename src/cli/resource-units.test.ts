import assert from "node:assert/strict";
import { test } from "node:test";
import { ramInBytes } from "./resource-units.js";

test("ramInBytes takes bytes and binary suffixes", () => {
  const cases: [string, bigint][] = [
    ["1048576", 1048576n],
    ["512m", 536870912n],
    ["512M", 536870912n],
    ["1g", 1073741824n],
    ["1GiB", 1073741824n],
    ["64k", 65536n],
    ["1.5k", 1536n],
  ];
  for (const [text, bytes] of cases) assert.equal(ramInBytes(text), bytes, text);
  for (const bad of ["", "m", "12x", "-1m"]) assert.throws(() => ramInBytes(bad), /invalid size/, bad);
});
