// kill -9 of `berth runtime` at chosen moments of a pull and of an image removal, then a
// restart on the same root: start-up GC ran, the image is whole or absent (never half), no
// mount is left, a repeated pull completes and resumes what the killed one had fetched, and
// removing the image leaves no blob, ingest, snapshot directory, record or lease behind.
//
// The pull goes through a throttling proxy in front of a real registry, so that downloads
// and unpacking take long enough to be hit. Steps microseconds apart (labels, records) are
// hit by running the daemon in slices (SIGSTOP/SIGCONT) while the test reads the store, and
// killing it once the store shows the step. The jitter after each moment comes from a
// seeded generator: BERTH_CRASH_SEED repeats a run.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { open, readFile } from "node:fs/promises";
import type { TestContext } from "node:test";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { BlobState, Images, type PullProgressEvent } from "../src/cri/gen/berth/v1/images_pb.js";
import { type ImageServiceClient, newRemoteImageService } from "../src/cri/remote-image.js";
import { type CriConnection, dialCri, newCriClient } from "../src/cri/transport.js";
import type { BuiltImage } from "../src/local-images/oci-image-builder.js";
import { LabelGCRefContent, LabelGCRefSnapshot, LabelUncompressed } from "../src/runtime/core/labels.js";
import { chainIds } from "../src/runtime/images/oci.js";
import { LabelPullRef } from "../src/runtime/images/pull.js";
import { type BerthRuntime, startBerthRuntime } from "../src/testenv/berth-runtime.js";
import { buildLargeImage, defaultImagesDir } from "../src/testenv/images.js";
import { type Registry, startRegistry } from "../src/testenv/registry.js";
import { startThrottlingProxy, type ThrottlingProxy } from "../src/testenv/throttling-proxy.js";
import { openRootReader, type RootState, readRootState, summarize } from "./support/runtime-root.js";
import { stopProcess } from "./support/stepper.js";

const ns = "k8s.io";
/** While a pull is to be killed: about two seconds for the image's 42 MiB. */
const throttledRate = 24 * 1024 * 1024;
const seed = Number(process.env.BERTH_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));

let registry: Registry;
let proxy: ThrottlingProxy;
let image: BuiltImage;
let ref: string;
let chain: string[];

before(async () => {
  image = await buildLargeImage(defaultImagesDir());
  chain = chainIds(image.diffIds);
  registry = await startRegistry();
  await registry.push(image, "berth/large", "1");
  proxy = await startThrottlingProxy({ host: "127.0.0.1", port: registry.port }, throttledRate);
  ref = `${proxy.host}/berth/large:1`;
});

after(async () => {
  await proxy?.close();
  await registry?.stop();
});

/** mulberry32: a small seeded generator, so that a failing run can be repeated. */
function random(s: number): () => number {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), a | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32;
  };
}

type Blob = PullProgressEvent["blobs"][number];
const layer = (e: PullProgressEvent, i: number): Blob | undefined =>
  e.blobs.find((b) => b.digest === image.layerDigests[i]);
const downloadedPart = (b: Blob | undefined) =>
  b && b.state === BlobState.BLOB_DOWNLOADING ? Number(b.offset) / Number(b.size) : 0;
const labelsOf = (s: RootState, digest: string) => s.content.get(`${ns}/${digest}`) ?? {};
const last = 5;

/** A moment of the daemon's work, as seen from outside while it runs freely. */
type Moment =
  /** As soon as the call is made. */
  | { now: true }
  | { progress: (e: PullProgressEvent) => boolean }
  /** The root's records and files, polled. */
  | { store: (s: RootState) => boolean }
  | { log: RegExp };

/**
 * Where the kill lands: `jitterMs` after a moment of the free-running daemon; or, for steps
 * microseconds apart (records, labels), the daemon runs in slices from `stepFrom` on and
 * dies `slices` slices after the store first shows `until`.
 */
type KillPoint = { name: string } & (
  | { kill: Moment; jitterMs: [number, number] }
  | { stepFrom: Moment; until: (s: RootState) => boolean; slices: [number, number] }
);

/** The layer below the last one is unpacked: stepped from here, the rest can be hit anywhere. */
const beforeLastLayer: Moment = { store: (s) => s.snapshots.has(`${ns}/${chain[last - 1]}`) };

