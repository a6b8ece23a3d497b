// Ported from containerd snapshots/overlay/overlay.go, with the records of
// snapshots/storage/bolt.go kept in the metadata database's "snapshots" bucket.
//
// Layout: <root>/snapshots/<id>/fs is a snapshot's upper directory (its own changes),
// <root>/snapshots/<id>/work overlayfs's work directory (active snapshots only). Ids come
// from a durable counter and are never reused.
//
// Crash safety: a snapshot directory is built under a temporary name and renamed to its id
// inside the write transaction that records it, so a kill at any moment leaves either the
// record with its directory or a directory without record; cleanup() (run at open) removes
// the latter. Removal deletes the record first and the directory after, for the same reason.
import {
  closeSync,
  existsSync,
  fsyncSync,
  lchownSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Database, Key } from "lmdb";
import { diskUsageSync } from "../../../lib/disk-usage.js";
import {
  alreadyExists,
  failedPrecondition,
  invalidArgument,
  messageOf,
  notFound,
  wrap,
} from "../../../lib/errdefs.js";
import type { Logger } from "../../../lib/log.js";
import type { MetadataDb } from "../../core/metadata/db.js";
import type {
  Mount,
  SnapshotInfo,
  SnapshotKind,
  Snapshotter,
  Usage,
} from "../../core/snapshots/snapshots.js";

/** What the "snapshots" bucket holds at [namespace, key or name]. */
export interface SnapshotRecord {
  /** The directory under <root>/snapshots. */
  id: string;
  kind: SnapshotKind;
  parent?: string;
  labels: Record<string, string>;
  createdAt: Date;
  updatedAt: Date;
  /** Committed snapshots only: measured at commit, as containerd does. */
  usage?: Usage;
}

interface SnapshotOpts {
  labels?: Record<string, string>;
}

export class OverlaySnapshotter implements Snapshotter {
  private readonly records: Database<SnapshotRecord, Key[]>;
  /** Holds ["lastId"], the last id handed out. */
  private readonly counter: Database<number, Key[]>;

  private constructor(
    readonly root: string,
    private readonly db: MetadataDb,
    private readonly log: Logger,
    /** containerd mounts with index=off wherever the kernel knows the option. */
    private readonly indexOff: boolean,
  ) {
    this.records = db.bucket<SnapshotRecord>("snapshots");
    this.counter = db.bucket<number>("snapshots.overlay");
  }

  /** Opens the snapshotter at `root` and removes what a crash left behind. */
  static async open(root: string, db: MetadataDb, log: Logger): Promise<OverlaySnapshotter> {
    try {
      await mkdir(join(root, "snapshots"), { recursive: true, mode: 0o700 });
    } catch (err) {
      throw wrap(err, `failed to create overlay snapshotter root "${root}"`);
    }
    const s = new OverlaySnapshotter(root, db, log, existsSync("/sys/module/overlay/parameters/index"));
    await s.cleanup();
    return s;
  }

  async stat(ns: string, key: string): Promise<SnapshotInfo> {
    return toInfo(key, this.get(ns, key));
  }

  async update(
    ns: string,
    info: Pick<SnapshotInfo, "name" | "labels">,
    fieldpaths?: string[],
  ): Promise<SnapshotInfo> {
    return this.db.transaction(() => {
      const rec = this.get(ns, info.name);
      let labels = fieldpaths?.length ? { ...rec.labels } : { ...info.labels };
      for (const path of fieldpaths ?? []) {
        if (path === "labels") {
          labels = { ...info.labels };
        } else if (path.startsWith("labels.")) {
          const k = path.slice("labels.".length);
          const v = info.labels[k];
          if (v === undefined) delete labels[k];
          else labels[k] = v;
        } else {
          throw invalidArgument(`cannot update "${path}" field on snapshot "${info.name}"`);
        }
      }
      const updated = { ...rec, labels, updatedAt: new Date() };
      this.records.putSync([ns, info.name], updated);
      return toInfo(info.name, updated);
    });
  }

  /** Active snapshots are measured now; others report what was measured at commit. */
  async usage(ns: string, key: string): Promise<Usage> {
    const rec = this.get(ns, key);
    if (rec.kind !== "Active") return rec.usage ?? { size: 0, inodes: 0 };
    try {
      return this.measure(rec.id);
    } catch (err) {
      throw wrap(err, `failed to measure snapshot "${key}"`);
    }
  }

  private measure(id: string): Usage {
    const path = this.upperPath(id);
    const usage = diskUsageSync(path);
    if (!usage) throw notFound(`${path} does not exist`);
    return { size: usage.bytes, inodes: usage.inodes };
  }

