// The runtime's metadata database: one LMDB environment (lmdb-js, the closest analogue of
// containerd's BoltDB) holding a sub-database ("bucket") per kind of object. Keys are
// arrays that start with the namespace, e.g. ["k8s.io", "docker.io/library/busybox:latest"],
// so one namespace is one ordered key range.
//
// Durability: transaction() resolves only after LMDB reports the commit flushed to disk,
// so a success that was reported survives a power cut.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { type Database, type Key, open, type RootDatabase } from "lmdb";
import { failedPrecondition } from "../../../lib/errdefs.js";

export const BucketNames = [
  "images",
  "content",
  "ingests",
  "snapshots",
  "leases",
  "leaseResources",
  "containers",
  "sandboxes",
] as const;
export type BucketName = (typeof BucketNames)[number];

/** Bumped whenever a stored shape changes; each bump comes with a migration. */
export const SchemaVersion = 1;

export interface Migration {
  /** The version this migration produces. */
  version: number;
  name: string;
  /** Runs inside the write transaction that also records the new version. */
  migrate(db: MetadataDb): void;
}

export class MetadataDb {
  private readonly buckets = new Map<string, Database>();

  private constructor(
    readonly path: string,
    private readonly root: RootDatabase,
  ) {}

  /**
   * Opens (creating if needed) the database at `path` and brings its schema up to
   * SchemaVersion with `migrations`. A database newer than this code is refused.
   */
  static async open(path: string, migrations: Migration[] = []): Promise<MetadataDb> {
    mkdirSync(dirname(path), { recursive: true });
    const root = open({ path, compression: false });
    const db = new MetadataDb(path, root);
    try {
      await db.migrate(migrations);
    } catch (err) {
      await root.close();
      throw err;
    }
    return db;
  }

  /** A bucket of values of type V keyed by [namespace, ...]. */
  bucket<V>(name: BucketName | `${string}.${string}`): Database<V, Key[]> {
    let b = this.buckets.get(name);
    if (!b) {
      b = this.root.openDB({ name, compression: false });
      this.buckets.set(name, b);
    }
    return b as Database<V, Key[]>;
  }

  /** Every [key, value] of one namespace in a bucket, in key order. */
  listNamespace<V>(bucket: Database<V, Key[]>, ns: string): { key: Key[]; value: V }[] {
    return [...bucket.getRange({ start: [ns], end: [ns, MaxKey] })].map(({ key, value }) => ({
      key: key as Key[],
      value,
    }));
  }

  /** Namespaces that hold anything in any bucket. */
  namespaces(): string[] {
    const found = new Set<string>();
    for (const name of BucketNames) {
      for (const key of this.bucket(name).getKeys()) found.add(String((key as Key[])[0]));
    }
    return [...found].sort();
  }

  /**
   * Runs `fn` as one atomic write transaction (reads inside see its own writes) and
   * resolves once the commit is durable on disk.
   */
  async transaction<T>(fn: () => T): Promise<T> {
    // transactionSync aborts everything fn wrote if fn throws; the async form would not.
    const result = this.root.transactionSync(fn);
    await this.root.flushed;
    return result;
  }

  get schemaVersion(): number {
    return (this.root.get("schemaVersion") as number | undefined) ?? 0;
  }

  async close(): Promise<void> {
    await this.root.close();
  }

  private async migrate(migrations: Migration[]): Promise<void> {
    const current = this.schemaVersion;
    if (current > SchemaVersion) {
      throw failedPrecondition(
        `metadata database ${this.path} has schema version ${current}, newer than this berth's ${SchemaVersion}`,
      );
    }
    if (current === SchemaVersion) return;
    const pending = migrations.filter((m) => m.version > current).sort((a, b) => a.version - b.version);
    await this.transaction(() => {
      for (const m of pending) m.migrate(this);
      this.root.put("schemaVersion", SchemaVersion);
    });
  }
}

/** Sorts after every string or number in lmdb's ordered-binary key encoding. */
const MaxKey = Buffer.from([0xff]);
