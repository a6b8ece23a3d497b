// What a `berth runtime` root holds, read from outside the daemon: its metadata records
// (the LMDB opened read-only, which LMDB allows beside the daemon's own handle) and the
// files of the content store and the overlay snapshotter.
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Database, Key } from "lmdb";
import { open } from "lmdb";
import { type ContentRecord, type IngestRecord, ingestName } from "../../src/runtime/content/local-store.js";
import type { ImageRecord } from "../../src/runtime/images/image-store.js";
import type { LeaseRecord } from "../../src/runtime/leases/lease-manager.js";
import type { SnapshotRecord } from "../../src/runtime/snapshots/overlay/overlay.js";

export interface RootState {
  /** Image records: "ns/name" → target digest. */
  images: Map<string, string>;
  /** Content records: "ns/digest" → labels. */
  content: Map<string, Record<string, string>>;
  /** Ingest records ("ns/ref"): expected size, directory, and the bytes of its data file if any. */
  ingests: Map<string, { total: number; dir: string; bytes?: number }>;
  /** Snapshot records: "ns/key" → record. */
  snapshots: Map<string, SnapshotRecord>;
  /** Leases: "ns/id" → labels. */
  leases: Map<string, Record<string, string>>;
  leaseResources: { ns: string; lease: string; type: string; id: string }[];
  /** Hex names under content.local/blobs/sha256. */
  blobFiles: string[];
  /** Directories under content.local/ingest. */
  ingestDirs: string[];
  /** Directories under snapshotter.overlayfs/snapshots. */
  snapshotDirs: string[];
}

const contentDir = (root: string) => join(root, "content.local");
const snapshotsDir = (root: string) => join(root, "snapshotter.overlayfs", "snapshots");

export interface RootReader {
  /** The state now: every read sees the daemon's latest commit. */
  read(): Promise<RootState>;
  close(): Promise<void>;
}

export function openRootReader(root: string): RootReader {
  const env = open({
    path: join(root, "metadata.lmdb", "meta.lmdb"),
    readOnly: true,
    compression: false,
  });
  const dbs = new Map<string, Database<unknown, Key[]>>();
  const range = <V>(name: string) => {
    const db = dbs.get(name) ?? env.openDB<unknown, Key[]>({ name, compression: false });
    dbs.set(name, db);
    return [...db.getRange()].map(({ key, value }) => ({
      key: (key as Key[]).map(String),
      value: value as V,
    }));
  };
  const ingestRoot = join(contentDir(root), "ingest");
  return {
    read: async () => {
      env.resetReadTxn();
      const ingests: RootState["ingests"] = new Map();
      for (const { key, value } of range<IngestRecord>("ingests")) {
        const dir = ingestName(key[0] as string, key[1] as string);
        const data = await stat(join(ingestRoot, dir, "data")).catch(() => undefined);
        ingests.set(key.join("/"), { total: value.total, dir, bytes: data?.size });
      }
      return {
        images: new Map(
          range<ImageRecord>("images").map(({ key, value }) => [key.join("/"), value.target.digest]),
        ),
        content: new Map(
          range<ContentRecord>("content").map(({ key, value }) => [key.join("/"), value.labels]),
        ),
        ingests,
        snapshots: new Map(
          range<SnapshotRecord>("snapshots").map(({ key, value }) => [key.join("/"), value]),
        ),
        leases: new Map(range<LeaseRecord>("leases").map(({ key, value }) => [key.join("/"), value.labels])),
        leaseResources: range<true>("leaseResources").map(({ key: [ns, lease, type, id] }) => ({
          ns: ns as string,
          lease: lease as string,
          type: type as string,
          id: id as string,
        })),
        blobFiles: await readdir(join(contentDir(root), "blobs", "sha256")),
        ingestDirs: await readdir(ingestRoot),
        snapshotDirs: await readdir(snapshotsDir(root)),
      };
    },
    close: () => env.close(),
  };
}

export async function readRootState(root: string): Promise<RootState> {
  const reader = openRootReader(root);
  try {
    return await reader.read();
  } finally {
    await reader.close();
  }
}

/** One line for a test's diagnostics: how far the work got. */
export function summarize(s: RootState): string {
  const active = [...s.snapshots.values()].filter((r) => r.kind === "Active").length;
  const partial = [...s.ingests.values()].map((i) => i.bytes ?? 0).filter((n) => n > 0);
  return [
    `images=${s.images.size}`,
    `leases=${s.leases.size}`,
    `content=${s.content.size}`,
    `withGcRefs=${[...s.content.values()].filter((l) => Object.keys(l).some((k) => k.startsWith("containerd.io/gc.ref."))).length}`,
    `ingests=${s.ingests.size}(${partial.map((n) => `${(n / 2 ** 20).toFixed(1)}MiB`).join(",")})`,
    `snapshots=${s.snapshots.size - active}+${active}active`,
    `blobFiles=${s.blobFiles.length}`,
    `snapshotDirs=${s.snapshotDirs.length}`,
  ].join(" ");
}