  async mounts(ns: string, key: string): Promise<Mount[]> {
    const rec = this.get(ns, key);
    if (rec.kind === "Committed") {
      throw failedPrecondition(`snapshot "${key}" is committed, not active or view`);
    }
    return this.mountsOf(rec, this.parentIds(ns, rec));
  }

  async prepare(ns: string, key: string, parent?: string, opts?: SnapshotOpts): Promise<Mount[]> {
    return this.createSnapshot(ns, "Active", key, parent, opts);
  }

  async view(ns: string, key: string, parent?: string, opts?: SnapshotOpts): Promise<Mount[]> {
    return this.createSnapshot(ns, "View", key, parent, opts);
  }

  async commit(ns: string, name: string, key: string, opts?: SnapshotOpts): Promise<void> {
    const active = this.get(ns, key);
    if (active.kind !== "Active") throw failedPrecondition(`snapshot "${key}" is not active`);
    let usage: Usage;
    try {
      usage = this.measure(active.id);
    } catch (err) {
      throw wrap(err, `failed to commit snapshot "${key}" as "${name}": measure`);
    }
    await this.db.transaction(() => {
      const rec = this.get(ns, key);
      if (rec.id !== active.id || rec.kind !== "Active") {
        throw failedPrecondition(`failed to commit snapshot "${key}": it changed during the commit`);
      }
      if (this.records.get([ns, name])) {
        throw alreadyExists(`failed to commit snapshot "${key}": snapshot "${name}" already exists`);
      }
      const now = new Date();
      this.records.removeSync([ns, key]);
      this.records.putSync([ns, name], {
        id: rec.id,
        kind: "Committed",
        ...(rec.parent !== undefined && { parent: rec.parent }),
        labels: { ...opts?.labels },
        createdAt: now,
        updatedAt: now,
        usage,
      });
    });
  }

  async remove(ns: string, key: string): Promise<void> {
    const id = await this.db.transaction(() => {
      const rec = this.get(ns, key);
      const child = this.db.listNamespace(this.records, ns).find((r) => r.value.parent === key);
      if (child) {
        throw failedPrecondition(
          `cannot remove snapshot "${key}": snapshot "${String(child.key[1])}" is its child`,
        );
      }
      this.records.removeSync([ns, key]);
      return rec.id;
    });
    // The record is gone, so a failure here only leaves an orphan for cleanup().
    await rm(this.snapshotDir(id), { recursive: true, force: true }).catch((err) =>
      this.log.warn({ err: messageOf(err), id }, "failed to remove snapshot directory"),
    );
  }

  async list(ns: string): Promise<SnapshotInfo[]> {
    return this.db.listNamespace(this.records, ns).map((r) => toInfo(String(r.key[1]), r.value));
  }

  /**
   * Removes what a crash or a failed removal left: records whose directory is missing
   * (with their descendants, whose lower layers are gone), then directories no record
   * names. Safe while the snapshotter runs: directories are only made inside the write
   * transaction that records them.
   */
  async cleanup(): Promise<void> {
    const base = join(this.root, "snapshots");
    const orphans = await this.db.transaction(() => {
      const dirs = new Set(readdirSync(base));
      const all = [...this.records.getRange()].map((r) => ({ key: r.key as Key[], value: r.value }));
      const gone = new Set<string>();
      const queue = all.filter((r) => !dirs.has(r.value.id));
      for (let r = queue.shift(); r; r = queue.shift()) {
        const [ns, name] = r.key;
        if (gone.has(JSON.stringify(r.key))) continue;
        gone.add(JSON.stringify(r.key));
        this.log.warn(
          { ns, key: name, id: r.value.id },
          "removing snapshot record whose directory is missing",
        );
        this.records.removeSync(r.key);
        queue.push(...all.filter((c) => c.key[0] === ns && c.value.parent === name));
      }
      const ids = new Set(all.filter((r) => !gone.has(JSON.stringify(r.key))).map((r) => r.value.id));
      return [...dirs].filter((d) => !ids.has(d));
    });
    for (const d of orphans) {
      this.log.info({ dir: d }, "removing orphaned snapshot directory");
      await rm(join(base, d), { recursive: true, force: true }).catch((err) =>
        this.log.warn({ err: messageOf(err), dir: d }, "failed to remove orphaned snapshot directory"),
      );
    }
  }

