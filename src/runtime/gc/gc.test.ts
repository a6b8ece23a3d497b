import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, test } from "node:test";
import { newLogger } from "../../lib/log.js";
import { fromBytes } from "../../lib/reference/digest.js";
import { LocalContentStore } from "../content/local-store.js";
import { LabelGCRefContent, LabelGCRefSnapshot, LabelGCRoot } from "../core/labels.js";
import { MetadataDb } from "../core/metadata/db.js";
import { MetadataImageStore } from "../images/image-store.js";
import { MetadataLeaseManager } from "../leases/lease-manager.js";
import { OverlaySnapshotter } from "../snapshots/overlay/overlay.js";
import { GarbageCollector, type GcResource, type GcStats } from "./gc.js";

const log = newLogger("error");
const ns = "k8s.io";
const indexType = "application/vnd.oci.image.index.v1+json";

let dir: string;
let db: MetadataDb;
let content: LocalContentStore;
let images: MetadataImageStore;
let leases: MetadataLeaseManager;
let overlay: OverlaySnapshotter;
let containerRoots: GcResource[];
let gc: GarbageCollector;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "berth-gc-"));
  db = await MetadataDb.open(join(dir, "meta", "meta.lmdb"));
  content = await LocalContentStore.open(join(dir, "content"), db, log);
  images = new MetadataImageStore(db);
  leases = new MetadataLeaseManager(db);
  overlay = await OverlaySnapshotter.open(join(dir, "overlay"), db, log);
  containerRoots = [];
  gc = newCollector();
});
afterEach(async () => {
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

function newCollector(ingestGraceMs?: number): GarbageCollector {
  return new GarbageCollector({
    db,
    content,
    snapshotters: { overlayfs: overlay },
    roots: [() => containerRoots],
    log,
    ...(ingestGraceMs === undefined ? {} : { ingestGraceMs }),
  });
}

async function put(namespace: string, data: string, labels: Record<string, string> = {}): Promise<string> {
  const digest = fromBytes(Buffer.from(data));
  const w = await content.writer(namespace, { ref: `ref-${digest}` });
  await w.write(Buffer.from(data));
  await w.commit(data.length, digest, { labels });
  return digest;
}

/** An image → index → manifest → config + layers, linked by gc.ref labels as a pull links them. */
async function pullImage(namespace: string, name: string, configLabels: Record<string, string> = {}) {
  const layers = [await put(namespace, `${name} layer 0`), await put(namespace, `${name} layer 1`)];
  const config = await put(namespace, `${name} config`, configLabels);
  const manifest = await put(namespace, `${name} manifest`, {
    [`${LabelGCRefContent}.config`]: config,
    [`${LabelGCRefContent}.l.0`]: layers[0] as string,
    [`${LabelGCRefContent}.l.1`]: layers[1] as string,
  });
  const index = await put(namespace, `${name} index`, { [`${LabelGCRefContent}.m.0`]: manifest });
  await images.create(namespace, {
    name,
    target: { mediaType: indexType, digest: index, size: 1 },
    labels: {},
  });
  return [index, manifest, config, ...layers].sort();
}

const blobFiles = () => readdir(join(dir, "content", "blobs", "sha256"));
const ingestDirs = () => readdir(join(dir, "content", "ingest"));
const digests = async (namespace: string) => (await content.list(namespace)).map((i) => i.digest).sort();
const stats = (s: Partial<GcStats>): GcStats => ({
  leasesExpired: 0,
  contentRecords: 0,
  blobs: 0,
  ingests: 0,
  snapshots: 0,
  bytesFreed: 0,
  durationMs: 0,
  ...s,
});
const collect = async (opts?: { startup?: boolean }, collector = gc) => ({
  ...(await collector.collect(opts)),
  durationMs: 0,
});

test("an image keeps its index, manifest, config and layers; unreferenced content goes, record and file", async () => {
  const kept = await pullImage(ns, "docker.io/library/busybox:1.36");
  const stray = await put(ns, "stray");
  assert.deepEqual(await collect({ startup: true }), stats({ contentRecords: 1, blobs: 1, bytesFreed: 5 }));
  assert.deepEqual(await digests(ns), kept);
  assert.equal((await blobFiles()).length, kept.length);
  await assert.rejects(content.readBlob(ns, stray), { kind: "NotFound" });

  assert.deepEqual(await collect(), stats({}));
  await images.delete(ns, "docker.io/library/busybox:1.36");
  const freed = await collect();
  assert.deepEqual(freed, stats({ contentRecords: 5, blobs: 5, bytesFreed: freed.bytesFreed }));
  assert.ok(freed.bytesFreed > 0);
  assert.deepEqual(await digests(ns), []);
  assert.deepEqual(await blobFiles(), []);
});

test("a blob referenced in one namespace stays on disk while another namespace's unreferenced record goes", async () => {
  const kept = await pullImage("a", "img");
  // Linked into "b" without a download, as a pull there would.
  for (const digest of kept) {
    await assert.rejects(content.writer("b", { ref: digest, expected: { digest, size: 0 } }), {
      kind: "AlreadyExists",
    });
  }
  assert.deepEqual(await digests("b"), kept);
  assert.deepEqual(await collect(), stats({ contentRecords: 5 }));
  assert.deepEqual(await digests("a"), kept);
  assert.deepEqual(await digests("b"), []);
  assert.equal((await blobFiles()).length, 5);
});

test("leases keep content and ingests until deleted; expired leases and gc.root labels are honoured", async () => {
  const leased = await put(ns, "leased");
  const expiring = await put(ns, "expiring");
  const root = await put(ns, "root", { [LabelGCRoot]: "2030-01-01T00:00:00Z" });
  const fromProvider = await put(ns, "named by a provider");
  containerRoots = [{ type: "content", ns, digest: fromProvider }];
  await leases.create(ns, { id: "pull" });
  await leases.addResource(ns, "pull", { type: "content", id: leased });
  await leases.addResource(ns, "pull", { type: "ingests", id: "partial" });
  await leases.create(ns, { id: "old", expireAt: new Date(Date.now() - 1000) });
  await leases.addResource(ns, "old", { type: "content", id: expiring });
  const w = await content.writer(ns, { ref: "partial" });
  await w.write(Buffer.from("half a layer"));
  await w.close();

  assert.deepEqual(
    await collect({ startup: true }),
    stats({ leasesExpired: 1, contentRecords: 1, blobs: 1, bytesFreed: "expiring".length }),
  );
  assert.deepEqual(
    (await leases.list(ns)).map((l) => l.id),
    ["pull"],
  );
  assert.deepEqual(await digests(ns), [leased, root, fromProvider].sort());
  assert.equal((await content.status(ns, "partial")).offset, "half a layer".length);

  await leases.delete(ns, "pull");
  containerRoots = [];
  assert.deepEqual(
    await collect({ startup: true }),
    stats({ contentRecords: 2, blobs: 2, ingests: 1, bytesFreed: 6 + 19 + 12 }),
  );
  assert.deepEqual(await digests(ns), [root]);
  assert.deepEqual(await ingestDirs(), []);
  await assert.rejects(content.status(ns, "partial"), { kind: "NotFound" });
});

test("an ingest no lease holds is kept while written or recent, and removed when stale or at start-up", async () => {
  const live = await content.writer(ns, { ref: "live" });
  await live.write(Buffer.from("streaming"));
  const recent = await content.writer(ns, { ref: "recent" });
  await recent.write(Buffer.from("paused"));
  await recent.close();

  assert.deepEqual(await collect(), stats({}));
  assert.deepEqual(await collect({ startup: true }), stats({ ingests: 1, bytesFreed: 6 }));
  assert.deepEqual(
    (await content.listStatuses(ns)).map((s) => s.ref),
    ["live"],
  );
  await live.close();
  assert.deepEqual(await collect(), stats({}));
  assert.deepEqual(await collect({}, newCollector(0)), stats({ ingests: 1, bytesFreed: 9 }));
  assert.deepEqual(await ingestDirs(), []);
});

test("files a crash left without records, a blob after its rename and an ingest directory, are removed", async () => {
  const kept = await put(ns, "kept", { [LabelGCRoot]: "yes" });
  const orphan = fromBytes(Buffer.from("orphan"));
  await writeFile(join(dir, "content", "blobs", "sha256", orphan.slice(7)), "orphan", { mode: 0o444 });
  await mkdir(join(dir, "content", "ingest", "f".repeat(64)));
  await writeFile(join(dir, "content", "ingest", "f".repeat(64), "data"), "12345678");

  assert.deepEqual(await collect({ startup: true }), stats({ blobs: 1, ingests: 1, bytesFreed: 6 + 8 }));
  assert.deepEqual(await blobFiles(), [kept.slice(7)]);
  assert.deepEqual(await ingestDirs(), []);
});

test("snapshots: image, container, lease and gc.root keep theirs with their parents; the rest go, children first", async () => {
  const sn = overlay;
  await sn.prepare(ns, "extract-1");
  await sn.commit(ns, "chain1", "extract-1");
  await sn.prepare(ns, "extract-2", "chain1");
  await sn.commit(ns, "chain2", "extract-2");
  await pullImage(ns, "app", { [`${LabelGCRefSnapshot}overlayfs`]: "chain2" });
  await sn.prepare(ns, "container-rootfs", "chain2");
  containerRoots = [{ type: "snapshot", ns, snapshotter: "overlayfs", key: "container-rootfs" }];
  await leases.create(ns, { id: "unpack" });
  await leases.addResource(ns, "unpack", { type: "snapshots/overlayfs", id: "extract-3" });
  await sn.prepare(ns, "extract-3", "chain1");
  await sn.prepare(ns, "pinned-active");
  await sn.commit(ns, "pinned", "pinned-active", { labels: { [LabelGCRoot]: "x" } });
  await sn.prepare(ns, "junk-active");
  await sn.commit(ns, "junk1", "junk-active");
  await sn.prepare(ns, "junk-active-2", "junk1");
  await sn.commit(ns, "junk2", "junk-active-2");
  await sn.view(ns, "junk3", "junk2");
  await sn.prepare("other", "elsewhere");

  const snapshotNames = async (namespace: string) => (await sn.list(namespace)).map((s) => s.name).sort();
  assert.deepEqual(await collect(), stats({ snapshots: 4 }));
  assert.deepEqual(await snapshotNames(ns), ["chain1", "chain2", "container-rootfs", "extract-3", "pinned"]);
  assert.deepEqual(await snapshotNames("other"), []);
  assert.equal((await readdir(join(dir, "overlay", "snapshots"))).length, 5);

  containerRoots = [];
  await leases.delete(ns, "unpack");
  await images.delete(ns, "app");
  const imageBytes = (await content.list(ns)).reduce((n, i) => n + i.size, 0);
  assert.deepEqual(
    await collect(),
    stats({ contentRecords: 5, blobs: 5, snapshots: 4, bytesFreed: imageBytes }),
  );
  assert.deepEqual(await snapshotNames(ns), ["pinned"]);
  assert.equal((await readdir(join(dir, "overlay", "snapshots"))).length, 1);
});

test("commits racing collections never leave a record without its blob", async () => {
  await leases.create(ns, { id: "pull" });
  const committed: string[] = [];
  let running = true;
  const collector = (async () => {
    let runs = 0;
    while (running || runs === 0) {
      await gc.collect();
      runs++;
    }
    return runs;
  })();
  for (let i = 0; i < 30; i++) {
    const data = `layer ${i}`;
    const digest = fromBytes(Buffer.from(data));
    // The rule for writers: lease first, then write.
    await leases.addResource(ns, "pull", { type: "content", id: digest });
    const w = await content.writer(ns, { ref: `layer-${i}`, expected: { digest, size: data.length } });
    await w.write(Buffer.from(data));
    await w.commit(data.length, digest);
    committed.push(digest);
  }
  running = false;
  assert.ok((await collector) >= 1);
  assert.deepEqual(await digests(ns), committed.sort());
  for (const digest of committed) await stat(join(dir, "content", "blobs", "sha256", digest.slice(7)));
});
