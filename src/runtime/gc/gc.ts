// Mark-and-sweep garbage collection over every namespace (after containerd's metadata/gc.go
// and DB.GarbageCollect in metadata/db.go).
//
// Roots: every image's target, everything an unexpired lease holds, content and snapshots
// labelled containerd.io/gc.root, and what roots providers (containers, sandboxes) name.
// Edges: containerd.io/gc.ref.content[.<name>] and containerd.io/gc.ref.snapshot.<snapshotter>
// labels, and a snapshot's parent.
//
// One collection holds the GC lock exclusively throughout and:
//   1. lists every snapshot, before marking: a snapshot made after this was leased before it
//      was made (the rule for writers: lease first, then create), so the mark sees its lease;
//   2. in one LMDB write transaction deletes expired leases, marks, and deletes unreached
//      content records and abandoned ingest records;
//   3. has the content store remove blob files and ingest directories left without records;
//   4. removes unreached snapshots, children first, through the Snapshotter interface.
import type { Database, Key } from "lmdb";
import { kindOf, wrap } from "../../lib/errdefs.js";
import type { Logger } from "../../lib/log.js";
import type { ContainerRecord } from "../containers/container-store.js";
import type { ContentRecord, IngestRecord } from "../content/local-store.js";
import { LabelGCRefContent, LabelGCRefSnapshot, LabelGCRoot } from "../core/labels.js";
import type { MetadataDb } from "../core/metadata/db.js";
import type { SnapshotInfo, Snapshotter } from "../core/snapshots/snapshots.js";
import type { ImageRecord } from "../images/image-store.js";
import { deleteLease, type LeaseRecord, leaseExpiry } from "../leases/lease-manager.js";
import { type GcLock, gcLock } from "./gc-lock.js";
import { tricolor } from "./tricolor.js";

export type GcResource =
  | { type: "content"; ns: string; digest: string }
  | { type: "snapshot"; ns: string; snapshotter: string; key: string };

/**
 * Roots kept by other stores, e.g. each container's snapshot. Called inside the mark
 * transaction: read the metadata database synchronously, and the answer is consistent with
 * the records GC sees.
 */
export type RootsProvider = () => Iterable<GcResource>;

/** What GC needs of the content store (LocalContentStore). */
export interface CollectableContent {
  isWriting(ns: string, ref: string): boolean;
  garbageCollect(): Promise<{ blobs: number; ingests: number; bytes: number }>;
}

export interface GcStats {
  leasesExpired: number;
  /** Namespace records of content no root reaches. */
  contentRecords: number;
  /** Blob files no namespace had a record of. */
  blobs: number;
  ingests: number;
  snapshots: number;
  /** Bytes of blob and ingest files removed. */
  bytesFreed: number;
  durationMs: number;
}

export interface GarbageCollectorOptions {
  db: MetadataDb;
  content: CollectableContent;
  /** By name, as in lease resource types and gc.ref.snapshot labels ("overlayfs"). */
  snapshotters?: Record<string, Snapshotter>;
  roots?: RootsProvider[];
  /** How long an ingest with no writer and no lease waits for its puller to resume it. */
  ingestGraceMs?: number;
  log: Logger;
}

const DefaultIngestGraceMs = 60 * 60 * 1000;

interface ListedSnapshot {
  ns: string;
  snapshotter: string;
  info: SnapshotInfo;
}

export class GarbageCollector {
  private readonly lock: GcLock;
  private readonly roots: RootsProvider[];

  constructor(private readonly opts: GarbageCollectorOptions) {
    this.lock = gcLock(opts.db);
    this.roots = [...(opts.roots ?? [])];
  }

  /** Adds roots from a store wired after the collector (containers, sandboxes). */
  addRoots(provider: RootsProvider): void {
    this.roots.push(provider);
  }