const downloadingFirstLayers: KillPoint = {
  name: "downloading the first layers",
  kill: { progress: (e) => downloadedPart(layer(e, 0)) >= 0.2 },
  jitterMs: [0, 20],
};
const namingTheImage: KillPoint = {
  name: "releasing the lease and naming the image",
  stepFrom: beforeLastLayer,
  until: (s) => s.images.has(`${ns}/${ref}`),
  slices: [0, 4],
};

const pullKills: KillPoint[] = [
  { name: "resolving the reference", kill: { now: true }, jitterMs: [0, 3] },
  downloadingFirstLayers,
  {
    name: "committing layer 0",
    kill: { progress: (e) => layer(e, 0)?.state === BlobState.BLOB_DOWNLOADED },
    jitterMs: [0, 2],
  },
  {
    name: "committing an ingest whose last byte is written",
    stepFrom: { progress: (e) => downloadedPart(layer(e, 0)) >= 0.8 },
    until: (s) => [...s.ingests.values()].some((i) => i.total > 0 && i.bytes === i.total),
    slices: [0, 1],
  },
  {
    name: "unpacking layer 0",
    kill: { progress: (e) => layer(e, 0)?.state === BlobState.BLOB_UNPACKING },
    jitterMs: [0, 30],
  },
  {
    name: "downloading layer 4 while unpacking below it",
    kill: { progress: (e) => downloadedPart(layer(e, 4)) >= 0.5 },
    jitterMs: [0, 20],
  },
  {
    name: "unpacking the last layer",
    stepFrom: beforeLastLayer,
    until: (s) => [...s.snapshots.values()].some((r) => r.kind === "Active" && r.parent === chain[last - 1]),
    slices: [0, 60],
  },
  {
    name: "labelling the layers and the config",
    stepFrom: beforeLastLayer,
    until: (s) => s.snapshots.has(`${ns}/${chain[last]}`),
    slices: [0, 2],
  },
  {
    name: "labelling the manifest",
    stepFrom: beforeLastLayer,
    until: (s) => `${LabelGCRefSnapshot}overlayfs` in labelsOf(s, image.configDigest),
    slices: [0, 1],
  },
  {
    name: "writing the image record",
    stepFrom: beforeLastLayer,
    until: (s) => `${LabelGCRefContent}.config` in labelsOf(s, image.manifestDigest),
    slices: [0, 1],
  },
  namingTheImage,
];

const removeKills: KillPoint[] = [
  {
    name: "deleting the image's names",
    stepFrom: { now: true },
    until: (s) => s.images.size < 3,
    slices: [0, 1],
  },
  {
    name: "collecting after the names are gone",
    stepFrom: { now: true },
    until: (s) => s.images.size === 0,
    slices: [0, 1],
  },
  {
    name: "removing blob files",
    stepFrom: { now: true },
    until: (s) => s.content.size === 0,
    slices: [0, 20],
  },
  { name: "removing snapshots", kill: { log: /"msg":"removed snapshot"/ }, jitterMs: [0, 5] },
];

/** Runs one crash: each kill point of `kills` hits a pull in turn, with a restart and checks after each. */
async function pullKilled(t: TestContext, kills: KillPoint[], rand: () => number): Promise<void> {
  const rt = await startBerthRuntime();
  let conn: CriConnection | undefined;
  try {
    let killed: RootState | undefined;
    for (const point of kills) {
      conn = dialCri(rt.endpoint);
      proxy.bytesPerSecond = throttledRate;
      const outcome = await killDuring(rt, conn, "pull", point, rand);
      conn.close();
      killed = await readRootState(rt.root);
      t.diagnostic(`seed ${seed}, killed while ${point.name}: ${outcome}; left ${summarize(killed)}`);
      await restart(rt);
      conn = dialCri(rt.endpoint);
      t.diagnostic(`after restart: ${await assertConsistent(rt, newRemoteImageService(conn))}`);
      conn.close();
    }
    const logStart = (await readFile(rt.logPath)).length;
    conn = dialCri(rt.endpoint);
    const images = newRemoteImageService(conn);
    proxy.bytesPerSecond = Number.POSITIVE_INFINITY;
    assert.equal((await images.pullImage({ image: { image: ref } })).imageRef, image.configDigest);
    assert.equal((await images.imageStatus({ image: { image: ref } })).image?.id, image.configDigest);
    if (killed) assertResumed(t, killed, logLines(rt, logStart));
    const repulled = await readRootState(rt.root);
    assert.deepEqual([...repulled.leases.keys()], [], "no lease outlives the repeated pull");
    assertWhole(repulled);

    await images.removeImage({ image: { image: ref } });
    await assertEmpty(rt);
  } finally {
    conn?.close();
    await rt.stop();
  }
}

