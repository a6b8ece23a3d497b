// The content store (after containerd's content/local/store.go, with the namespaced records
// of metadata/content.go and its "shared" policy): blobs are shared on disk, and a blob is
// visible in a namespace only while that namespace has a record of it.
//
//   <root>/blobs/sha256/<hex>            committed blobs, read-only
//   <root>/ingest/<sha256(ns, ref)>/data  ingests in progress, resumable after a restart
//   bucket "content" [ns, digest]         ContentRecord
//   bucket "ingests" [ns, ref]            IngestRecord
//
// A commit fsyncs the data, renames it into blobs/, fsyncs that directory and only then
// writes the record, so a crash leaves at worst a blob without a record, which GC removes.
// Steps that touch files and records together hold the GC lock shared (see gc-lock.ts).
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { chmod, mkdir, open, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import type { Database, Key } from "lmdb";
import { alreadyExists, invalidArgument, notFound, unavailable, wrap } from "../../lib/errdefs.js";
import type { Logger } from "../../lib/log.js";
import type {
  ContentInfo,
  ContentStore,
  ContentWriter,
  Descriptor,
  IngestStatus,
  WriterOptions,
} from "../core/content/content.js";
import { updateLabels, validateLabels } from "../core/labels.js";
import type { MetadataDb } from "../core/metadata/db.js";
import { type GcLock, gcLock } from "../gc/gc-lock.js";
import { digestHex, validateSha256Digest } from "./digest.js";
import { type IngestOwner, LocalWriter } from "./local-writer.js";

const readChunkBytes = 1024 * 1024;

export interface ContentRecord {
  size: number;
  createdAt: Date;
  updatedAt: Date;
  labels: Record<string, string>;
}

export interface IngestRecord {
  /** Expected size, 0 if unknown. */
  total: number;
  expected?: string;
  startedAt: Date;
  updatedAt: Date;
}

export class LocalContentStore implements ContentStore, IngestOwner {
  /** Ingest directory names that have an open writer. */
  private readonly writing = new Set<string>();
  private readonly records: Database<ContentRecord, Key[]>;
  private readonly ingests: Database<IngestRecord, Key[]>;
  private readonly lock: GcLock;

  private constructor(
    readonly root: string,
    private readonly db: MetadataDb,
    private readonly log: Logger,
  ) {
    this.records = db.bucket<ContentRecord>("content");
    this.ingests = db.bucket<IngestRecord>("ingests");
    this.lock = gcLock(db);
  }

  static async open(root: string, db: MetadataDb, log: Logger): Promise<LocalContentStore> {
    const store = new LocalContentStore(root, db, log);
    try {
      await mkdir(store.blobsDir, { recursive: true });
      await mkdir(store.ingestRoot, { recursive: true });
    } catch (err) {
      throw wrap(err, `failed to create content store directories under "${root}"`);
    }
    return store;
  }

  async info(ns: string, digest: string): Promise<ContentInfo> {
    return toInfo(digest, this.record(ns, digest));
  }

  async update(
    ns: string,
    info: Pick<ContentInfo, "digest" | "labels">,
    fieldpaths?: string[],
  ): Promise<ContentInfo> {
    validateLabels(info.labels);
    try {
      const record = await this.db.transaction(() => {
        const current = this.record(ns, info.digest);
        const updated = {
          ...current,
          labels: updateLabels(current.labels, info.labels, fieldpaths),
          updatedAt: new Date(),
        };
        this.records.put([ns, info.digest], updated);
        return updated;
      });
      return toInfo(info.digest, record);
    } catch (err) {
      throw wrap(err, `failed to update content ${info.digest}`);
    }
  }

  async list(ns: string): Promise<ContentInfo[]> {
    return this.db.listNamespace(this.records, ns).map(({ key, value }) => toInfo(String(key[1]), value));
  }

  /** Removes the namespace's record; GC removes the file once no namespace has one. */
  async delete(ns: string, digest: string): Promise<void> {
    await this.db.transaction(() => {
      this.record(ns, digest);
      this.records.remove([ns, digest]);
    });
  }

  /** The whole blob in memory: for manifests and configs, never layers. */
  async readBlob(ns: string, digest: string): Promise<Buffer> {
    this.record(ns, digest);
    try {
      return await readFile(this.blobPath(digest));
    } catch (err) {
      throw wrap(missingAsNotFound(err), `failed to read content ${digest}`);
    }
  }

  async createReadStream(ns: string, digest: string): Promise<Readable> {
    this.record(ns, digest);
    try {
      const file = await open(this.blobPath(digest), "r");
      // Blobs are read whole and once (layers to unpack): large reads mean fewer thread-pool
      // round trips here and fewer chunks for every stage after.
      return file.createReadStream({ highWaterMark: readChunkBytes });
    } catch (err) {
      throw wrap(missingAsNotFound(err), `failed to open content ${digest}`);
    }
  }

  /**
   * Starts or resumes the ingest `opts.ref`; one writer per ref at a time (Unavailable
   * otherwise). With `opts.expected`, AlreadyExists if the namespace has that content, or
   * if another namespace has it: then it is linked into this one without being written.
   */
  async writer(ns: string, opts: WriterOptions): Promise<ContentWriter> {
    const { ref, expected } = opts;
    if (!ref) throw invalidArgument("ingest ref must not be empty");
    if (expected) validateSha256Digest(expected.digest, "expected digest");
    const name = ingestName(ns, ref);
    if (this.writing.has(name)) throw unavailable(`ref "${ref}" locked for writing in namespace "${ns}"`);
    this.writing.add(name);
    try {
      if (expected) await this.linkExisting(ns, ref, expected);
      return await this.lock.shared(() => this.openIngest(ns, ref, expected));
    } catch (err) {
      this.writing.delete(name);
      throw wrap(err, `failed to open writer for ref "${ref}"`);
    }
  }

  async status(ns: string, ref: string): Promise<IngestStatus> {
    const record = this.ingests.get([ns, ref]);
    if (!record) throw notFound(`ingest "${ref}" not found in namespace "${ns}"`);
    const data = await statOrUndefined(this.dataPath(ns, ref));
    const mtime = data?.mtime ?? record.updatedAt;
    return {
      ref,
      offset: data?.size ?? 0,
      total: record.total,
      ...(record.expected ? { expected: record.expected } : {}),
      startedAt: record.startedAt,
      updatedAt: new Date(Math.max(mtime.getTime(), record.updatedAt.getTime())),
    };
  }

  async listStatuses(ns: string): Promise<IngestStatus[]> {
    const refs = this.db.listNamespace(this.ingests, ns).map(({ key }) => String(key[1]));
    return Promise.all(refs.map((ref) => this.status(ns, ref)));
  }

  /** Drops an ingest that has no open writer. */
  async abort(ns: string, ref: string): Promise<void> {
    if (this.writing.has(ingestName(ns, ref))) {
      throw unavailable(`cannot abort ingest "${ref}" in namespace "${ns}": a writer holds it`);
    }
    if (!this.ingests.doesExist([ns, ref])) throw notFound(`ingest "${ref}" not found in namespace "${ns}"`);
    await this.discardIngest(ns, ref);
  }

  /** True while a writer holds the ingest; GC leaves such ingests alone. */
  isWriting(ns: string, ref: string): boolean {
    return this.writing.has(ingestName(ns, ref));
  }

  /**
   * Removes blob files that no namespace has a record of and ingest directories without a
   * record. Only for GC, which must hold the GC lock exclusively.
   */
  async garbageCollect(): Promise<{ blobs: number; ingests: number; bytes: number }> {
    const recorded = new Set([...this.records.getKeys()].map((key) => digestHex(String((key as Key[])[1]))));
    const live = new Set(
      [...this.ingests.getKeys()].map((key) =>
        ingestName(String((key as Key[])[0]), String((key as Key[])[1])),
      ),
    );
    const freed = { blobs: 0, ingests: 0, bytes: 0 };
    for (const hex of await readdir(this.blobsDir)) {
      if (recorded.has(hex)) continue;
      freed.bytes += await this.removeTree(join(this.blobsDir, hex));
      freed.blobs++;
    }
    for (const name of await readdir(this.ingestRoot)) {
      if (live.has(name) || this.writing.has(name)) continue;
      freed.bytes += await this.removeTree(join(this.ingestRoot, name));
      freed.ingests++;
    }
    return freed;
  }

  async commitIngest(
    ns: string,
    ref: string,
    digest: string,
    size: number,
    labels?: Record<string, string>,
  ): Promise<void> {
    const target = this.blobPath(digest);
    await this.lock.shared(async () => {
      const exists = (await statOrUndefined(target)) !== undefined;
      if (!exists) {
        await rename(this.dataPath(ns, ref), target);
        await chmod(target, 0o444);
        await fsyncDir(this.blobsDir);
      }
      const now = new Date();
      const linked = await this.db.transaction(() => {
        const old = this.records.get([ns, digest]);
        this.ingests.remove([ns, ref]);
        // With the blob already there, a namespace that has it keeps its record as it is.
        if (old && exists) return false;
        this.records.put([ns, digest], {
          size,
          createdAt: old?.createdAt ?? now,
          updatedAt: now,
          labels: labels ?? old?.labels ?? {},
        });
        return true;
      });
      await this.removeIngestDir(ns, ref);
      this.log.debug({ ns, ref, digest, size, linked }, "content committed");
      if (exists) throw alreadyExists(`content ${digest} already exists`);
    });
  }

  async discardIngest(ns: string, ref: string): Promise<void> {
    await this.lock.shared(async () => {
      await this.db.transaction(() => this.ingests.remove([ns, ref]));
      await this.removeIngestDir(ns, ref);
    });
  }

  async releaseIngest(ns: string, ref: string, updatedAt?: Date): Promise<void> {
    try {
      if (updatedAt) {
        await this.db.transaction(() => {
          const record = this.ingests.get([ns, ref]);
          if (record) this.ingests.put([ns, ref], { ...record, updatedAt });
        });
      }
    } finally {
      this.writing.delete(ingestName(ns, ref));
    }
  }

  /** Under the shared policy a blob another namespace has is linked, not written again. */
  private async linkExisting(ns: string, ref: string, expected: Pick<Descriptor, "digest" | "size">) {
    const { digest } = expected;
    if (this.records.doesExist([ns, digest])) throw alreadyExists(`content ${digest} already exists`);
    await this.lock.shared(async () => {
      const blob = await statOrUndefined(this.blobPath(digest));
      if (!blob || (expected.size > 0 && blob.size !== expected.size)) return;
      const now = new Date();
      await this.db.transaction(() => {
        this.records.put([ns, digest], { size: blob.size, createdAt: now, updatedAt: now, labels: {} });
        this.ingests.remove([ns, ref]);
      });
      await this.removeIngestDir(ns, ref);
      this.log.debug({ ns, ref, digest }, "content linked from another namespace");
      throw alreadyExists(`content ${digest} already exists`);
    });
  }

  /** Creates the ingest or picks it up where it stopped, rehashing what is on disk. */
  private async openIngest(
    ns: string,
    ref: string,
    expected?: Pick<Descriptor, "digest" | "size">,
  ): Promise<ContentWriter> {
    const existing = this.ingests.get([ns, ref]);
    const now = new Date();
    const record: IngestRecord = {
      total: expected?.size ?? existing?.total ?? 0,
      startedAt: existing?.startedAt ?? now,
      updatedAt: now,
    };
    const expectedDigest = expected?.digest ?? existing?.expected;
    if (expectedDigest) record.expected = expectedDigest;
    // The record first: a directory without one is an orphan that GC removes.
    await this.db.transaction(() => this.ingests.put([ns, ref], record));
    const data = this.dataPath(ns, ref);
    await mkdir(join(this.ingestRoot, ingestName(ns, ref)), { recursive: true });
    const digester = createHash("sha256");
    let offset = 0;
    if (existing && (await statOrUndefined(data))) {
      for await (const chunk of createReadStream(data)) {
        digester.update(chunk as Buffer);
        offset += (chunk as Buffer).length;
      }
    }
    const file = await open(data, "a");
    this.log.debug({ ns, ref, offset }, existing ? "ingest resumed" : "ingest started");
    return new LocalWriter(this, ns, ref, file, digester, offset, expected);
  }

  private record(ns: string, digest: string): ContentRecord {
    validateSha256Digest(digest);
    const record = this.records.get([ns, digest]);
    if (!record) throw notFound(`content ${digest} not found in namespace "${ns}"`);
    return record;
  }

  private async removeIngestDir(ns: string, ref: string): Promise<void> {
    await rm(join(this.ingestRoot, ingestName(ns, ref)), { recursive: true, force: true });
  }

  /** Removes a file or directory and returns the bytes its files held. */
  private async removeTree(path: string): Promise<number> {
    const info = await stat(path);
    let bytes = info.size;
    if (info.isDirectory()) {
      bytes = 0;
      for (const entry of await readdir(path, { recursive: true })) {
        const child = await stat(join(path, entry));
        if (child.isFile()) bytes += child.size;
      }
    }
    await rm(path, { recursive: true, force: true });
    this.log.debug({ path, bytes }, "removed unreferenced content file");
    return bytes;
  }

  private get blobsDir(): string {
    return join(this.root, "blobs", "sha256");
  }

  private get ingestRoot(): string {
    return join(this.root, "ingest");
  }

  private blobPath(digest: string): string {
    return join(this.blobsDir, digestHex(digest));
  }

  private dataPath(ns: string, ref: string): string {
    return join(this.ingestRoot, ingestName(ns, ref), "data");
  }
}

/** Fixed-length directory name for an ingest, whatever characters the ref holds. */
export function ingestName(ns: string, ref: string): string {
  return createHash("sha256").update(`${ns}\0${ref}`).digest("hex");
}

function toInfo(digest: string, record: ContentRecord): ContentInfo {
  return { digest, ...record };
}

async function statOrUndefined(path: string) {
  try {
    return await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

async function fsyncDir(path: string): Promise<void> {
  const dir = await open(path, "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

function missingAsNotFound(err: unknown): unknown {
  return (err as NodeJS.ErrnoException).code === "ENOENT" ? notFound("blob file is missing", err) : err;
}