  /**
   * Runs one collection. `startup`: no writer of an earlier run can still own an ingest, so
   * every ingest no lease holds is removed, however recent.
   */
  async collect(opts: { startup?: boolean } = {}): Promise<GcStats> {
    return this.lock.exclusive(async () => {
      const started = performance.now();
      const snapshots = await this.listSnapshots();
      const swept = await this.opts.db.transaction(() => this.sweepRecords(snapshots, opts.startup ?? false));
      const files = await this.opts.content.garbageCollect();
      const removedSnapshots = await this.removeSnapshots(snapshots, swept.marked);
      const stats: GcStats = {
        leasesExpired: swept.leasesExpired,
        contentRecords: swept.contentRecords,
        blobs: files.blobs,
        ingests: files.ingests,
        snapshots: removedSnapshots,
        bytesFreed: files.bytes,
        durationMs: Math.round(performance.now() - started),
      };
      this.opts.log.info({ ...stats, startup: opts.startup ?? false }, "garbage collected");
      return stats;
    });
  }

  private async listSnapshots(): Promise<Map<string, ListedSnapshot>> {
    const listed = new Map<string, ListedSnapshot>();
    const namespaces = this.opts.db.namespaces();
    for (const [snapshotter, sn] of Object.entries(this.opts.snapshotters ?? {})) {
      for (const ns of namespaces) {
        let infos: SnapshotInfo[];
        try {
          infos = await sn.list(ns);
        } catch (err) {
          throw wrap(err, `failed to list ${snapshotter} snapshots in namespace "${ns}" for GC`);
        }
        for (const info of infos)
          listed.set(snapshotNode(ns, snapshotter, info.name), { ns, snapshotter, info });
      }
    }
    return listed;
  }

  /** Runs inside one write transaction: expired leases, mark, then unreached records. */
  private sweepRecords(snapshots: Map<string, ListedSnapshot>, startup: boolean) {
    const { db } = this.opts;
    const now = Date.now();
    const leases = db.bucket<LeaseRecord>("leases");
    const content = db.bucket<ContentRecord>("content");
    const ingests = db.bucket<IngestRecord>("ingests");

    let leasesExpired = 0;
    // Each range is read whole before its bucket is changed.
    for (const { key, value } of [...leases.getRange()]) {
      const expiry = leaseExpiry(value);
      if (expiry && expiry.getTime() <= now) {
        deleteLease(db, String(key[0]), String(key[1]));
        leasesExpired++;
      }
    }

    const roots: string[] = [];
    const leasedIngests = new Set<string>();
    for (const key of db.bucket<true>("leaseResources").getKeys()) {
      const [ns, , type, id] = (key as Key[]).map(String) as [string, string, string, string];
      if (type === "content") roots.push(contentNode(ns, id));
      else if (type === "ingests") leasedIngests.add(JSON.stringify([ns, id]));
      else if (type.startsWith("snapshots/"))
        roots.push(snapshotNode(ns, type.slice("snapshots/".length), id));
    }
    for (const { key, value } of db.bucket<ImageRecord>("images").getRange()) {
      const ns = String(key[0]);
      roots.push(contentNode(ns, value.target.digest), ...snapshotRefs(ns, value.labels));
    }
    // A container keeps its rootfs snapshot (containerd's gc marks containers the same way).
    for (const { key, value } of db.bucket<ContainerRecord>("containers").getRange()) {
      if (value.snapshotter && value.snapshotKey) {
        roots.push(snapshotNode(String(key[0]), value.snapshotter, value.snapshotKey));
      }
    }
    for (const { key, value } of content.getRange()) {
      if (value.labels[LabelGCRoot] !== undefined) roots.push(contentNode(String(key[0]), String(key[1])));
    }
    for (const [node, { info }] of snapshots) {
      if (info.labels[LabelGCRoot] !== undefined) roots.push(node);
    }
    for (const provider of this.roots) {
      for (const r of provider()) {
        roots.push(
          r.type === "content" ? contentNode(r.ns, r.digest) : snapshotNode(r.ns, r.snapshotter, r.key),
        );
      }
    }

    const marked = tricolor(roots, (node) => references(node, content, snapshots));

    let contentRecords = 0;
    for (const key of [...content.getKeys()]) {
      const [ns, digest] = (key as Key[]).map(String) as [string, string];
      if (marked.has(contentNode(ns, digest))) continue;
      content.remove([ns, digest]);
      contentRecords++;
    }
    const staleBefore = now - (this.opts.ingestGraceMs ?? DefaultIngestGraceMs);
    for (const { key, value } of [...ingests.getRange()]) {
      const [ns, ref] = key.map(String) as [string, string];
      if (leasedIngests.has(JSON.stringify([ns, ref])) || this.opts.content.isWriting(ns, ref)) continue;
      if (startup || value.updatedAt.getTime() <= staleBefore) ingests.remove([ns, ref]);
    }
    return { marked, leasesExpired, contentRecords };
  }

