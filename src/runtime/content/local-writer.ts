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

export class LocalWriter implements ContentWriter {
  private updatedAt?: Date;

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
    const file = this.open("write to");
    try {
      for (let done = 0; done < chunk.length; ) {
        done += (await file.write(chunk, done)).bytesWritten;
      }
    } catch (err) {
      throw wrap(err, `failed to write to ingest "${this.ref}"`);
    }
    this.digester.update(chunk);
    this.written += chunk.length;
    this.updatedAt = new Date();
  }

  async commit(size: number, digest: string, opts: { labels?: Record<string, string> } = {}): Promise<void> {
    if (opts.labels) validateLabels(opts.labels);
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
    this.file = undefined;
    try {
      // Flushed so that a resume after a power cut hashes what was really written.
      await file.sync();
      await file.close();
    } finally {
      await this.owner.releaseIngest(this.ns, this.ref, this.updatedAt);
    }
  }

  private open(step: string): FileHandle {
    if (!this.file) throw failedPrecondition(`cannot ${step} closed writer for ingest "${this.ref}"`);
    return this.file;
  }
}
