// Reproducible OCI images: deterministic layer tars, image configs and manifests, written as an
// OCI image layout directory and as an OCI archive (an uncompressed tar of that layout, as taken by
// `ctr images import`, `berth images import` and `skopeo copy oci-archive:`). Every byte is
// deterministic: tar entries are sorted, owned by 0:0 unless an entry says otherwise, have fixed
// modes, mtime SOURCE_DATE_EPOCH and no user/group names; gzip uses a pinned level and Node's zlib
// header (mtime 0, OS unix); JSON documents are serialised with recursively sorted keys and no
// whitespace; `created` is fixed. Building twice from the same entries with the same Node.js (its
// bundled zlib) therefore yields identical digests. `berth up` builds its images with it, and the
// tests build theirs.

import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { gzipSync } from "node:zlib";
import * as tarStream from "tar-stream";

/** Fixed timestamp (seconds since the epoch) used for every tar mtime and every `created` field. */
export const SOURCE_DATE_EPOCH = 0;
/** gzip level used for layers; pinned because it changes the compressed bytes (and so the digests). */
export const GZIP_LEVEL = 9;
/** zstd level of zstd layers, pinned for the same reason. */
export const ZSTD_LEVEL = 19;
export const ZSTD_BINARY = "/usr/bin/zstd";
/** Registry host used in the `io.containerd.image.name` annotation unless overridden (RFC 2606 test TLD). */
export const DEFAULT_IMAGE_NAME_PREFIX = "berth.test";

export const MEDIA_TYPE_INDEX = "application/vnd.oci.image.index.v1+json";
export const MEDIA_TYPE_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
export const MEDIA_TYPE_CONFIG = "application/vnd.oci.image.config.v1+json";
export const MEDIA_TYPE_LAYER = "application/vnd.oci.image.layer.v1.tar";
export const MEDIA_TYPE_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip";
export const MEDIA_TYPE_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd";
export const ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name";
export const ANNOTATION_CONTAINERD_NAME = "io.containerd.image.name";

/** The PATH images set for their processes, as Docker's default. */
export const DEFAULT_PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export interface BuiltImage {
  /** Short name, e.g. "busybox". */
  name: string;
  /** Tag, e.g. "latest". */
  tag: string;
  /** `name:tag`; also the index.json `org.opencontainers.image.ref.name` annotation. */
  ref: string;
  /** Repository path the image is meant to be served under in a registry, e.g. "library/busybox". */
  repository: string;
  /** Name containerd gives the image on `ctr images import` (`io.containerd.image.name` annotation). */
  containerdName: string;
  /** OCI image layout directory. */
  layoutDir: string;
  /** OCI archive (uncompressed tar of the layout). */
  archivePath: string;
  /** Digest of the image manifest ("sha256:..."). */
  manifestDigest: string;
  /** Digest of the config blob, i.e. the image id. */
  configDigest: string;
  /** Digests of the compressed layer blobs, in order. */
  layerDigests: string[];
  /** sha256 of the uncompressed layer tars (the config's rootfs.diff_ids), in order. */
  diffIds: string[];
  /** Size of the manifest blob in bytes. */
  manifestSize: number;
  /** Total bytes of manifest + config + compressed layers (what a registry/containerd stores). */
  size: number;
  /** Sum of the uncompressed layer sizes. */
  unpackedSize: number;
}

/**
 * What an entry may carry beyond its kind: owner (default 0:0), mtime in seconds (default
 * SOURCE_DATE_EPOCH) and xattrs as PAX `SCHILY.xattr.*` records. tar-stream writes PAX values as UTF-8
 * text, so xattr values must be ASCII (NUL included), which a file capability can be.
 */
interface EntryMeta {
  uid?: number;
  gid?: number;
  mtime?: number;
  xattrs?: Record<string, string>;
}

