import assert from "node:assert/strict";
import { linkSync, lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { diskUsage, diskUsageSync } from "./disk-usage.js";

describe("diskUsage", () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), "berth-du-"));
    mkdirSync(join(root, "a/b"), { recursive: true });
    writeFileSync(join(root, "a/file"), Buffer.alloc(10_000, 1));
    writeFileSync(join(root, "a/b/small"), "x");
    linkSync(join(root, "a/file"), join(root, "a/b/link"));
    symlinkSync("../file", join(root, "a/b/sym"));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  const expected = () => {
    // root, a, a/b, a/file (its link counted once), a/b/small, a/b/sym.
    const paths = ["", "a", "a/b", "a/file", "a/b/small", "a/b/sym"];
    const bytes = paths.reduce((sum, p) => sum + lstatSync(join(root, p)).blocks * 512, 0);
    return { bytes, inodes: paths.length };
  };

  it("counts every inode once, a hard link's too, with its allocated blocks", async () => {
    const want = expected();
    assert.ok(want.bytes >= 10_000);
    assert.deepEqual(await diskUsage(root), want);
  });

  it("walks the same in its synchronous form", () => {
    assert.deepEqual(diskUsageSync(root), expected());
  });

  it("is undefined for a missing root, in both forms", async () => {
    assert.equal(await diskUsage(join(root, "missing")), undefined);
    assert.equal(diskUsageSync(join(root, "missing")), undefined);
  });
});
