import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { text } from "node:stream/consumers";
import { afterEach, beforeEach, test } from "node:test";
import { newLogger } from "../../lib/log.js";
import { fromBytes } from "../../lib/reference/digest.js";
import { MetadataDb } from "../core/metadata/db.js";
import { gcLock } from "../gc/gc-lock.js";
import { LocalContentStore } from "./local-store.js";

const digestOf = (data: string) => fromBytes(Buffer.from(data));

const log = newLogger("error");
const ns = "k8s.io";
let dir: string;
let db: MetadataDb;
let store: LocalContentStore;

async function openStore(): Promise<void> {
  db = await MetadataDb.open(join(dir, "meta", "meta.lmdb"));
  store = await LocalContentStore.open(join(dir, "content"), db, log);
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "berth-content-"));
  await openStore();
});
afterEach(async () => {
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

async function put(namespace: string, ref: string, data: string, labels?: Record<string, string>) {
  const digest = digestOf(data);
  const w = await store.writer(namespace, { ref });
  await w.write(Buffer.from(data));
  await w.commit(data.length, digest, labels ? { labels } : {});
  return digest;
}

const blobFile = (digest: string) => join(dir, "content", "blobs", "sha256", digest.slice(7));
const ingestDirs = () => readdir(join(dir, "content", "ingest"));

test("a committed blob is readable as a buffer and a stream, read-only on disk, its ingest gone", async () => {
  const data = "hello, berth";
  const digest = digestOf(data);
  const w = await store.writer(ns, { ref: "r1", expected: { digest, size: data.length } });
  assert.equal(w.offset, 0);
  await w.write(Buffer.from("hello, "));
  await w.write(Buffer.from("berth"));
  assert.equal(w.offset, data.length);
  await w.commit(data.length, digest, { labels: { "containerd.io/gc.root": "x" } });

  assert.equal((await store.readBlob(ns, digest)).toString(), data);
  assert.equal(await text(await store.createReadStream(ns, digest)), data);
  const info = await store.info(ns, digest);
  assert.deepEqual(
    [info.digest, info.size, info.labels],
    [digest, data.length, { "containerd.io/gc.root": "x" }],
  );
  assert.deepEqual(
    (await store.list(ns)).map((i) => i.digest),
    [digest],
  );
  assert.equal((await stat(blobFile(digest))).mode & 0o777, 0o444);
  assert.deepEqual(await ingestDirs(), []);
  assert.deepEqual(await store.listStatuses(ns), []);
});

for (const { name, size, digest, message } of [
  {
    name: "a wrong digest",
    size: 4,
    digest: digestOf("nope"),
    message: new RegExp(`unexpected commit digest ${digestOf("data")}, expected ${digestOf("nope")}`),
  },
  {
    name: "a wrong size",
    size: 5,
    digest: digestOf("data"),
    message: /unexpected commit size 4, expected 5/,
  },
]) {
  test(`a commit with ${name} is refused and leaves nothing behind`, async () => {
    const w = await store.writer(ns, { ref: "bad" });
    await w.write(Buffer.from("data"));
    await assert.rejects(w.commit(size, digest), { kind: "FailedPrecondition", message: message });
    assert.deepEqual(await ingestDirs(), []);
    assert.deepEqual(await readdir(join(dir, "content", "blobs", "sha256")), []);
    assert.deepEqual(await store.listStatuses(ns), []);
    assert.deepEqual(await store.list(ns), []);
    const again = await store.writer(ns, { ref: "bad" });
    assert.equal(again.offset, 0);
    await again.close();
  });
}

test("an ingest resumes where it stopped after its writer closed, and after a restart", async () => {
  const data = "0123456789abcdefghij";
  const digest = digestOf(data);
  const expected = { digest, size: data.length };
  const first = await store.writer(ns, { ref: "layer", expected });
  await first.write(Buffer.from(data.slice(0, 5)));
  await first.close();

  const status = await store.status(ns, "layer");
  assert.deepEqual(
    [status.ref, status.offset, status.total, status.expected],
    ["layer", 5, data.length, digest],
  );
  const second = await store.writer(ns, { ref: "layer", expected });
  assert.equal(second.offset, 5);
  await second.write(Buffer.from(data.slice(5, 12)));
  await second.close();

  await db.close();
  await openStore();
  assert.equal((await store.status(ns, "layer")).startedAt.getTime(), status.startedAt.getTime());
  const third = await store.writer(ns, { ref: "layer", expected });
  assert.equal(third.offset, 12);
  await third.write(Buffer.from(data.slice(12)));
  await third.commit(0, "");
  assert.equal((await store.readBlob(ns, digest)).toString(), data);
});

test("one writer per ref: a second is Unavailable until the first closes; other namespaces are apart", async () => {
  const w = await store.writer(ns, { ref: "busy" });
  await assert.rejects(store.writer(ns, { ref: "busy" }), {
    kind: "Unavailable",
    message: /ref "busy" locked/,
  });
  await assert.rejects(store.abort(ns, "busy"), { kind: "Unavailable" });
  const elsewhere = await store.writer("other", { ref: "busy" });
  await elsewhere.close();
  await w.close();
  const again = await store.writer(ns, { ref: "busy" });
  await again.close();
  await store.abort(ns, "busy");
  await assert.rejects(store.status(ns, "busy"), { kind: "NotFound" });
  await assert.rejects(store.abort(ns, "busy"), { kind: "NotFound" });
  // Only the other namespace's ingest is left.
  assert.equal((await store.listStatuses("other")).length, 1);
  assert.equal((await ingestDirs()).length, 1);
});

test("a blob shared by two namespaces stays on disk until neither has a record", async () => {
  const data = "shared layer";
  const digest = await put("a", "ra", data);
  assert.equal((await stat(blobFile(digest))).size, data.length);

  // Committing the same bytes in another namespace records them there and says AlreadyExists.
  const w = await store.writer("b", { ref: "rb" });
  await w.write(Buffer.from(data));
  await assert.rejects(w.commit(data.length, digest), { kind: "AlreadyExists" });
  assert.deepEqual(await ingestDirs(), []);
  // A writer that names the digest is spared the download: the blob is linked at once.
  await assert.rejects(store.writer("c", { ref: "rc", expected: { digest, size: data.length } }), {
    kind: "AlreadyExists",
  });
  await assert.rejects(store.writer("a", { ref: "ra2", expected: { digest, size: data.length } }), {
    kind: "AlreadyExists",
  });
  await assert.rejects(store.readBlob("d", digest), { kind: "NotFound" });

  const collect = () => gcLock(db).exclusive(() => store.garbageCollect());
  await store.delete("a", digest);
  await assert.rejects(store.info("a", digest), { kind: "NotFound" });
  await assert.rejects(store.delete("a", digest), { kind: "NotFound" });
  await store.delete("b", digest);
  assert.deepEqual(await collect(), { blobs: 0, ingests: 0, bytes: 0 });
  assert.equal((await store.readBlob("c", digest)).toString(), data);
  await store.delete("c", digest);
  assert.deepEqual(await collect(), { blobs: 1, ingests: 0, bytes: data.length });
  await assert.rejects(stat(blobFile(digest)), { code: "ENOENT" });
});

test("the content store's GC removes ingest directories without a record, never one being written", async () => {
  const w = await store.writer(ns, { ref: "live" });
  await w.write(Buffer.from("x"));
  await writeFile(join(dir, "content", "ingest", "leftover"), "");
  const live = await ingestDirs();
  assert.equal(live.length, 2);
  assert.deepEqual(await gcLock(db).exclusive(() => store.garbageCollect()), {
    blobs: 0,
    ingests: 1,
    bytes: 0,
  });
  assert.equal((await ingestDirs()).length, 1);
  await w.close();
});

test("labels update: all of them, or only the field paths named", async () => {
  const digest = await put(ns, "l", "labelled", { keep: "1", drop: "2" });
  const before = await store.info(ns, digest);
  const cases: { fieldpaths?: string[]; labels: Record<string, string>; want: Record<string, string> }[] = [
    {
      fieldpaths: ["labels.add"],
      labels: { add: "3", keep: "ignored" },
      want: { keep: "1", drop: "2", add: "3" },
    },
    { fieldpaths: ["labels.drop"], labels: {}, want: { keep: "1", add: "3" } },
    { fieldpaths: ["labels"], labels: { only: "4" }, want: { only: "4" } },
    { labels: { all: "5", empty: "" }, want: { all: "5" } },
  ];
  for (const { fieldpaths, labels, want } of cases) {
    const updated = await store.update(ns, { digest, labels }, fieldpaths);
    assert.deepEqual(updated.labels, want, `fieldpaths ${fieldpaths}`);
    assert.deepEqual((await store.info(ns, digest)).labels, want);
  }
  const after = await store.info(ns, digest);
  assert.ok(after.updatedAt >= before.updatedAt);
  assert.equal(after.createdAt.getTime(), before.createdAt.getTime());
  await assert.rejects(store.update(ns, { digest, labels: {} }, ["size"]), { kind: "InvalidArgument" });
  await assert.rejects(store.update("other", { digest, labels: {} }), { kind: "NotFound" });
  await assert.rejects(store.update(ns, { digest, labels: { k: "v".repeat(5000) } }), {
    kind: "InvalidArgument",
  });
});

test("reads check the digest and the namespace's record", async () => {
  const digest = await put(ns, "r", "visible in k8s.io only");
  await assert.rejects(store.readBlob("default", digest), { kind: "NotFound" });
  await assert.rejects(store.createReadStream("default", digest), { kind: "NotFound" });
  await assert.rejects(store.info("default", digest), { kind: "NotFound" });
  await assert.rejects(store.readBlob(ns, "sha256:abc"), { kind: "InvalidArgument" });
  await assert.rejects(store.writer(ns, { ref: "" }), { kind: "InvalidArgument" });
  await assert.rejects(store.writer(ns, { ref: "x", expected: { digest: "md5:1", size: 1 } }), {
    kind: "InvalidArgument",
  });
});