/** One file-system object of a layer. Paths are relative, without a leading "/" or "./". */
export type LayerEntry =
  | ({ kind: "dir"; path: string; mode: number } & EntryMeta)
  | ({ kind: "file"; path: string; mode: number; data: Buffer } & EntryMeta)
  | { kind: "hardlink"; path: string; target: string }
  | ({ kind: "symlink"; path: string; target: string } & EntryMeta)
  | ({ kind: "fifo"; path: string; mode: number } & EntryMeta)
  | ({ kind: "char" | "block"; path: string; mode: number; major: number; minor: number } & EntryMeta);

export type LayerCompression = "gzip" | "zstd" | "none";

/** A layer with its options; a bare entry list is a gzip layer with its parents added. */
export interface LayerSpec {
  entries: LayerEntry[];
  compression?: LayerCompression;
  /**
   * Add a 0755 entry for every missing parent directory (default true). Without them the runtime makes
   * the parents itself, copying what the layers below have.
   */
  addParents?: boolean;
}

export interface Blob {
  digest: string;
  size: number;
  data: Buffer;
}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

function blob(data: Buffer): Blob {
  return { digest: sha256(data), size: data.length, data };
}

/** JSON with recursively sorted object keys and no whitespace, so equal values always give equal bytes. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

export function jsonBlob(value: unknown): Blob {
  return blob(Buffer.from(canonicalJson(value), "utf8"));
}

function compareBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function normalisePath(p: string): string {
  const n = path.posix.normalize(p).replace(/^\/+/, "").replace(/\/+$/, "");
  if (n === "" || n === "." || n.startsWith("../")) throw new Error(`invalid layer path: ${p}`);
  return n;
}

/**
 * Serialise entries into a deterministic tar. Missing parent directories are added (0755, 0:0) unless
 * `addParents` is false. Order: directories (sorted, so parents precede children), regular files and
 * special files, symlinks, then hard links (so every link follows its target); each group sorted by path.
 */
export async function buildTar(entries: LayerEntry[], opts: { addParents?: boolean } = {}): Promise<Buffer> {
  const byPath = new Map<string, LayerEntry>();
  for (const e of entries) {
    const p = normalisePath(e.path);
    if (byPath.has(p)) throw new Error(`duplicate layer path: ${p}`);
    byPath.set(p, { ...e, path: p });
  }
  for (const p of [...byPath.keys()]) {
    for (let dir = path.posix.dirname(p); dir !== "."; dir = path.posix.dirname(dir)) {
      const existing = byPath.get(dir);
      if (existing === undefined) {
        if (opts.addParents !== false) byPath.set(dir, { kind: "dir", path: dir, mode: 0o755 });
      } else if (existing.kind !== "dir") throw new Error(`${dir} is a parent of ${p} but not a directory`);
    }
  }
  const rank: Record<LayerEntry["kind"], number> = {
    dir: 0,
    file: 1,
    fifo: 1,
    char: 1,
    block: 1,
    symlink: 2,
    hardlink: 3,
  };
  const sorted = [...byPath.values()].sort(
    (a, b) => rank[a.kind] - rank[b.kind] || compareBytes(a.path, b.path),
  );
  for (const e of sorted) {
    if (e.kind === "hardlink") {
      const target = byPath.get(normalisePath(e.target));
      if (target?.kind !== "file") throw new Error(`hard link ${e.path}: target ${e.target} is not a file`);
    }
  }

  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const chunk of pack) chunks.push(Buffer.from(chunk as Uint8Array));
  })();
  const add = (header: Partial<tarStream.Header> & { name: string }, data?: Buffer) =>
    new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (data !== undefined) pack.entry(header, data, cb);
      else pack.entry(header, cb);
    });
  for (const e of sorted) {
    if (e.kind === "hardlink") {
      const mtime = new Date(SOURCE_DATE_EPOCH * 1000);
      await add({
        name: e.path,
        type: "link",
        mode: 0o755,
        uid: 0,
        gid: 0,
        mtime,
        linkname: normalisePath(e.target),
      });
      continue;
    }
    const header = { ...entryMeta(e), name: e.path };
    switch (e.kind) {
      case "dir":
        await add({ ...header, name: `${e.path}/`, type: "directory", mode: e.mode });
        break;
      case "file":
        await add({ ...header, type: "file", mode: e.mode, size: e.data.length }, e.data);
        break;
      case "symlink":
        await add({ ...header, type: "symlink", mode: 0o777, linkname: e.target });
        break;
      case "fifo":
        await add({ ...header, type: "fifo", mode: e.mode });
        break;
      case "char":
      case "block":
        await add({
          ...header,
          type: e.kind === "char" ? "character-device" : "block-device",
          mode: e.mode,
          devmajor: e.major,
          devminor: e.minor,
        });
        break;
    }
  }
  pack.finalize();
  await collected;
  return Buffer.concat(chunks);
}

