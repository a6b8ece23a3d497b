import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, type Stats } from "node:fs";
import {
  chown,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterEach, beforeEach, test } from "node:test";
import { getAttribute } from "@napi-rs/xattr";
import { pino } from "pino";
import { kindOf } from "../../lib/errdefs.js";
import { mountAll, unmountAll } from "../../lib/mount/mount.js";
import { applyLayer } from "./apply.js";
import { buildLayer, type LayerEntry, layerTime } from "./layer-builder.js";

const log = pino({ level: "silent" });
const t0 = layerTime.getTime() / 1000;

let dir: string;
/** The snapshot directory sits alone in a sentinel directory, so that any escape shows. */
let sentinel: string;
let root: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "berth-apply-"));
  sentinel = join(dir, "sentinel");
  root = join(sentinel, "root");
  await mkdir(root, { recursive: true });
});
afterEach(async () => {
  await unmountAll(join(dir, "merged"));
  await rm(dir, { recursive: true, force: true });
});

const apply = async (into: string, entries: LayerEntry[], parents?: string[]) =>
  applyLayer(into, Readable.from([await buildLayer(entries)]), { log, ...(parents && { parents }) });

const dev = (st: Stats) => [
  Math.floor(st.rdev / 256) & 0xfff,
  (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00),
];

test("whiteouts and opaque directories hide lower files through a real overlay mount", async () => {
  const lower = join(dir, "lower");
  const upper = join(dir, "upper");
  const work = join(dir, "work");
  const merged = join(dir, "merged");
  await Promise.all([lower, upper, work, merged].map((d) => mkdir(d)));
  await apply(lower, [
    { name: "keep", body: "kept" },
    { name: "gone", body: "whited out" },
    { name: "opaque/", type: "directory" },
    { name: "opaque/old1", body: "1" },
    { name: "opaque/old2", body: "2" },
    { name: "dir/", type: "directory" },
    { name: "dir/x", body: "x" },
    { name: "dir/y", body: "y" },
  ]);
  await apply(
    upper,
    [
      { name: ".wh.gone" },
      { name: "opaque/", type: "directory" },
      { name: "opaque/.wh..wh..opq" },
      { name: "opaque/new", body: "new" },
      { name: "dir/.wh.x", uid: 1000, gid: 1000 },
    ],
    [lower],
  );
  // In the upper directory: a 0:0 char device per whiteout, an xattr per opaque dir.
  const wh = await lstat(join(upper, "gone"));
  assert.ok(wh.isCharacterDevice());
  assert.equal(wh.rdev, 0);
  assert.equal((await lstat(join(upper, "dir", "x"))).uid, 1000);
  assert.equal((await getAttribute(join(upper, "opaque"), "trusted.overlay.opaque"))?.toString(), "y");
  assert.ok(!existsSync(join(upper, "opaque", ".wh..wh..opq")));

  await mountAll(
    [
      {
        type: "overlay",
        source: "overlay",
        options: [`lowerdir=${lower}`, `upperdir=${upper}`, `workdir=${work}`],
      },
    ],
    merged,
  );
  try {
    assert.deepEqual((await readdir(merged)).sort(), ["dir", "keep", "opaque"]);
    assert.deepEqual(await readdir(join(merged, "opaque")), ["new"]);
    assert.deepEqual(await readdir(join(merged, "dir")), ["y"]);
    assert.equal(await readFile(join(merged, "keep"), "utf8"), "kept");
  } finally {
    await unmountAll(merged);
  }
});

