// The content store's contract (after containerd's core/content/content.go): blobs
// addressed by digest, written through resumable ingests and checked on commit.
import type { Readable } from "node:stream";
import { isNotFound } from "../../../lib/errdefs.js";

/** An OCI descriptor, as in manifests and indexes. */
export interface Descriptor {
  mediaType: string;
  /** "sha256:<hex>". */
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  urls?: string[];
  platform?: Platform;
}

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  "os.version"?: string;
  "os.features"?: string[];
}

/** What the store knows of a committed blob in one namespace. */
export interface ContentInfo {
  digest: string;
  size: number;
  createdAt: Date;
  updatedAt: Date;
  /** Includes GC reference labels: containerd.io/gc.ref.content.<k> = <digest>. */
  labels: Record<string, string>;
}

/** An ingest in progress, resumable by its ref after a restart. */
export interface IngestStatus {
  ref: string;
  /** Bytes written so far. */
  offset: number;
  /** Expected size, 0 if unknown. */
  total: number;
  expected?: string;
  startedAt: Date;
  updatedAt: Date;
}

export interface WriterOptions {
  /** Names the ingest; a second writer with the same ref resumes it (or fails with Unavailable while it is locked). */
  ref: string;
  /** Size and digest to verify on commit. */
  expected?: Pick<Descriptor, "digest" | "size">;
}

export interface ContentWriter {
  readonly ref: string;
  /** Bytes already in the ingest (where to resume from). */
  readonly offset: number;
  write(chunk: Uint8Array): Promise<void>;
  /**
   * Verifies size and digest, fsyncs and renames the blob into place. FailedPrecondition
   * on a mismatch (the ingest is discarded); AlreadyExists if the blob is already there.
   */
  commit(size: number, digest: string, opts?: { labels?: Record<string, string> }): Promise<void>;
  /** Releases the writer, keeping the ingest for a later resume. */
  close(): Promise<void>;
}

/** Namespaced content store. Every call takes the namespace (CRI uses "k8s.io"). */
export interface ContentStore {
  info(ns: string, digest: string): Promise<ContentInfo>;
  /** Replaces the labels (all of them, or only those named in `fieldpaths` like "labels.x"). */
  update(
    ns: string,
    info: Pick<ContentInfo, "digest" | "labels">,
    fieldpaths?: string[],
  ): Promise<ContentInfo>;
  list(ns: string): Promise<ContentInfo[]>;
  delete(ns: string, digest: string): Promise<void>;
  readBlob(ns: string, digest: string): Promise<Buffer>;
  createReadStream(ns: string, digest: string): Promise<Readable>;
  writer(ns: string, opts: WriterOptions): Promise<ContentWriter>;
  status(ns: string, ref: string): Promise<IngestStatus>;
  listStatuses(ns: string): Promise<IngestStatus[]>;
  abort(ns: string, ref: string): Promise<void>;
}

/** Whether the namespace has the blob. */
export async function hasContent(content: ContentStore, ns: string, digest: string): Promise<boolean> {
  try {
    await content.info(ns, digest);
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/** Sets (adds or replaces) these labels of a blob, leaving its others alone. */
export async function setContentLabels(
  content: ContentStore,
  ns: string,
  digest: string,
  labels: Record<string, string>,
): Promise<void> {
  await content.update(
    ns,
    { digest, labels },
    Object.keys(labels).map((k) => `labels.${k}`),
  );
}