/** The header fields an entry's metadata sets; xattrs become PAX records. */
function entryMeta(e: Exclude<LayerEntry, { kind: "hardlink" }>): Partial<tarStream.Header> {
  const header: Partial<tarStream.Header> = {
    uid: e.uid ?? 0,
    gid: e.gid ?? 0,
    mtime: new Date((e.mtime ?? SOURCE_DATE_EPOCH) * 1000),
  };
  if (e.xattrs === undefined) return header;
  const pax: Record<string, string> = {};
  for (const [name, value] of Object.entries(e.xattrs)) {
    if (/[\u0080-\uffff]/.test(value)) throw new Error(`${e.path}: xattr ${name} must be ASCII`);
    pax[`SCHILY.xattr.${name}`] = value;
  }
  return { ...header, pax };
}

export interface ImageSpec {
  name: string;
  tag: string;
  repository: string;
  layers: (LayerEntry[] | LayerSpec)[];
  /** The `config` member of the image config (Cmd, Entrypoint, Env, User, ...). */
  config: Record<string, unknown>;
  createdBy: string;
  /** Platform written into the image config (default linux/amd64). */
  platform?: ImagePlatform;
}

export interface ImagePlatform {
  os: string;
  architecture: string;
  variant?: string;
}

export const LINUX_AMD64: ImagePlatform = { os: "linux", architecture: "amd64" };

export interface ImageBlobs {
  spec: ImageSpec;
  layers: Blob[];
  diffIds: string[];
  unpackedSize: number;
  config: Blob;
  manifest: Blob;
}

const LAYER_MEDIA_TYPES: Record<LayerCompression, string> = {
  gzip: MEDIA_TYPE_LAYER_GZIP,
  zstd: MEDIA_TYPE_LAYER_ZSTD,
  none: MEDIA_TYPE_LAYER,
};

/** Node 20's zlib has no zstd: Debian's zstd CLI compresses, at a pinned level like gzip. */
function compress(tar: Buffer, compression: LayerCompression): Buffer {
  if (compression === "gzip") return gzipSync(tar, { level: GZIP_LEVEL });
  if (compression === "zstd")
    return execFileSync(ZSTD_BINARY, [`-${ZSTD_LEVEL}`, "-q", "-c"], { input: tar });
  return tar;
}

/** Build the blobs (layers, config, manifest) of an image in memory. */
export async function buildImageBlobs(spec: ImageSpec): Promise<ImageBlobs> {
  const layers: Blob[] = [];
  const diffIds: string[] = [];
  let unpackedSize = 0;
  const mediaTypes: string[] = [];
  for (const layer of spec.layers) {
    const { entries, compression = "gzip", addParents } = Array.isArray(layer) ? { entries: layer } : layer;
    const tar = await buildTar(entries, { addParents });
    diffIds.push(sha256(tar));
    unpackedSize += tar.length;
    layers.push(blob(compress(tar, compression)));
    mediaTypes.push(LAYER_MEDIA_TYPES[compression]);
  }
  const created = new Date(SOURCE_DATE_EPOCH * 1000).toISOString().replace(".000Z", "Z");
  const platform = spec.platform ?? LINUX_AMD64;
  const config = jsonBlob({
    created,
    architecture: platform.architecture,
    os: platform.os,
    variant: platform.variant,
    config: spec.config,
    rootfs: { type: "layers", diff_ids: diffIds },
    history: layers.map(() => ({ created, created_by: spec.createdBy, comment: "berth testenv" })),
  });
  const manifest = jsonBlob({
    schemaVersion: 2,
    mediaType: MEDIA_TYPE_MANIFEST,
    config: { mediaType: MEDIA_TYPE_CONFIG, digest: config.digest, size: config.size },
    layers: layers.map((l, i) => ({ mediaType: mediaTypes[i], digest: l.digest, size: l.size })),
  });
  return { spec, layers, diffIds, unpackedSize, config, manifest };
}