test("whiteouts of one owner share a node, unless a later entry replaced it", async () => {
  const [lower, upper, work, merged] = ["lower", "upper", "work", "merged"].map((d) => join(dir, d)) as [
    string,
    string,
    string,
    string,
  ];
  await Promise.all([lower, upper, work, merged].map((d) => mkdir(d)));
  await apply(
    lower,
    ["a", "b", "c", "d"].map((name) => ({ name, body: name })),
  );
  await apply(
    upper,
    [
      { name: ".wh.a" },
      { name: "a", body: "back" },
      { name: ".wh.b" },
      { name: ".wh.c", uid: 1000, gid: 1000 },
      { name: ".wh.d" },
    ],
    [lower],
  );
  const [b, c, d] = await Promise.all(["b", "c", "d"].map((n) => lstat(join(upper, n))));
  for (const wh of [b, c, d]) assert.ok(wh?.isCharacterDevice() && wh.rdev === 0);
  assert.equal(d?.ino, b?.ino, "d links to b, not to the file that replaced a");
  assert.notEqual(c?.ino, b?.ino);
  assert.deepEqual([c?.uid, c?.gid, d?.uid, d?.gid], [1000, 1000, 0, 0]);

  await mountAll(
    [
      {
        type: "overlay",
        source: "overlay",
        options: [`lowerdir=${lower}`, `upperdir=${upper}`, `workdir=${work}`],
      },
    ],
    merged,
  );
  try {
    assert.deepEqual(await readdir(merged), ["a"]);
    assert.equal(await readFile(join(merged, "a"), "utf8"), "back");
  } finally {
    await unmountAll(merged);
  }
});

test("every kind of entry is applied with its owner, mode, times and xattrs", async () => {
  // VFS_CAP_REVISION_2 with cap_setuid (bit 7) permitted and effective: byte 0x80 is not UTF-8.
  const capability = Buffer.from("0100000280000000000000000000000000000000", "hex");
  const longName = `long/${"n".repeat(150)}`;
  await apply(root, [
    { name: "bin/", type: "directory", mode: 0o755, mtime: new Date(1_000_000_000_000) },
    { name: "bin/su", body: "#!su", mode: 0o4755 },
    // As tar writers do, the link's header repeats its target's metadata, which apply sets again.
    { name: "bin/su-link", type: "link", linkname: "bin/su", mode: 0o4755 },
    { name: "sh", type: "symlink", linkname: "/bin/sh" },
    { name: "rel", type: "symlink", linkname: "bin/su" },
    { name: "owned", body: "mine", mode: 0o640, uid: 1000, gid: 1000 },
    { name: "fifo", type: "fifo", mode: 0o600 },
    { name: "null", type: "character-device", mode: 0o666, devmajor: 1, devminor: 3 },
    { name: "loop0", type: "block-device", mode: 0o660, devmajor: 7, devminor: 0 },
    { name: "tmp/", type: "directory", mode: 0o1777 },
    { name: "setgid/", type: "directory", mode: 0o2755, uid: 1000, gid: 1000 },
    {
      name: "ping",
      body: "elf",
      mode: 0o755,
      pax: { "SCHILY.xattr.security.capability": capability, "SCHILY.xattr.user.note": "hello" },
    },
    { name: "precise", body: "", pax: { mtime: "1234567890.5", atime: "1234567891.25" } },
    { name: longName, body: "deep" },
    { name: "implicit/a/b/file", body: "parents made on the way" },
    { name: "replaced", body: "first" },
    { name: "replaced", type: "symlink", linkname: "owned" },
    { name: "./dot-slash", body: "./ is dropped" },
  ]);
  const cases: [string, (st: Stats, path: string) => Promise<void> | void][] = [
    [
      "bin",
      (st) => {
        assert.ok(st.isDirectory());
        assert.equal(st.mode & 0o7777, 0o755);
        assert.equal(st.mtimeMs, 1_000_000_000_000, "directory times are set after its contents");
      },
    ],
    [
      "bin/su",
      async (st, p) => {
        assert.equal(st.mode & 0o7777, 0o4755, "setuid survives the chown");
        assert.equal(st.mtimeMs, t0 * 1000);
        assert.equal(await readFile(p, "utf8"), "#!su");
      },
    ],
    [
      "bin/su-link",
      async (st) => {
        assert.equal(st.ino, (await lstat(join(root, "bin/su"))).ino);
        assert.equal(st.nlink, 2);
      },
    ],
    [
      "sh",
      async (st, p) => {
        assert.ok(st.isSymbolicLink());
        assert.equal(await readlink(p), "/bin/sh", "absolute symlink targets are kept as they are");
      },
    ],
    ["rel", async (_st, p) => assert.equal(await readFile(p, "utf8"), "#!su")],
    ["owned", (st) => assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [1000, 1000, 0o640])],
    ["fifo", (st) => assert.deepEqual([st.isFIFO(), st.mode & 0o7777], [true, 0o600])],
    [
      "null",
      (st) => assert.deepEqual([st.isCharacterDevice(), dev(st), st.mode & 0o7777], [true, [1, 3], 0o666]),
    ],
    [
      "loop0",
      (st) => assert.deepEqual([st.isBlockDevice(), dev(st), st.mode & 0o7777], [true, [7, 0], 0o660]),
    ],
    ["tmp", (st) => assert.equal(st.mode & 0o7777, 0o1777)],
    ["setgid", (st) => assert.deepEqual([st.mode & 0o7777, st.uid], [0o2755, 1000])],
    [
      "ping",
      async (_st, p) => {
        assert.deepEqual(await getAttribute(p, "security.capability"), capability);
        assert.equal((await getAttribute(p, "user.note"))?.toString(), "hello");
      },
    ],
    ["precise", (st) => assert.deepEqual([st.mtimeMs, st.atimeMs], [1234567890500, 1234567891250])],
    [longName, async (_st, p) => assert.equal(await readFile(p, "utf8"), "deep")],
    ["implicit/a", (st) => assert.deepEqual([st.isDirectory(), st.mode & 0o7777, st.uid], [true, 0o755, 0])],
    [
      "replaced",
      async (st, p) => assert.deepEqual([st.isSymbolicLink(), await readlink(p)], [true, "owned"]),
    ],
    ["dot-slash", (st) => assert.ok(st.isFile())],
  ];
  for (const [path, check] of cases) {
    const p = join(root, path);
    await check(await lstat(p), p);
  }
});