for (const [i, point] of pullKills.entries()) {
  test(`kill -9 while ${point.name}, restart: whole or absent, the pull resumes, remove leaves nothing`, (t) =>
    pullKilled(t, [point], random(seed + i)));
}

test("kill -9 of a pull, then of its retry once the image is named: the killed pull's lease goes with the retry", (t) =>
  pullKilled(
    t,
    [downloadingFirstLayers, { ...namingTheImage, name: "the retry drops the killed pull's lease" }],
    random(seed - 1),
  ));

for (const [i, point] of removeKills.entries()) {
  test(`kill -9 of RemoveImage while ${point.name}, restart: whole or gone, a second remove leaves nothing`, async (t) => {
    const rand = random(seed + pullKills.length + i);
    const rt = await startBerthRuntime();
    let conn = dialCri(rt.endpoint);
    try {
      proxy.bytesPerSecond = Number.POSITIVE_INFINITY;
      await newRemoteImageService(conn).pullImage({ image: { image: ref } });
      const outcome = await killDuring(rt, conn, "remove", point, rand);
      conn.close();
      t.diagnostic(
        `seed ${seed}, killed while ${point.name}: ${outcome}; left ${summarize(await readRootState(rt.root))}`,
      );

      await restart(rt);
      conn = dialCri(rt.endpoint);
      const images = newRemoteImageService(conn);
      t.diagnostic(`after restart: ${await assertConsistent(rt, images)}`);
      // By id, as the kubelet removes: the tag may be the name that went first.
      await images.removeImage({ image: { image: image.configDigest } });
      await assertEmpty(rt);
    } finally {
      conn.close();
      await rt.stop();
    }
  });
}

function jitter(rand: () => number, [min, max]: [number, number]): number {
  return min + rand() * (max - min);
}

/** Makes the call, kills the daemon at the point, and says how the call ended. */
async function killDuring(
  rt: BerthRuntime,
  conn: CriConnection,
  call: "pull" | "remove",
  point: KillPoint,
  rand: () => number,
): Promise<string> {
  const watch = new AbortController();
  const reader = openRootReader(rt.root);
  const logStart = (await readFile(rt.logPath)).length;
  const events =
    call === "pull"
      ? newCriClient(Images, conn)
          .pullProgress({ image: ref }, { signal: watch.signal, timeoutMs: 0 })
          [Symbol.asyncIterator]()
      : undefined;
  // The first event says the watch is in place, before the call.
  await events?.next();
  const images = newRemoteImageService(conn);
  const answered = (
    call === "pull"
      ? images.pullImage({ image: { image: ref } })
      : images.removeImage({ image: { image: ref } })
  ).then(
    () => `${call} had returned`,
    () => `${call} was cut off`,
  );
  try {
    const reached = async (m: Moment) => {
      if ("progress" in m) {
        for (;;) {
          const { value, done } = (await events?.next()) ?? { done: true };
          if (done) throw new Error("the progress stream ended before the moment");
          if (m.progress(value)) return;
          if (value.done) throw new Error(`the pull ended before the moment: ${value.error}`);
        }
      }
      if ("store" in m) {
        for (const deadline = Date.now() + 30_000; !m.store(await reader.read()); ) {
          if (Date.now() > deadline) throw new Error("the store never reached the moment");
          await new Promise((r) => setImmediate(r));
        }
      }
      if ("log" in m) await waitForLog(rt.logPath, logStart, m.log);
    };
    if ("kill" in point) {
      await reached(point.kill);
      await sleep(jitter(rand, point.jitterMs));
    } else {
      await reached(point.stepFrom);
      const stepper = stopProcess(rt.pid);
      try {
        let ended = false;
        void answered.then(() => {
          ended = true;
        });
        while (!point.until(await reader.read())) {
          if (ended) throw new Error(`the ${call} ended before the store showed the moment`);
          stepper.step();
        }
        for (let n = Math.floor(jitter(rand, [point.slices[0], point.slices[1] + 1])); n > 0; n--) {
          stepper.step();
        }
      } catch (err) {
        stepper.release();
        throw err;
      }
    }
    await rt.kill9();
  } finally {
    watch.abort();
    await reader.close();
  }
  return answered;
}