/** Write `data` to `file` unless it already holds exactly that content; atomic (temp file + rename). */
async function writeIfChanged(file: string, data: Buffer): Promise<void> {
  try {
    const st = await stat(file);
    if (st.isFile() && st.size === data.length && (await readFile(file)).equals(data)) return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  await writeFile(tmp, data);
  await rename(tmp, file);
}

function indexDocument(b: ImageBlobs, imageNamePrefix: string): Blob {
  const { name, tag, repository } = b.spec;
  return jsonBlob({
    schemaVersion: 2,
    mediaType: MEDIA_TYPE_INDEX,
    manifests: [
      {
        mediaType: MEDIA_TYPE_MANIFEST,
        digest: b.manifest.digest,
        size: b.manifest.size,
        platform: { architecture: "amd64", os: "linux" },
        annotations: {
          [ANNOTATION_REF_NAME]: `${name}:${tag}`,
          [ANNOTATION_CONTAINERD_NAME]: `${imageNamePrefix}/${repository}:${tag}`,
        },
      },
    ],
  });
}

const OCI_LAYOUT = Buffer.from(canonicalJson({ imageLayoutVersion: "1.0.0" }), "utf8");

/** Writes an OCI layout dir (index.json + blobs) and its OCI archive; unchanged files are left alone. */
export async function writeLayout(
  layoutDir: string,
  archivePath: string,
  index: Blob,
  blobs: Blob[],
): Promise<void> {
  const files = new Map<string, Buffer>([
    ["oci-layout", OCI_LAYOUT],
    ["index.json", index.data],
  ]);
  for (const x of blobs) files.set(`blobs/sha256/${x.digest.slice("sha256:".length)}`, x.data);

  const blobDir = path.join(layoutDir, "blobs", "sha256");
  await mkdir(blobDir, { recursive: true });
  for (const [rel, data] of files) await writeIfChanged(path.join(layoutDir, rel), data);
  // Drop blobs of earlier builds so the layout dir holds exactly this image.
  const wanted = new Set(blobs.map((x) => x.digest.slice("sha256:".length)));
  for (const f of await readdir(blobDir)) {
    if (!wanted.has(f) && !f.includes(".tmp-")) await rm(path.join(blobDir, f), { force: true });
  }

  const archive = await buildTar(
    [...files].map(([rel, data]): LayerEntry => ({ kind: "file", path: rel, mode: 0o644, data })),
  );
  await writeIfChanged(archivePath, archive);
}

/** Write an image as an OCI layout dir and an OCI archive; unchanged files are left alone. */
export async function writeImage(
  b: ImageBlobs,
  outDir: string,
  opts: { imageNamePrefix?: string } = {},
): Promise<BuiltImage> {
  const prefix = opts.imageNamePrefix ?? DEFAULT_IMAGE_NAME_PREFIX;
  const { name, tag, repository } = b.spec;
  const layoutDir = path.join(outDir, name);
  const archivePath = path.join(outDir, `${name}.oci.tar`);
  const blobs = [b.manifest, b.config, ...b.layers];
  await writeLayout(layoutDir, archivePath, indexDocument(b, prefix), blobs);

  return {
    name,
    tag,
    ref: `${name}:${tag}`,
    repository,
    containerdName: `${prefix}/${repository}:${tag}`,
    layoutDir,
    archivePath,
    manifestDigest: b.manifest.digest,
    configDigest: b.config.digest,
    layerDigests: b.layers.map((l) => l.digest),
    diffIds: b.diffIds,
    manifestSize: b.manifest.size,
    size: blobs.reduce((n, x) => n + x.size, 0),
    unpackedSize: b.unpackedSize,
  };
}