test("parents a layer does not list take their metadata from the nearest lower layer", async () => {
  const lower = join(dir, "lower");
  await mkdir(lower);
  await apply(lower, [{ name: "home/user/", type: "directory", mode: 0o700, uid: 1000, gid: 1000 }]);
  await chown(join(lower, "home"), 0, 0);
  await apply(root, [{ name: "home/user/.profile", body: "x" }], [join(dir, "missing"), lower]);
  const st = await stat(join(root, "home/user"));
  assert.deepEqual([st.mode & 0o7777, st.uid, st.gid], [0o700, 1000, 1000]);
  assert.equal((await stat(join(root, "home"))).mode & 0o7777, 0o755);
});

test("symlinks in parent paths are followed as if the snapshot were the root", async () => {
  await apply(root, [
    { name: "usr/lib/", type: "directory" },
    { name: "lib", type: "symlink", linkname: "usr/lib" },
    { name: "lib/libc.so", body: "c" },
    { name: "d/", type: "directory" },
    { name: "d/up", type: "symlink", linkname: ".." },
    { name: "a", type: "symlink", linkname: "d/up/d/up/d" },
    { name: "a/inside", body: "x" },
  ]);
  assert.equal(await readFile(join(root, "usr/lib/libc.so"), "utf8"), "c");
  assert.equal(await readFile(join(root, "d/inside"), "utf8"), "x");
});

test("entries that replace, merge and link to earlier ones of the same layer apply alike into an empty or a used directory", async () => {
  const entries: LayerEntry[] = [
    { name: "x", body: "first" },
    { name: "x", body: "second" },
    { name: "d/", type: "directory" },
    { name: "d/f", body: "in d" },
    { name: "d/", type: "directory", mode: 0o700 },
    { name: "link-to-f", type: "link", linkname: "d/f" },
    { name: "e/", type: "directory" },
    { name: "e/g", body: "in e" },
    { name: "e", body: "e is a file now" },
    { name: "made/by/mkparent/h", body: "h" },
  ];
  const used = join(dir, "used");
  await mkdir(join(used, "e"), { recursive: true });
  await apply(root, entries);
  await apply(used, entries);
  for (const into of [root, used]) {
    assert.equal(await readFile(join(into, "x"), "utf8"), "second");
    assert.equal(await readFile(join(into, "d/f"), "utf8"), "in d");
    assert.equal((await stat(join(into, "d"))).mode & 0o777, 0o700);
    assert.equal((await stat(join(into, "link-to-f"))).ino, (await stat(join(into, "d/f"))).ino);
    assert.equal(await readFile(join(into, "e"), "utf8"), "e is a file now");
    assert.equal(await readFile(join(into, "made/by/mkparent/h"), "utf8"), "h");
  }
  // A hardlink to what a later entry of the layer removed has nothing to link to.
  const again = join(dir, "again");
  await mkdir(again);
  await assert.rejects(
    apply(again, [
      { name: "e/", type: "directory" },
      { name: "e/g", body: "in e" },
      { name: "e", body: "file" },
      { name: "g", type: "link", linkname: "e/g" },
    ]),
    /hardlink target "e\/g"/,
  );
});

