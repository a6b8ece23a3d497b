import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, test } from "node:test";
import {
  compactLowerdirOption,
  isMountPoint,
  longestCommonPrefix,
  mountAll,
  readMountInfo,
  unmountAll,
} from "./mount.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "berth-mount-"));
});
afterEach(async () => {
  await unmountAll(join(dir, "target"));
  await rm(dir, { recursive: true, force: true });
});

test("longestCommonPrefix", () => {
  const cases: [string[], string][] = [
    [[], ""],
    [["/a/b"], "/a/b"],
    [["/r/snapshots/12/fs", "/r/snapshots/11/fs"], "/r/snapshots/1"],
    [["/r/snapshots/2/fs", "/r/snapshots/3/fs", "/r/snapshots/10/fs"], "/r/snapshots/"],
    [["abc", "xyz"], ""],
  ];
  for (const [input, want] of cases) assert.equal(longestCommonPrefix(input), want, input.join(" "));
});

test("compactLowerdirOption", () => {
  const cases: { name: string; opts: string[]; want: [string, string[]] }[] = [
    { name: "no lowerdir", opts: ["ro"], want: ["", ["ro"]] },
    { name: "one lowerdir", opts: ["lowerdir=/r/s/1/fs"], want: ["", ["lowerdir=/r/s/1/fs"]] },
    {
      name: "ids sharing a digit step back to the parent",
      opts: ["index=off", "lowerdir=/r/s/12/fs:/r/s/11/fs", "upperdir=/r/s/13/fs"],
      want: ["/r/s/", ["index=off", "upperdir=/r/s/13/fs", "lowerdir=12/fs:11/fs"]],
    },
    {
      name: "common prefix ending in a slash",
      opts: ["lowerdir=/r/s/3/fs:/r/s/2/fs"],
      want: ["/r/s/", ["lowerdir=3/fs:2/fs"]],
    },
    { name: "nothing in common but /", opts: ["lowerdir=/a/fs:/b/fs"], want: ["", ["lowerdir=/a/fs:/b/fs"]] },
  ];
  for (const c of cases) assert.deepEqual(compactLowerdirOption(c.opts), c.want, c.name);
});

test("bind mounts, read-write and read-only, and unmountAll undoes a stack", async () => {
  const src = join(dir, "src");
  const target = join(dir, "target");
  await mkdir(src);
  await mkdir(target);
  await writeFile(join(src, "f"), "hello");
  await mountAll([{ type: "bind", source: src, options: ["rw", "rbind"] }], target);
  await writeFile(join(target, "g"), "through the bind");
  assert.equal(await readFile(join(src, "g"), "utf8"), "through the bind");
  await mountAll([{ type: "bind", source: src, options: ["ro", "rbind"] }], target);
  await assert.rejects(writeFile(join(target, "h"), "x"), { code: "EROFS" });
  await unmountAll(target);
  assert.equal(await isMountPoint(target), false);
  await unmountAll(target); // nothing mounted: no error
  await unmountAll(join(dir, "missing"));
});

test("an overlay with more lowerdirs than one page of options holds is mounted from their parent", async () => {
  // Long directory names push the lowerdir option past the kernel's 4096-byte limit.
  const base = join(dir, `snapshots-${"x".repeat(120)}`);
  const lowers: string[] = [];
  for (let i = 1; i <= 40; i++) {
    const fs = join(base, String(i), "fs");
    await mkdir(fs, { recursive: true });
    await writeFile(join(fs, `layer-${i}`), String(i));
    await writeFile(join(fs, "top"), String(i));
    lowers.unshift(fs);
  }
  const option = `lowerdir=${lowers.join(":")}`;
  assert.ok(option.length > 4096, `option is ${option.length} bytes`);
  const target = join(dir, "target");
  await mkdir(target);
  await mountAll([{ type: "overlay", source: "overlay", options: [option] }], target);
  assert.equal(await readFile(join(target, "layer-1"), "utf8"), "1");
  assert.equal(await readFile(join(target, "layer-40"), "utf8"), "40");
  assert.equal(await readFile(join(target, "top"), "utf8"), "40");
  await unmountAll(target);
  assert.equal(await isMountPoint(target), false);
});

test("a failed mount names the mount and the target, and leaves nothing mounted", async () => {
  const src = join(dir, "src");
  const target = join(dir, "target");
  await mkdir(src);
  await mkdir(target);
  await assert.rejects(
    mountAll(
      [
        { type: "bind", source: src, options: ["rbind"] },
        { type: "overlay", source: "overlay", options: [`lowerdir=${join(dir, "missing")}`] },
      ],
      target,
    ),
    (err: Error) => err.message.startsWith(`failed to mount overlay "overlay" on "${target}": `),
  );
  assert.equal(await isMountPoint(target), false);
});

test("readMountInfo lists a mount with its type and source, escaped characters restored, the top one last", async () => {
  const target = join(dir, "target with space");
  await mkdir(target);
  await mountAll([{ type: "tmpfs", source: "berth-test", options: ["size=1m"] }], target);
  await mountAll([{ type: "tmpfs", source: "berth-top", options: ["size=1m"] }], target);
  try {
    const here = (await readMountInfo()).filter((m) => m.mountPoint === target);
    assert.deepEqual(here, [
      { mountPoint: target, fsType: "tmpfs", source: "berth-test" },
      { mountPoint: target, fsType: "tmpfs", source: "berth-top" },
    ]);
  } finally {
    await unmountAll(target);
  }
  assert.equal(await isMountPoint(target), false);
});
