import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, readlink, rm, stat, unlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, test } from "node:test";
import { type FileProjection, validatePath, writeAtomic } from "./atomic-writer.js";
import { cleanPath } from "./volume-plugin.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "berth-atomic-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

type Files = Record<string, [string, number]>;
const payload = (files: Files) =>
  new Map<string, FileProjection>(
    Object.entries(files).map(([p, [data, mode]]) => [p, { data: Buffer.from(data), mode }]),
  );

/** checkVolumeContents: what a reader of the target sees is exactly the payload, modes included. */
async function assertContents(files: Files, name: string): Promise<void> {
  const seen = await visibleFiles(dir, "");
  assert.deepEqual(seen.sort(), Object.keys(files).map(cleanPath).sort(), name);
  for (const [path, [data, mode]] of Object.entries(files)) {
    assert.equal(await readFile(join(dir, path), "utf8"), data, `${name}: ${path}`);
    assert.equal((await stat(join(dir, path))).mode & 0o777, mode, `${name}: mode of ${path}`);
  }
}

// Walks the target as a container would, through the links, skipping the writer's "..*" names.
async function visibleFiles(root: string, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of await readdir(join(root, prefix))) {
    if (prefix === "" && name.startsWith("..")) continue;
    const rel = prefix === "" ? name : `${prefix}/${name}`;
    if ((await stat(join(root, rel))).isDirectory()) out.push(...(await visibleFiles(root, rel)));
    else out.push(rel);
  }
  return out;
}

test("validatePath (upstream TestValidatePath)", () => {
  const cases: { name: string; path: string; error?: string }[] = [
    { name: "valid 1", path: "i/am/well/behaved.txt" },
    { name: "valid 2", path: "keepyourheaddownandfollowtherules.txt" },
    {
      name: "max path length",
      path: "a".repeat(4097),
      error: "invalid path: must be less than or equal to 4096 characters",
    },
    {
      name: "max file length",
      path: "a".repeat(256),
      error: "invalid path: filenames must be less than or equal to 255 characters",
    },
    { name: "absolute failure", path: "/dev/null", error: "invalid path: must be relative path: /dev/null" },
    {
      name: "reserved path",
      path: "..sneaky.txt",
      error: "invalid path: must not start with '..': ..sneaky.txt",
    },
    {
      name: "contains doubledot 1",
      path: "hello/there/../../../../../../etc/passwd",
      error: "invalid path: must not contain '..': hello/there/../../../../../../etc/passwd",
    },
    {
      name: "contains doubledot 2",
      path: "hello/../etc/somethingbad",
      error: "invalid path: must not contain '..': hello/../etc/somethingbad",
    },
    { name: "empty", path: "", error: 'invalid path: must not be empty: ""' },
  ];
  for (const c of cases) {
    if (c.error === undefined) assert.doesNotThrow(() => validatePath(c.path), c.name);
    else assert.throws(() => validatePath(c.path), { message: c.error }, c.name);
  }
});

test("a first write lays out a timestamped directory, ..data and one link per top-level name (upstream TestWriteOnce)", async () => {
  const files: Files = {
    "foo.log": ["foo", 0o644],
    ".dotfile": ["dotfile", 0o644],
    "foo/bar.txt": ["foo/bar", 0o644],
    "foo/blaz/bar.txt": ["foo/blaz/bar", 0o644],
    "bar/zib/zab.txt": ["bar/zib/zab.txt", 0o400],
    "1/2/3/4/5/6/7/8/9/10/.dotfile.lib": ["1-2-3-dotfile", 0o777],
    "sub//dir.txt": ["cleaned", 0o640],
  };
  await writeAtomic(dir, payload(files));
  await assertContents(files, "kitchen sink");

  const tsDir = await readlink(join(dir, "..data"));
  assert.match(tsDir, /^\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\.\w+$/);
  assert.equal((await stat(join(dir, tsDir))).mode & 0o777, 0o755);
  assert.equal(await readlink(join(dir, "foo")), "..data/foo");
  assert.equal(await readlink(join(dir, "foo.log")), "..data/foo.log");
  assert.equal(await readlink(join(dir, "sub")), "..data/sub");
  const names = (await readdir(dir)).sort();
  assert.deepEqual(names, ["..data", ".dotfile", "1", "bar", "foo", "foo.log", "sub", tsDir].sort());
});

