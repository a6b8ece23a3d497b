import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, test } from "node:test";
import { pino } from "pino";
import { kindOf } from "../../../lib/errdefs.js";
import { mountAll, unmountAll } from "../../../lib/mount/mount.js";
import { MetadataDb } from "../../core/metadata/db.js";
import type { Mount } from "../../core/snapshots/snapshots.js";
import { OverlaySnapshotter, type SnapshotRecord } from "./overlay.js";

const log = pino({ level: "silent" });
const indexOff = existsSync("/sys/module/overlay/parameters/index") ? ["index=off"] : [];

let dir: string;
let root: string;
let db: MetadataDb;
let s: OverlaySnapshotter;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "berth-overlay-"));
  root = join(dir, "overlayfs");
  db = await MetadataDb.open(join(dir, "meta.lmdb"));
  s = await OverlaySnapshotter.open(root, db, log);
});
afterEach(async () => {
  await unmountAll(join(dir, "target"));
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

const fsOf = (id: number) => join(root, "snapshots", String(id), "fs");

async function withMounted<T>(mounts: Mount[], fn: (target: string) => Promise<T>): Promise<T> {
  const target = join(dir, "target");
  await mkdir(target, { recursive: true });
  await mountAll(mounts, target);
  try {
    return await fn(target);
  } finally {
    await unmountAll(target);
  }
}

const rejectsWith = (p: Promise<unknown>, kind: string, message: RegExp) =>
  assert.rejects(p, (err) => kindOf(err) === kind && message.test((err as Error).message));

test("a chain of layers prepared, written through real mounts, committed and viewed", async () => {
  await withMounted(await s.prepare("ns", "a"), async (t) => {
    await writeFile(join(t, "base"), "from layer 1");
    await writeFile(join(t, "gone"), "deleted by layer 2");
  });
  await s.commit("ns", "l1", "a");
  await withMounted(await s.prepare("ns", "b", "l1"), async (t) => {
    assert.equal(await readFile(join(t, "base"), "utf8"), "from layer 1");
    await writeFile(join(t, "top"), "from layer 2");
    await rm(join(t, "gone"));
  });
  await s.commit("ns", "l2", "b");

  await withMounted(await s.view("ns", "v2", "l2"), async (t) => {
    assert.deepEqual((await readdir(t)).sort(), ["base", "top"]);
    await assert.rejects(writeFile(join(t, "new"), "x"), { code: "EROFS" });
  });
  await withMounted(await s.view("ns", "v1", "l1"), async (t) => {
    assert.deepEqual((await readdir(t)).sort(), ["base", "gone"]);
  });
  await withMounted(await s.prepare("ns", "c", "l2"), async (t) => {
    await writeFile(join(t, "base"), "changed in the container");
  });
  // Lower layers are untouched by writes above them.
  assert.equal(await readFile(join(fsOf(1), "base"), "utf8"), "from layer 1");
  assert.equal(await readFile(join(fsOf(5), "base"), "utf8"), "changed in the container");

  const info = await s.stat("ns", "c");
  assert.equal(info.kind, "Active");
  assert.equal(info.parent, "l2");
  assert.deepEqual(
    (await s.list("ns")).map((i) => [i.name, i.kind, i.parent]),
    [
      ["c", "Active", "l2"],
      ["l1", "Committed", undefined],
      ["l2", "Committed", "l1"],
      ["v1", "View", "l1"],
      ["v2", "View", "l2"],
    ],
  );
});

test("mounts have the shape containerd's overlay snapshotter gives them", async () => {
  await s.prepare("ns", "a"); // id 1
  await s.commit("ns", "l1", "a");
  await s.prepare("ns", "b", "l1"); // id 2
  await s.commit("ns", "l2", "b");
  const cases: { name: string; create: () => Promise<Mount[]>; key: string; want: Mount[] }[] = [
    {
      name: "active without parent: its own directory, bound read-write",
      create: () => s.prepare("ns", "active-0"), // id 3
      key: "active-0",
      want: [{ type: "bind", source: fsOf(3), options: ["rw", "rbind"] }],
    },
    {
      name: "view without parent: its own directory, bound read-only",
      create: () => s.view("ns", "view-0"), // id 4
      key: "view-0",
      want: [{ type: "bind", source: fsOf(4), options: ["ro", "rbind"] }],
    },
    {
      name: "view of one layer: that layer, bound read-only",
      create: () => s.view("ns", "view-1", "l1"), // id 5
      key: "view-1",
      want: [{ type: "bind", source: fsOf(1), options: ["ro", "rbind"] }],
    },
    {
      name: "view of two layers: overlay of lowerdirs only, newest first",
      create: () => s.view("ns", "view-2", "l2"), // id 6
      key: "view-2",
      want: [
        { type: "overlay", source: "overlay", options: [...indexOff, `lowerdir=${fsOf(2)}:${fsOf(1)}`] },
      ],
    },
    {
      name: "active on one layer: overlay with upperdir and workdir",
      create: () => s.prepare("ns", "active-1", "l1"), // id 7
      key: "active-1",
      want: [
        {
          type: "overlay",
          source: "overlay",
          options: [
            ...indexOff,
            `workdir=${join(root, "snapshots", "7", "work")}`,
            `upperdir=${fsOf(7)}`,
            `lowerdir=${fsOf(1)}`,
          ],
        },
      ],
    },
  ];
  for (const c of cases) {
    assert.deepEqual(await c.create(), c.want, c.name);
    assert.deepEqual(await s.mounts("ns", c.key), c.want, `${c.name} (mounts)`);
  }
  await rejectsWith(s.mounts("ns", "l1"), "FailedPrecondition", /snapshot "l1" is committed/);
});

test("a layer with children cannot be removed; without them its directory goes", async () => {
  await s.prepare("ns", "a");
  await s.commit("ns", "l1", "a");
  await s.prepare("ns", "child", "l1");
  await rejectsWith(
    s.remove("ns", "l1"),
    "FailedPrecondition",
    /cannot remove snapshot "l1": snapshot "child"/,
  );
  await s.remove("ns", "child");
  await s.remove("ns", "l1");
  assert.deepEqual(await readdir(join(root, "snapshots")), []);
  await rejectsWith(s.stat("ns", "l1"), "NotFound", /snapshot "l1" does not exist/);
});

test("usage counts blocks and inodes; a committed layer keeps what it measured at commit", async () => {
  const mounts = await s.prepare("ns", "a");
  const upper = (mounts[0] as Mount).source;
  await writeFile(join(upper, "f"), Buffer.alloc(10_000, 1));
  await mkdir(join(upper, "d"));
  const active = await s.usage("ns", "a");
  assert.equal(active.inodes, 3); // fs, f, d
  const blocks = (await stat(upper)).blocks + (await stat(join(upper, "f"))).blocks;
  const dBlocks = (await stat(join(upper, "d"))).blocks;
  assert.equal(active.size, (blocks + dBlocks) * 512);
  assert.ok(active.size >= 10_000);
  await s.commit("ns", "l1", "a");
  await writeFile(join(upper, "late"), Buffer.alloc(50_000, 1));
  assert.deepEqual(await s.usage("ns", "l1"), active);
  const view = await s.view("ns", "v", "l1");
  assert.equal(view.length, 1);
  assert.deepEqual(await s.usage("ns", "v"), { size: 0, inodes: 0 });
});

test("namespaces are separate", async () => {
  await s.prepare("one", "a");
  await s.commit("one", "l1", "a");
  await s.prepare("two", "a");
  await rejectsWith(s.prepare("two", "b", "l1"), "NotFound", /parent snapshot "l1" does not exist/);
  await s.commit("two", "l1", "a");
  assert.deepEqual(
    (await s.list("one")).map((i) => i.name),
    ["l1"],
  );
  await s.remove("two", "l1");
  assert.equal((await s.stat("one", "l1")).kind, "Committed");
  assert.deepEqual(await s.list("two"), []);
});

test("errors name the snapshot and have the right kind", async () => {
  await s.prepare("ns", "a");
  await rejectsWith(
    s.prepare("ns", "a"),
    "AlreadyExists",
    /failed to prepare snapshot "a": snapshot "a" already exists/,
  );
  await rejectsWith(s.prepare("ns", "b", "a"), "InvalidArgument", /parent "a" is not a committed snapshot/);
  await s.commit("ns", "l1", "a");
  await s.prepare("ns", "b", "l1");
  await rejectsWith(s.commit("ns", "l1", "b"), "AlreadyExists", /snapshot "l1" already exists/);
  await rejectsWith(s.commit("ns", "l2", "l1"), "FailedPrecondition", /snapshot "l1" is not active/);
  await rejectsWith(s.usage("ns", "nope"), "NotFound", /snapshot "nope" does not exist/);
  // The refused prepare left no directory: ids 1 and 2 only.
  assert.deepEqual((await readdir(join(root, "snapshots"))).sort(), ["1", "2"]);
});

test("update replaces labels, or sets and clears single ones by field path", async () => {
  await s.prepare("ns", "a", undefined, { labels: { x: "1", y: "2" } });
  assert.deepEqual((await s.update("ns", { name: "a", labels: { z: "3" } })).labels, { z: "3" });
  const info = await s.update("ns", { name: "a", labels: { y: "9", w: "4" } }, ["labels.y", "labels.z"]);
  assert.deepEqual(info.labels, { y: "9" });
  assert.ok(info.updatedAt >= info.createdAt);
  await rejectsWith(
    s.update("ns", { name: "a", labels: {} }, ["kind"]),
    "InvalidArgument",
    /cannot update "kind"/,
  );
  await s.commit("ns", "l1", "a", { labels: { committed: "yes" } });
  assert.deepEqual((await s.stat("ns", "l1")).labels, { committed: "yes" });
});

test("cleanup removes orphan directories and records whose directory is gone, with their children", async () => {
  await s.prepare("ns", "a"); // 1
  await s.commit("ns", "l1", "a");
  await s.prepare("ns", "b", "l1"); // 2
  await s.commit("ns", "l2", "b");
  await s.prepare("ns", "c", "l2"); // 3
  await s.prepare("ns", "keep"); // 4
  const snapshots = join(root, "snapshots");
  await mkdir(join(snapshots, "99", "fs"), { recursive: true });
  await mkdir(join(snapshots, "new-abc123", "fs"), { recursive: true });
  await rm(join(snapshots, "2"), { recursive: true });

  await s.cleanup();
  assert.deepEqual((await readdir(snapshots)).sort(), ["1", "4"]);
  assert.deepEqual(
    (await s.list("ns")).map((i) => i.name),
    ["keep", "l1"],
  );
  // Ids are not reused after a cleanup.
  await s.prepare("ns", "d");
  assert.deepEqual((await readdir(snapshots)).sort(), ["1", "4", "5"]);
});

test("a process killed at any moment of prepare, commit, view or remove leaves a consistent store", async () => {
  const dbPath = join(dir, "crash.lmdb");
  const crashRoot = join(dir, "crash");
  const child = new URL("./crash-child.js", import.meta.url).pathname;
  for (let round = 0; round < 6; round++) {
    const proc = spawn(process.execPath, [child, crashRoot, dbPath], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const exited = new Promise<NodeJS.Signals | null>((ok) => proc.on("exit", (_code, signal) => ok(signal)));
    await new Promise<void>((ok) => proc.stdout.once("data", () => ok()));
    await new Promise((ok) => setTimeout(ok, 30 + round * 40));
    proc.kill("SIGKILL");
    assert.equal(await exited, "SIGKILL", "the child was still working when killed");

    const reopened = await MetadataDb.open(dbPath);
    const snap = await OverlaySnapshotter.open(crashRoot, reopened, log);
    const records = reopened.listNamespace(reopened.bucket<SnapshotRecord>("snapshots"), "crash");
    const dirs = await readdir(join(crashRoot, "snapshots"));
    assert.ok(records.length > 0, "the child made progress");
    assert.deepEqual(
      dirs.sort(),
      records.map((r) => r.value.id).sort(),
      "every directory has a record and every record its directory",
    );
    for (const { key, value } of records) {
      if (value.parent !== undefined) await snap.stat("crash", value.parent);
      if (value.kind === "Active") await stat(join(crashRoot, "snapshots", value.id, "work"));
      if (value.kind === "Committed") assert.ok(value.usage, `${String(key[1])} has its usage`);
    }
    const lastId = reopened.bucket<number>("snapshots.overlay").get(["lastId"]) ?? 0;
    assert.ok(
      records.every((r) => Number(r.value.id) <= lastId),
      "ids come from the counter",
    );
    await reopened.close();
  }
});
