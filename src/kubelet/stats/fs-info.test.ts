import assert from "node:assert/strict";
import { link, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { diskUsage, fsStatsWithUsage, getDirFsInfo } from "./fs-info.js";

describe("DiskUsage", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-du-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("counts blocks and inodes of the tree, a hard-linked file once", async () => {
    const tree = join(dir, "tree");
    await mkdir(join(tree, "sub"), { recursive: true });
    await writeFile(join(tree, "a"), "a".repeat(10_000));
    await link(join(tree, "a"), join(tree, "sub", "a-again"));
    await writeFile(join(tree, "sub", "empty"), "");
    const u = await diskUsage(tree);
    // tree, sub, a (once), empty
    assert.equal(u?.inodesUsed, 4);
    const empty = await diskUsage(join(tree, "sub", "empty"));
    assert.equal(empty?.usedBytes, 0, "an empty file takes no blocks");
    assert.ok((u?.usedBytes ?? 0) >= 12_288, `${u?.usedBytes} bytes`);
    assert.equal(await diskUsage(join(dir, "missing")), undefined);
  });

  test("statfs of the filesystem, with the usage of given paths added", async () => {
    const fs = await getDirFsInfo(dir);
    assert.ok(fs.capacity > 0 && fs.available <= fs.capacity && fs.inodesFree <= fs.inodes);
    const s = fsStatsWithUsage(fs, [
      { timestamp: fs.timestamp, usedBytes: 4096, inodesUsed: 1 },
      { timestamp: fs.timestamp, usedBytes: 8192, inodesUsed: 2 },
    ]);
    assert.equal(s.usedBytes, 12288);
    assert.equal(s.inodesUsed, 3);
    assert.equal(s.capacityBytes, fs.capacity);
    assert.equal(fsStatsWithUsage(fs, []).usedBytes, undefined, "no paths: no usage");
  });
});