  /** Unreached snapshots, leaves first, so that each is childless when its turn comes. */
  private async removeSnapshots(
    snapshots: Map<string, ListedSnapshot>,
    marked: Set<string>,
  ): Promise<number> {
    const depth = (s: ListedSnapshot): number => {
      const parent = s.info.parent && snapshots.get(snapshotNode(s.ns, s.snapshotter, s.info.parent));
      return parent ? depth(parent) + 1 : 0;
    };
    const garbage = [...snapshots]
      .filter(([node]) => !marked.has(node))
      .map(([, s]) => ({ s, depth: depth(s) }))
      .sort((a, b) => b.depth - a.depth);
    let removed = 0;
    for (const { s } of garbage) {
      const sn = this.opts.snapshotters?.[s.snapshotter];
      try {
        await sn?.remove(s.ns, s.info.name);
        removed++;
        this.opts.log.debug({ ns: s.ns, snapshotter: s.snapshotter, key: s.info.name }, "removed snapshot");
      } catch (err) {
        // A child made since the listing keeps its parent; the next collection looks again.
        const level = kindOf(err) === "FailedPrecondition" || kindOf(err) === "NotFound" ? "debug" : "warn";
        this.opts.log[level](
          { ns: s.ns, snapshotter: s.snapshotter, key: s.info.name, err },
          "snapshot not removed by GC",
        );
      }
    }
    return removed;
  }
}

function contentNode(ns: string, digest: string): string {
  return JSON.stringify(["content", ns, digest]);
}

function snapshotNode(ns: string, snapshotter: string, key: string): string {
  return JSON.stringify(["snapshot", ns, snapshotter, key]);
}

/** containerd's references(): what a content or snapshot node keeps alive. */
function* references(
  node: string,
  content: Database<ContentRecord, Key[]>,
  snapshots: Map<string, ListedSnapshot>,
): Iterable<string> {
  const [type, ns, ...rest] = JSON.parse(node) as string[];
  if (type === "content") {
    // A dead edge (a label naming content the namespace lacks) leads nowhere.
    const labels = content.get([ns as string, rest[0] as string])?.labels ?? {};
    yield* contentRefs(ns as string, labels);
    yield* snapshotRefs(ns as string, labels);
    return;
  }
  const listed = snapshots.get(node);
  if (!listed) return;
  if (listed.info.parent) yield snapshotNode(listed.ns, listed.snapshotter, listed.info.parent);
  yield* snapshotRefs(listed.ns, listed.info.labels);
}

/** containerd's sendContentRefs: gc.ref.content itself or gc.ref.content.<name>. */
function contentRefs(ns: string, labels: Record<string, string>): string[] {
  return Object.entries(labels)
    .filter(([k]) => k === LabelGCRefContent || k.startsWith(`${LabelGCRefContent}.`))
    .map(([, digest]) => contentNode(ns, digest));
}

/** containerd's sendSnapshotRefs: gc.ref.snapshot.<snapshotter> = key. */
function snapshotRefs(ns: string, labels: Record<string, string>): string[] {
  return Object.entries(labels)
    .filter(([k]) => k.startsWith(LabelGCRefSnapshot))
    .map(([k, key]) => snapshotNode(ns, k.slice(LabelGCRefSnapshot.length), key));
}