test("a hardlink's header gives the shared inode its owner, mode and times, whether or not they change", async () => {
  const later = new Date(layerTime.getTime() + 60_000);
  await apply(root, [
    { name: "tool", body: "#!/bin/sh\n", mode: 0o755 },
    { name: "same", type: "link", linkname: "tool", mode: 0o755 },
    { name: "tighter", type: "link", linkname: "tool", mode: 0o700, uid: 1000, gid: 1000, mtime: later },
    { name: "again", type: "link", linkname: "same", mode: 0o700, uid: 1000, gid: 1000, mtime: later },
    { name: "tool", type: "symlink", linkname: "tighter" },
    { name: "to-symlink", type: "link", linkname: "tool", uid: 7, gid: 7 },
  ]);
  for (const name of ["same", "tighter", "again"]) {
    const st = await lstat(join(root, name));
    assert.deepEqual([st.nlink, st.mode & 0o7777, st.uid, st.gid], [3, 0o700, 1000, 1000], name);
    assert.equal(st.mtimeMs, later.getTime(), name);
  }
  // The replaced path is a symlink now: a link to it gets its own header's owner.
  const link = await lstat(join(root, "to-symlink"));
  assert.deepEqual([link.isSymbolicLink(), link.uid, link.gid], [true, 7, 7]);
});

test("a hardlink to a symlink changes nothing the symlink points at, outside the snapshot", async () => {
  const victim = join(sentinel, "victim");
  await writeFile(victim, "host file", { mode: 0o600 });
  const before = await stat(victim);
  await apply(root, [
    { name: "evil", type: "symlink", linkname: victim },
    { name: "h", type: "link", linkname: "evil", mode: 0o6777, uid: 4242, gid: 4242, mtime: new Date(0) },
  ]);
  const after = await stat(victim);
  assert.deepEqual(
    [after.mode, after.uid, after.gid, after.mtimeMs],
    [before.mode, before.uid, before.gid, before.mtimeMs],
  );
  const h = await lstat(join(root, "h"));
  assert.deepEqual([h.isSymbolicLink(), h.uid, h.gid], [true, 4242, 4242]);
});

test("the diffID is the sha256 of the whole uncompressed stream, trailing padding included", async () => {
  const tar = Buffer.concat([await buildLayer([{ name: "f", body: "data" }]), Buffer.alloc(4096)]);
  const result = await applyLayer(root, Readable.from([tar.subarray(0, 700), tar.subarray(700)]), { log });
  assert.deepEqual(result, {
    diffID: `sha256:${createHash("sha256").update(tar).digest("hex")}`,
    size: tar.length,
  });
});

