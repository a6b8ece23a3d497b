// An ingest being written (after containerd's content/local/writer.go): appends to the
// ingest's data file while hashing, verifies size and digest on commit and hands the
// fsynced file to the store to move into place.

import type { Hash } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import { failedPrecondition, wrap } from "../../lib/errdefs.js";
import type { ContentWriter, Descriptor } from "../core/content/content.js";
import { validateLabels } from "../core/labels.js";

/** What a writer needs from its store; the store owns layout, records and locks. */
export interface IngestOwner {
  /** Moves the verified data file into blobs/ and records it in the namespace. */
  commitIngest(
    ns: string,
    ref: string,
    digest: string,
    size: number,
    labels?: Record<string, string>,
  ): Promise<void>;
  /** Removes the ingest's data and record. */
  discardIngest(ns: string, ref: string): Promise<void>;
  /** Records the time of the last write and releases the ref for another writer. */
  releaseIngest(ns: string, ref: string, updatedAt?: Date): Promise<void>;
}

/**
 * Writes are gathered up to this size: one thread-pool round trip per network chunk
 * (often 64 KiB) costs the event loop more than copying it.
 */
const batchBytes = 1024 * 1024;

export class LocalWriter implements ContentWriter {
  private updatedAt?: Date;
  /** Accepted bytes not yet written to the file. */
  private batch?: Buffer;
  private batched = 0;

  constructor(
    private readonly owner: IngestOwner,
    private readonly ns: string,
    readonly ref: string,
    private file: FileHandle | undefined,
    private readonly digester: Hash,
    private written: number,
    private readonly expected?: Pick<Descriptor, "digest" | "size">,
  ) {}

  get offset(): number {
    return this.written;
  }

  /** Appends `chunk`; await each write before the next. */
  async write(chunk: Uint8Array): Promise<void> {
    this.open("write to");
    this.batch ??= Buffer.allocUnsafe(batchBytes);
    for (let at = 0; at < chunk.length; ) {
      const n = Math.min(chunk.length - at, batchBytes - this.batched);
      this.batch.set(chunk.subarray(at, at + n), this.batched);
      this.batched += n;
      at += n;
      if (this.batched === batchBytes) await this.flush();
    }
    this.digester.update(chunk);
    this.written += chunk.length;
    this.updatedAt = new Date();
  }

  /** Writes out what write() gathered. */
  private async flush(): Promise<void> {
    if (!this.batch || this.batched === 0) return;
    const file = this.open("write to");
    const data = this.batch.subarray(0, this.batched);
    this.batched = 0;
    try {
      for (let done = 0; done < data.length; ) {
        done += (await file.write(data, done)).bytesWritten;
      }
    } catch (err) {
      throw wrap(err, `failed to write to ingest "${this.ref}"`);
    }
  }

  async commit(size: number, digest: string, opts: { labels?: Record<string, string> } = {}): Promise<void> {
    if (opts.labels) validateLabels(opts.labels);
    await this.flush();
    const file = this.open("commit");
    this.file = undefined;
    try {
      try {
        await file.sync();
      } finally {
        await file.close();
      }
      const actual = `sha256:${this.digester.digest("hex")}`;
      const wantSize = size || this.expected?.size || 0;
      const wantDigest = digest || this.expected?.digest;
      const mismatch =
        wantSize > 0 && wantSize !== this.written
          ? `unexpected commit size ${this.written}, expected ${wantSize}`
          : wantDigest && wantDigest !== actual
            ? `unexpected commit digest ${actual}, expected ${wantDigest}`
            : undefined;
      if (mismatch) {
        await this.owner.discardIngest(this.ns, this.ref);
        throw failedPrecondition(mismatch);
      }
      await this.owner.commitIngest(this.ns, this.ref, actual, this.written, opts.labels);
    } catch (err) {
      throw wrap(err, `failed to commit ingest "${this.ref}"`);
    } finally {
      await this.owner.releaseIngest(this.ns, this.ref);
    }
  }

  async close(): Promise<void> {
    const file = this.file;
    if (!file) return;
    try {
      // Written out and flushed so that a resume after a power cut hashes what was really written.
      await this.flush();
      this.file = undefined;
      await file.sync();
      await file.close();
    } finally {
      this.file = undefined;
      await this.owner.releaseIngest(this.ns, this.ref, this.updatedAt);
    }
  }

  private open(step: string): FileHandle {
    if (!this.file) throw failedPrecondition(`cannot ${step} closed writer for ingest "${this.ref}"`);
    return this.file;
  }
}