  private async createSnapshot(
    ns: string,
    kind: SnapshotKind,
    key: string,
    parent: string | undefined,
    opts: SnapshotOpts | undefined,
  ): Promise<Mount[]> {
    const base = join(this.root, "snapshots");
    let id = "";
    let rec: SnapshotRecord;
    try {
      rec = await this.db.transaction(() => {
        if (this.records.get([ns, key])) throw alreadyExists(`snapshot "${key}" already exists`);
        let parentRec: SnapshotRecord | undefined;
        if (parent !== undefined) {
          parentRec = this.records.get([ns, parent]);
          if (!parentRec) throw notFound(`parent snapshot "${parent}" does not exist`);
          if (parentRec.kind !== "Committed") {
            throw invalidArgument(`parent "${parent}" is not a committed snapshot`);
          }
        }
        const next = (this.counter.get(["lastId"]) ?? 0) + 1;
        const td = mkdtempSync(join(base, "new-"));
        try {
          mkdirSync(join(td, "fs"), 0o755);
          if (kind === "Active") mkdirSync(join(td, "work"), 0o711);
          if (parentRec) {
            // The new upper directory takes its owner from the parent's, as in containerd.
            const st = statSync(this.upperPath(parentRec.id));
            lchownSync(join(td, "fs"), st.uid, st.gid);
          }
          fsyncDir(td);
          id = String(next);
          renameSync(td, this.snapshotDir(id));
        } catch (err) {
          rmSync(td, { recursive: true, force: true });
          throw err;
        }
        // The directory's name must be on disk before the record that points at it.
        fsyncDir(base);
        const now = new Date();
        const created: SnapshotRecord = {
          id,
          kind,
          ...(parent !== undefined && { parent }),
          labels: { ...opts?.labels },
          createdAt: now,
          updatedAt: now,
        };
        this.counter.putSync(["lastId"], next);
        this.records.putSync([ns, key], created);
        return created;
      });
    } catch (err) {
      // The transaction did not commit: its directory must not outlive it.
      if (id !== "" && this.records.get([ns, key])?.id !== id) {
        rmSync(this.snapshotDir(id), { recursive: true, force: true });
      }
      const what = kind === "Active" ? "prepare" : "view";
      throw wrap(err, `failed to ${what} snapshot "${key}"${parent !== undefined ? ` on "${parent}"` : ""}`);
    }
    return this.mountsOf(rec, this.parentIds(ns, rec));
  }

  /** The mounts containerd's overlay snapshotter returns (its mounts()). */
  private mountsOf(rec: SnapshotRecord, parentIds: string[]): Mount[] {
    if (parentIds.length === 0) {
      // overlayfs needs a lower layer: a lone snapshot is its own directory, bound.
      return [
        {
          type: "bind",
          source: this.upperPath(rec.id),
          options: [rec.kind === "View" ? "ro" : "rw", "rbind"],
        },
      ];
    }
    if (rec.kind === "View" && parentIds.length === 1) {
      return [{ type: "bind", source: this.upperPath(parentIds[0] as string), options: ["ro", "rbind"] }];
    }
    const options: string[] = [];
    if (this.indexOff) options.push("index=off");
    if (rec.kind === "Active") {
      options.push(`workdir=${this.workPath(rec.id)}`, `upperdir=${this.upperPath(rec.id)}`);
    }
    options.push(`lowerdir=${parentIds.map((p) => this.upperPath(p)).join(":")}`);
    return [{ type: "overlay", source: "overlay", options }];
  }

  /** Ids of the parent chain, nearest first. */
  private parentIds(ns: string, rec: SnapshotRecord): string[] {
    const ids: string[] = [];
    for (let p = rec.parent; p !== undefined; ) {
      const parent = this.get(ns, p);
      ids.push(parent.id);
      p = parent.parent;
    }
    return ids;
  }

  private get(ns: string, key: string): SnapshotRecord {
    const rec = this.records.get([ns, key]);
    if (!rec) throw notFound(`snapshot "${key}" does not exist`);
    return rec;
  }

  private snapshotDir(id: string): string {
    return join(this.root, "snapshots", id);
  }

  private upperPath(id: string): string {
    return join(this.snapshotDir(id), "fs");
  }

  private workPath(id: string): string {
    return join(this.snapshotDir(id), "work");
  }
}

function toInfo(name: string, rec: SnapshotRecord): SnapshotInfo {
  return {
    kind: rec.kind,
    name,
    ...(rec.parent !== undefined && { parent: rec.parent }),
    labels: { ...rec.labels },
    createdAt: rec.createdAt,
    updatedAt: rec.updatedAt,
  };
}

function fsyncDir(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
