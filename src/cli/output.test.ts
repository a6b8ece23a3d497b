import assert from "node:assert/strict";
import { test } from "node:test";
import { formatTable, humanAgo, humanDuration, humanSize, parseOutputFormat, truncateId } from "./output.js";

test("formatTable pads every column but the last", () => {
  const out = formatTable(
    ["POD ID", "NAME"],
    [
      ["abc", "web"],
      ["0123456789abcdef0123", "db"],
    ],
  );
  const lines = out.split("\n");
  assert.equal(lines[0], `${"POD ID".padEnd(23)}NAME`);
  assert.equal(lines[2], `${"0123456789abcdef0123".padEnd(23)}db`);
  assert.equal(lines.length, 4);
});

test("humanDuration uses Docker's wording", () => {
  const cases: [number, string][] = [
    [0, "Less than a second"],
    [1, "1 second"],
    [59, "59 seconds"],
    [60, "About a minute"],
    [600, "10 minutes"],
    [3600, "About an hour"],
    [7200, "2 hours"],
    [3 * 86400, "3 days"],
  ];
  for (const [s, text] of cases) assert.equal(humanDuration(s), text);
  const now = 1_700_000_000_000;
  assert.equal(humanAgo(BigInt(now - 5000) * 1_000_000n, now), "5 seconds ago");
  assert.equal(humanAgo(0n, now), "Unknown");
});

test("humanSize and truncateId", () => {
  assert.equal(humanSize(0), "0B");
  assert.equal(humanSize(1234), "1.234kB");
  assert.equal(humanSize(4_980_000), "4.98MB");
  assert.equal(truncateId("sha256:0123456789abcdef"), "0123456789abc");
  assert.equal(truncateId("sha256:0123456789abcdef", true), "sha256:0123456789abcdef");
});

test("parseOutputFormat rejects unknown formats", () => {
  assert.equal(parseOutputFormat(undefined), "table");
  assert.equal(parseOutputFormat("yaml"), "yaml");
  assert.throws(() => parseOutputFormat("xml"), /unsupported output format "xml"/);
});