/** Restarts the daemon and checks that start-up GC ran and said what it did. */
async function restart(rt: BerthRuntime): Promise<void> {
  const logStart = (await readFile(rt.logPath)).length;
  await rt.restart();
  const gc = logLines(rt, logStart).filter((l) => l.msg === "garbage collected");
  assert.equal(gc.length, 1, "one collection at start-up");
  assert.equal(gc[0]?.startup, true);
  for (const k of ["leasesExpired", "contentRecords", "blobs", "ingests", "snapshots", "bytesFreed"]) {
    assert.equal(typeof gc[0]?.[k], "number", `start-up GC reports ${k}`);
  }
}

type LogLine = Record<string, unknown> & { msg: string };

/** The daemon's JSON log lines from byte `from` of its log on. */
function logLines(rt: BerthRuntime, from: number): LogLine[] {
  return readFileSync(rt.logPath)
    .subarray(from)
    .toString("utf8")
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as LogLine);
}

/** Polls the daemon's log (written synchronously, line by line) from `offset` until a line matches. */
async function waitForLog(path: string, offset: number, pattern: RegExp): Promise<void> {
  const file = await open(path, "r");
  try {
    let pos = offset;
    let partial = "";
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
      const buf = Buffer.alloc(64 * 1024);
      const { bytesRead } = await file.read(buf, 0, buf.length, pos);
      pos += bytesRead;
      const lines = (partial + buf.subarray(0, bytesRead).toString()).split("\n");
      partial = lines.pop() ?? "";
      if (lines.some((l) => pattern.test(l))) return;
      if (bytesRead === 0) await sleep(1);
    }
    throw new Error(`no daemon log line matched ${pattern}`);
  } finally {
    await file.close();
  }
}

/**
 * After a restart: nothing mounted; the image whole in the store and answered by CRI, or
 * absent from both; and start-up GC kept only what the image or a lease needs.
 */
async function assertConsistent(rt: BerthRuntime, images: ImageServiceClient): Promise<string> {
  const mounts = (await readFile("/proc/mounts", "utf8")).split("\n").filter((l) => l.includes(rt.dir));
  assert.deepEqual(mounts, [], "no mount under the daemon's dirs");
  const s = await readRootState(rt.root);
  const listed = (await images.listImages({})).images;
  const present = s.images.size > 0;
  if (present) {
    for (const [name, target] of s.images) assert.equal(target, image.manifestDigest, name);
    assertWhole(s);
    assert.deepEqual(
      listed.map((i) => i.id),
      [image.configDigest],
    );
    const status = await images.imageStatus({ image: { image: image.configDigest }, verbose: true });
    assert.equal(status.image?.id, image.configDigest);
    assert.equal(JSON.parse(status.info.info ?? "{}").chainID, chain.at(-1));
  } else {
    assert.deepEqual(listed, []);
    assert.equal((await images.imageStatus({ image: { image: ref } })).image, undefined);
  }
  assertNoOrphans(s, present);
  return `${present ? "image whole" : "image absent"}; ${summarize(s)}`;
}

