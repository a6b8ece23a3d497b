// A process that writes into a content store until it is killed, for the crash tests
// (test/content-crash.test.ts). It follows the writers' rule: lease first, then write.
//
//   node content-writer-child.js ingest <root> <size>   one ingest, slowly, never committed
//   node content-writer-child.js pull <root> <count>    <count> blobs written and committed
//
// Each step done is a line on stdout: "offset <n>" or "committed <i>".

import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { isAlreadyExists } from "../../src/lib/errdefs.js";
import { newLogger } from "../../src/lib/log.js";
import { fromBytes } from "../../src/lib/reference/digest.js";
import { LocalContentStore } from "../../src/runtime/content/local-store.js";
import { MetadataDb } from "../../src/runtime/core/metadata/db.js";
import { MetadataLeaseManager } from "../../src/runtime/leases/lease-manager.js";

export const ns = "k8s.io";
export const leaseId = "pull";
export const ingestRef = "layer";
export const blobSize = 256 * 1024;

/** Deterministic bytes that differ per seed. */
export function payload(size: number, seed = 0): Buffer {
  const data = Buffer.alloc(size);
  for (let i = 0; i < size; i++) data[i] = (i * 31 + (i >> 9) + seed * 7) & 0xff;
  return data;
}

export async function openStores(root: string) {
  const db = await MetadataDb.open(join(root, "meta", "meta.lmdb"));
  const content = await LocalContentStore.open(join(root, "content"), db, newLogger("error"));
  return { db, content, leases: new MetadataLeaseManager(db) };
}

async function main(mode: string, root: string, n: number): Promise<void> {
  const { content, leases } = await openStores(root);
  if (!(await leases.list(ns)).some((l) => l.id === leaseId)) await leases.create(ns, { id: leaseId });
  if (mode === "ingest") {
    const data = payload(n);
    await leases.addResource(ns, leaseId, { type: "ingests", id: ingestRef });
    await leases.addResource(ns, leaseId, { type: "content", id: fromBytes(data) });
    const w = await content.writer(ns, { ref: ingestRef, expected: { digest: fromBytes(data), size: n } });
    for (let at = w.offset; at < n; at += 64 * 1024) {
      await w.write(data.subarray(at, at + 64 * 1024));
      process.stdout.write(`offset ${w.offset}\n`);
      await sleep(1);
    }
    // Killed long before this.
    await sleep(60_000);
    return;
  }
  for (let i = 0; i < n; i++) {
    const data = payload(blobSize, i);
    const digest = fromBytes(data);
    await leases.addResource(ns, leaseId, { type: "content", id: digest });
    try {
      const w = await content.writer(ns, { ref: `blob-${i}`, expected: { digest, size: blobSize } });
      for (let at = w.offset; at < blobSize; at += 32 * 1024)
        await w.write(data.subarray(at, at + 32 * 1024));
      await w.commit(blobSize, digest);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
    process.stdout.write(`committed ${i}\n`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [mode = "", root = "", n = "0"] = process.argv.slice(2);
  await main(mode, root, Number(n));
  process.exit(0);
}