test("an invalid payload writes nothing (upstream TestWriteOnce)", async () => {
  for (const files of [
    { foo: ["foo", 0o644], "..bar": ["bar", 0o644] },
    { "foo/../bar": ["foo", 0o644] },
  ] as Files[]) {
    await assert.rejects(writeAtomic(dir, payload(files)), { kind: "InvalidArgument" });
    assert.deepEqual(await readdir(dir), []);
  }
  await assert.rejects(writeAtomic(join(dir, "missing"), payload({ a: ["a", 0o644] })), { kind: "NotFound" });
});

test("updates swap ..data to a new directory and drop the old one; unchanged data is left alone (upstream TestUpdate)", async () => {
  const cases: { name: string; first: Files; next: Files; shouldWrite: boolean }[] = [
    {
      name: "update",
      first: { foo: ["foo", 0o644], bar: ["bar", 0o644] },
      next: { foo: ["foo2", 0o644], bar: ["bar2", 0o640] },
      shouldWrite: true,
    },
    {
      name: "no update",
      first: { foo: ["foo", 0o644], bar: ["bar", 0o644] },
      next: { foo: ["foo", 0o644], bar: ["bar", 0o644] },
      shouldWrite: false,
    },
    {
      name: "no update 2",
      first: { "foo/bar.txt": ["foo", 0o644], "bar/zab.txt": ["bar", 0o644] },
      next: { "foo/bar.txt": ["foo", 0o644], "bar/zab.txt": ["bar", 0o644] },
      shouldWrite: false,
    },
    {
      name: "add 2",
      first: { "foo/bar.txt": ["foo", 0o644], "bar/zab.txt": ["bar", 0o644] },
      next: {
        "foo/bar.txt": ["foo", 0o644],
        "bar/zab.txt": ["bar", 0o644],
        "blu/two/2/3/4/5/zip.txt": ["zip", 0o644],
      },
      shouldWrite: true,
    },
    {
      name: "delete 1",
      first: { "foo/bar.txt": ["foo", 0o644], "bar/zab.txt": ["bar", 0o644] },
      next: { "foo/bar.txt": ["foo", 0o644] },
      shouldWrite: true,
    },
    {
      name: "delete 3",
      first: {
        "foo/bar.txt": ["foo", 0o644],
        "bar/1/2/sip.txt": ["sip", 0o644],
        "bar/1/2/3/zab.txt": ["bar", 0o644],
      },
      next: { "foo/bar.txt": ["foo", 0o644], "bar/1/2/sip.txt": ["sip", 0o644] },
      shouldWrite: true,
    },
  ];
  for (const c of cases) {
    await rm(dir, { recursive: true, force: true });
    dir = await mkdtemp(join(tmpdir(), "berth-atomic-"));
    await writeAtomic(dir, payload(c.first));
    const before = await readlink(join(dir, "..data"));
    await writeAtomic(dir, payload(c.next));
    const after = await readlink(join(dir, "..data"));
    assert.equal(before !== after, c.shouldWrite, `${c.name}: rewritten`);
    await assertContents(c.next, c.name);
    const hidden = (await readdir(dir)).filter((n) => n.startsWith("..")).sort();
    assert.deepEqual(hidden, ["..data", after].sort(), `${c.name}: only the current version is kept`);
  }
});

test("a user-visible link that went missing comes back without a rewrite", async () => {
  const files: Files = { foo: ["foo", 0o644], bar: ["bar", 0o644] };
  await writeAtomic(dir, payload(files));
  const tsDir = await readlink(join(dir, "..data"));
  await unlink(join(dir, "foo"));
  await writeAtomic(dir, payload(files));
  assert.equal(await readlink(join(dir, "..data")), tsDir);
  await assertContents(files, "relinked");
});