/** The image's blobs, labels and snapshot chain, as GC needs them to keep it whole. */
function assertWhole(s: RootState): void {
  const labels = (digest: string) => {
    const l = s.content.get(`${ns}/${digest}`);
    assert.ok(l, `content record of ${digest}`);
    assert.ok(s.blobFiles.includes(digest.slice(7)), `blob file of ${digest}`);
    return l;
  };
  const manifest = labels(image.manifestDigest);
  assert.equal(manifest[`${LabelGCRefContent}.config`], image.configDigest);
  for (const [i, d] of image.layerDigests.entries()) {
    assert.equal(manifest[`${LabelGCRefContent}.l.${i}`], d);
    assert.equal(labels(d)[LabelUncompressed], image.diffIds[i]);
  }
  assert.equal(labels(image.configDigest)[`${LabelGCRefSnapshot}overlayfs`], chain.at(-1));
  for (const [i, key] of chain.entries()) {
    const r = s.snapshots.get(`${ns}/${key}`);
    assert.equal(r?.kind, "Committed", `snapshot ${key}`);
    assert.equal(r?.parent, chain[i - 1]);
    assert.ok(s.snapshotDirs.includes(r.id), `directory of snapshot ${key}`);
  }
}

/** Every file has its record and every record its file; each record is the image's or leased. */
function assertNoOrphans(s: RootState, imagePresent: boolean): void {
  const sorted = (xs: Iterable<string>) => [...new Set(xs)].sort();
  assert.deepEqual(
    sorted(s.blobFiles),
    sorted([...s.content.keys()].map((k) => k.slice(k.lastIndexOf(":") + 1))),
    "blob files and content records",
  );
  assert.deepEqual(
    sorted(s.snapshotDirs),
    sorted([...s.snapshots.values()].map((r) => r.id)),
    "snapshot directories and records",
  );
  const ingestDirs = new Set([...s.ingests.values()].map((i) => i.dir));
  for (const d of s.ingestDirs) assert.ok(ingestDirs.has(d), `ingest directory ${d} has a record`);

  for (const [id, labels] of s.leases) {
    assert.equal(labels[LabelPullRef], ref, `lease ${id} is a killed pull's`);
  }
  const leased = (type: string) =>
    new Set(s.leaseResources.filter((r) => r.type === type).map((r) => `${r.ns}/${r.id}`));
  const content = leased("content");
  const snapshots = leased("snapshots/overlayfs");
  const ingests = leased("ingests");
  if (imagePresent) {
    for (const d of [image.manifestDigest, image.configDigest, ...image.layerDigests])
      content.add(`${ns}/${d}`);
    for (const c of chain) snapshots.add(`${ns}/${c}`);
  }
  for (const key of snapshots) {
    for (let p = s.snapshots.get(key)?.parent; p !== undefined; p = s.snapshots.get(`${ns}/${p}`)?.parent) {
      snapshots.add(`${ns}/${p}`);
    }
  }
  for (const k of s.content.keys()) assert.ok(content.has(k), `content ${k} is needed`);
  for (const k of s.snapshots.keys()) assert.ok(snapshots.has(k), `snapshot ${k} is needed`);
  for (const k of s.ingests.keys()) assert.ok(ingests.has(k), `ingest ${k} is leased`);
}

/** Each ingest the kill left with data was picked up where it stopped, not downloaded again. */
function assertResumed(t: TestContext, killed: RootState, lines: LogLine[]): void {
  const resumed = new Map(
    lines.filter((l) => l.msg === "ingest resumed").map((l) => [`${l.ns}/${l.ref}`, l.offset]),
  );
  for (const [key, { bytes }] of killed.ingests) {
    if (!bytes) continue;
    assert.equal(resumed.get(key), bytes, `ingest ${key} resumed at the ${bytes} bytes it had`);
    t.diagnostic(`resumed ${key} at ${bytes} bytes`);
  }
}

/** Nothing of the image is left: no file, no record, no lease. */
async function assertEmpty(rt: BerthRuntime): Promise<void> {
  const s = await readRootState(rt.root);
  assert.deepEqual(
    {
      images: [...s.images.keys()],
      content: [...s.content.keys()],
      ingests: [...s.ingests.keys()],
      snapshots: [...s.snapshots.keys()],
      leases: [...s.leases.keys()],
      leaseResources: s.leaseResources,
      blobFiles: s.blobFiles,
      ingestDirs: s.ingestDirs,
      snapshotDirs: s.snapshotDirs,
    },
    {
      images: [],
      content: [],
      ingests: [],
      snapshots: [],
      leases: [],
      leaseResources: [],
      blobFiles: [],
      ingestDirs: [],
      snapshotDirs: [],
    },
  );
}
