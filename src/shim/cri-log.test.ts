import assert from "node:assert/strict";
import { test } from "node:test";
import { splitCriLog } from "./cri-log.js";

test("CRI log records are split back into stdout and stderr", () => {
  const table: [string, string, string][] = [
    ["", "", ""],
    ["2024-01-01T00:00:00.000000000+00:00 stdout F out\n", "out\n", ""],
    ["T stdout F a\nT stderr F b\nT stdout F c\n", "a\nc\n", "b\n"],
    // A partial record's newline is conmon's, not the command's.
    ["T stdout P aaa\nT stdout P bbb\nT stdout F ccc\n", "aaabbbccc\n", ""],
    ["T stdout P no newline at the end\n", "no newline at the end", ""],
    ["T stdout F with  two spaces\n", "with  two spaces\n", ""],
    ["garbage\nT stdin F x\nT stderr F e\n", "", "e\n"],
  ];
  for (const [log, stdout, stderr] of table) {
    assert.deepEqual(
      splitCriLog(Buffer.from(log)),
      { stdout: Buffer.from(stdout), stderr: Buffer.from(stderr) },
      log,
    );
  }
});

test("output that is not UTF-8 comes back byte for byte", () => {
  const bytes = Buffer.from([0xff, 0xfe, 0x00, 0x80]);
  const log = Buffer.concat([Buffer.from("T stdout F "), bytes, Buffer.from("\n")]);
  assert.deepEqual(splitCriLog(log).stdout, Buffer.concat([bytes, Buffer.from("\n")]));
});