test("hostile layers are refused before they write outside the snapshot", async () => {
  const name = `berth-escape-${randomBytes(6).toString("hex")}`;
  const cases: { name: string; entries: LayerEntry[]; error: string; outside?: string }[] = [
    {
      name: "a .. path",
      entries: [{ name: `../${name}`, body: "x" }],
      error: `layer entry "../${name}": path escapes the snapshot`,
      outside: join(sentinel, name),
    },
    {
      name: "a .. path that climbs back",
      entries: [{ name: `a/../../${name}`, body: "x" }],
      error: `layer entry "a/../../${name}": path escapes the snapshot`,
    },
    {
      name: "an absolute path",
      entries: [{ name: `/tmp/${name}`, body: "x" }],
      error: `layer entry "/tmp/${name}": path escapes the snapshot`,
      outside: join("/tmp", name),
    },
    {
      name: "a file under a symlink to an absolute directory",
      entries: [
        { name: "a", type: "symlink", linkname: "/tmp" },
        { name: `a/${name}`, body: "x" },
      ],
      error: `layer entry "a/${name}": path escapes the snapshot through symlink "a" -> "/tmp"`,
      outside: join("/tmp", name),
    },
    {
      name: "a file under a symlink climbing out",
      entries: [
        { name: "a", type: "symlink", linkname: "../../.." },
        { name: `a/${name}`, body: "x" },
      ],
      error: `layer entry "a/${name}": path escapes the snapshot through symlink "a" -> "../../.."`,
      outside: join(dir, "..", name),
    },
    {
      name: "a chain of symlinks climbing out",
      entries: [
        { name: "d/", type: "directory" },
        { name: "d/up", type: "symlink", linkname: ".." },
        { name: "b", type: "symlink", linkname: ".." },
        { name: "a", type: "symlink", linkname: "d/up/d/up/b" },
        { name: `a/${name}`, body: "x" },
      ],
      error: `layer entry "a/${name}": path escapes the snapshot through symlink "b" -> ".."`,
      outside: join(sentinel, name),
    },
    {
      name: "a directory under an escaping symlink",
      entries: [
        { name: "a", type: "symlink", linkname: "/tmp" },
        { name: `a/${name}/`, type: "directory" },
      ],
      error: `layer entry "a/${name}/": path escapes the snapshot through symlink "a" -> "/tmp"`,
      outside: join("/tmp", name),
    },
    {
      name: "a hardlink to a file outside",
      entries: [{ name: "h", type: "link", linkname: "../../../etc/passwd" }],
      error: 'layer entry "h": hardlink target "../../../etc/passwd": path escapes the snapshot',
    },
    {
      name: "a hardlink with an absolute target",
      entries: [{ name: "h", type: "link", linkname: "/etc/passwd" }],
      error: 'layer entry "h": hardlink target "/etc/passwd": path escapes the snapshot',
    },
    {
      name: "a hardlink through a symlink",
      entries: [
        { name: "s", type: "symlink", linkname: "/etc" },
        { name: "h", type: "link", linkname: "s/passwd" },
      ],
      error:
        'layer entry "h": hardlink target "s/passwd": path escapes the snapshot through symlink "s" -> "/etc"',
    },
    {
      name: "a whiteout under an escaping symlink",
      entries: [{ name: "a", type: "symlink", linkname: "/tmp" }, { name: `a/.wh.${name}` }],
      error: `layer entry "a/.wh.${name}": path escapes the snapshot through symlink "a" -> "/tmp"`,
      outside: join("/tmp", name),
    },
    {
      name: "an opaque marker under an escaping symlink",
      entries: [{ name: "a", type: "symlink", linkname: "../.." }, { name: "a/.wh..wh..opq" }],
      error: 'layer entry "a/.wh..wh..opq": path escapes the snapshot through symlink "a" -> "../.."',
    },
    {
      name: "a whiteout of ..",
      entries: [{ name: "d/.wh..." }],
      error: 'layer entry "d/.wh...": invalid whiteout name ".wh..."',
    },
  ];
  for (const c of cases) {
    await rm(root, { recursive: true, force: true });
    await mkdir(root);
    await assert.rejects(
      apply(root, c.entries),
      (err: Error) => kindOf(err) === "InvalidArgument" && err.message.endsWith(c.error),
      c.name,
    );
    assert.deepEqual(await readdir(sentinel), ["root"], `${c.name}: nothing beside the snapshot`);
    assert.deepEqual(await readdir(dir), ["sentinel"], `${c.name}: nothing above it`);
    if (c.outside) assert.ok(!existsSync(c.outside), `${c.name}: ${c.outside} was not made`);
  }
  assert.equal((await getAttribute(tmpdir(), "trusted.overlay.opaque")) ?? undefined, undefined);
});

test("a truncated layer is refused", async () => {
  const tar = await buildLayer([{ name: "f", body: "x".repeat(2000) }]);
  await assert.rejects(
    applyLayer(root, Readable.from([tar.subarray(0, 1024)]), { log }),
    /layer entry "f": tar entry "f" is truncated/,
  );
});
