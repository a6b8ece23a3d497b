// Reproducible, offline OCI test images for berth's tests.
//
// Two images are built from binaries installed on the host by Debian packages:
//   busybox:latest  busybox-static's /bin/busybox with every applet hard-linked to it, plus a minimal /etc
//   pause:3.9       catatonit (static) at /catatonit, run as `catatonit -P` (pause mode)
//
// Each image is written both as an OCI image layout directory and as an OCI archive (an uncompressed tar of
// that layout, as taken by `ctr images import` and `skopeo copy oci-archive:`). Every byte is deterministic:
// tar entries are sorted, owned by 0:0 (except /home/berth), have fixed modes, mtime SOURCE_DATE_EPOCH and no
// user/group names; gzip uses a pinned level and Node's zlib header (mtime 0, OS unix); JSON documents are
// serialised with recursively sorted keys and no whitespace; `created` is fixed. Building twice with the same
// host binaries and the same Node.js (its bundled zlib) therefore yields identical digests.

import { execFile, execFileSync } from "node:child_process";
import { createCipheriv, createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import * as tarStream from "tar-stream";

const execFileAsync = promisify(execFile);

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

export const BUSYBOX_SOURCE = "/bin/busybox";
export const CATATONIT_SOURCE = "/usr/bin/catatonit";
const DEFAULT_PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

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

export interface BuildOptions {
  /** Registry host prefix for `io.containerd.image.name` (default DEFAULT_IMAGE_NAME_PREFIX). */
  imageNamePrefix?: string;
  /** Override the busybox binary to copy (default /bin/busybox). */
  busyboxPath?: string;
  /** Override the catatonit binary to copy (default /usr/bin/catatonit). */
  catatonitPath?: string;
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

function jsonBlob(value: unknown): Blob {
  return blob(Buffer.from(canonicalJson(value), "utf8"));
}

function compareBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function normalisePath(p: string): string {
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

const LINUX_AMD64: ImagePlatform = { os: "linux", architecture: "amd64" };

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

/** Lines of `/etc/passwd` in the busybox image. */
export const BUSYBOX_PASSWD = [
  "root:x:0:0:root:/root:/bin/sh",
  "berth:x:1000:1000:berth test user:/home/berth:/bin/sh",
  "nobody:x:65534:65534:nobody:/nonexistent:/bin/false",
];
/** Lines of `/etc/group` in the busybox image (user `berth` is also a member of `users`). */
export const BUSYBOX_GROUP = ["root:x:0:", "users:x:100:berth", "berth:x:1000:", "nobody:x:65534:"];

export async function busyboxSpec(busyboxPath = BUSYBOX_SOURCE): Promise<ImageSpec> {
  const binary = await readFile(busyboxPath);
  const { stdout } = await execFileAsync(busyboxPath, ["--list-full"], { encoding: "utf8" });
  const applets = stdout
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && l !== "bin/busybox")
    .map(normalisePath);
  if (!applets.includes("bin/sh")) throw new Error(`${busyboxPath} --list-full does not list bin/sh`);
  const text = (lines: string[]) => Buffer.from(`${lines.join("\n")}\n`, "utf8");
  const entries: LayerEntry[] = [
    { kind: "dir", path: "bin", mode: 0o755 },
    { kind: "dir", path: "sbin", mode: 0o755 },
    { kind: "dir", path: "usr/bin", mode: 0o755 },
    { kind: "dir", path: "usr/sbin", mode: 0o755 },
    { kind: "dir", path: "usr/local/bin", mode: 0o755 },
    { kind: "dir", path: "etc", mode: 0o755 },
    { kind: "dir", path: "dev", mode: 0o755 },
    { kind: "dir", path: "proc", mode: 0o555 },
    { kind: "dir", path: "sys", mode: 0o555 },
    { kind: "dir", path: "tmp", mode: 0o1777 },
    { kind: "dir", path: "var/tmp", mode: 0o1777 },
    { kind: "dir", path: "root", mode: 0o700 },
    { kind: "dir", path: "home", mode: 0o755 },
    { kind: "dir", path: "home/berth", mode: 0o755, uid: 1000, gid: 1000 },
    { kind: "file", path: "bin/busybox", mode: 0o755, data: binary },
    { kind: "file", path: "etc/passwd", mode: 0o644, data: text(BUSYBOX_PASSWD) },
    { kind: "file", path: "etc/group", mode: 0o644, data: text(BUSYBOX_GROUP) },
    ...applets.map((p): LayerEntry => ({ kind: "hardlink", path: p, target: "bin/busybox" })),
  ];
  return {
    name: "busybox",
    tag: "latest",
    repository: "library/busybox",
    layers: [entries],
    config: { Cmd: ["sh"], Env: [DEFAULT_PATH_ENV] },
    createdBy: `COPY ${busyboxPath} /bin/busybox + applet hard links + /etc/passwd, /etc/group`,
  };
}

export async function pauseSpec(catatonitPath = CATATONIT_SOURCE): Promise<ImageSpec> {
  const binary = await readFile(catatonitPath);
  await assertStatic(catatonitPath);
  return {
    name: "pause",
    tag: "3.9",
    repository: "berth/pause",
    layers: [[{ kind: "file", path: "catatonit", mode: 0o755, data: binary }]],
    // Mirrors the upstream pause:3.9 config (Entrypoint, non-root user 65535, PATH), with catatonit's pause mode.
    config: {
      Entrypoint: ["/catatonit", "-P"],
      Env: [DEFAULT_PATH_ENV],
      User: "65535:65535",
      WorkingDir: "/",
    },
    createdBy: `COPY ${catatonitPath} /catatonit`,
  };
}

/** Throws unless the ELF file at `file` has no program interpreter (i.e. is statically linked). */
async function assertStatic(file: string): Promise<void> {
  const buf = await readFile(file);
  if (buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 2 || buf[5] !== 1) {
    throw new Error(`${file}: not a little-endian 64-bit ELF file`);
  }
  const phoff = Number(buf.readBigUInt64LE(0x20));
  const phentsize = buf.readUInt16LE(0x36);
  const phnum = buf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    const PT_INTERP = 3;
    if (buf.readUInt32LE(phoff + i * phentsize) === PT_INTERP) {
      throw new Error(`${file} is dynamically linked; the pause image needs a static binary`);
    }
  }
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
async function writeLayout(
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

/**
 * Build the busybox and pause test images into `outDir` (created if needed): `<outDir>/<name>/` is the OCI
 * layout, `<outDir>/<name>.oci.tar` the OCI archive. Files whose content is already right are not rewritten, so
 * re-running against an existing dir is cheap and safe while other processes read it.
 */
export async function buildTestImages(outDir: string, opts: BuildOptions = {}): Promise<BuiltImage[]> {
  await mkdir(outDir, { recursive: true });
  const specs = [await busyboxSpec(opts.busyboxPath), await pauseSpec(opts.catatonitPath)];
  const out: BuiltImage[] = [];
  for (const spec of specs) {
    out.push(await writeImage(await buildImageBlobs(spec), outDir, opts));
  }
  return out;
}

/** A file capability (VFS_CAP_REVISION_2, effective) granting cap_net_bind_service, as setcap writes it. */
export const NET_BIND_SERVICE_CAPABILITY = String.fromCharCode(
  ...[0x01, 0, 0, 0x02, 0x00, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
);

/**
 * `size` bytes that do not compress, the same on every build: the AES-128-CTR keystream of a fixed key
 * with `stream` as IV.
 */
function incompressible(size: number, stream = 0): Buffer {
  const iv = Buffer.alloc(16);
  iv.writeUInt32BE(stream);
  return createCipheriv("aes-128-ctr", Buffer.alloc(16, 0x42), iv).update(Buffer.alloc(size));
}

/**
 * An image of five layers with what layer apply must get right, and whose unpacked tree the
 * differential tests compare between berth and containerd:
 *   1 (gzip)  setuid/setgid files, sticky and setgid dirs, uid/gid 1000, absolute, relative and dangling
 *             symlinks, hard links, a fifo, char and block devices, user.* and security.capability
 *             xattrs, mtimes, a 1 MiB file
 *   2 (none)  whiteouts of a file, a directory and a symlink; a directory replaced by a file and a file
 *             by a directory; a file rewritten with a new mode
 *   3 (zstd)  no parent entries (the runtime makes them from the layers below, xattrs included); an
 *             opaque directory; a setuid file replaced by a plain one
 *   4 (gzip)  a hard-link group of three with an xattr; a symlink replaced by a directory and another
 *             retargeted; a directory whose mode, owner and mtime change without new entries
 *   5 (gzip)  whiteouts of one of the hard links and of a hard-linked file with xattrs
 */
export function layeredSpec(): ImageSpec {
  const text = (s: string) => Buffer.from(s, "utf8");
  const berth = { uid: 1000, gid: 1000 };
  const base: LayerEntry[] = [
    { kind: "dir", path: "bin", mode: 0o755 },
    { kind: "dir", path: "etc", mode: 0o755 },
    { kind: "dir", path: "tmp", mode: 0o1777 },
    { kind: "dir", path: "srv", mode: 0o2775, ...berth, mtime: 1_600_000_000 },
    { kind: "dir", path: "home", mode: 0o755 },
    {
      kind: "dir",
      path: "home/berth",
      mode: 0o750,
      ...berth,
      mtime: 1_600_000_100,
      xattrs: { "user.berth.dir": "home" },
    },
    { kind: "dir", path: "opaque", mode: 0o755 },
    { kind: "dir", path: "olddir", mode: 0o755 },
    { kind: "dir", path: "becomes-file", mode: 0o755 },
    { kind: "dir", path: "var/lib", mode: 0o755 },
    { kind: "dir", path: "dev", mode: 0o755 },
    { kind: "dir", path: "run", mode: 0o755 },
    { kind: "file", path: "bin/tool", mode: 0o4755, data: text("tool v1\n") },
    { kind: "file", path: "bin/sgid", mode: 0o2755, gid: 1000, data: text("sgid\n") },
    {
      kind: "file",
      path: "bin/ping",
      mode: 0o755,
      data: text("ping\n"),
      xattrs: { "security.capability": NET_BIND_SERVICE_CAPABILITY },
    },
    { kind: "file", path: "etc/config", mode: 0o644, data: text("config v1\n"), mtime: 1_500_000_000 },
    { kind: "file", path: "etc/old.conf", mode: 0o644, data: text("old\n") },
    { kind: "file", path: "etc/shadow", mode: 0o000, data: text("root:*:0::::::\n") },
    {
      kind: "file",
      path: "home/berth/.profile",
      mode: 0o640,
      ...berth,
      data: text("PS1=berth\n"),
      mtime: 1_700_000_000,
    },
    { kind: "file", path: "opaque/a", mode: 0o644, data: text("a\n") },
    { kind: "file", path: "opaque/b", mode: 0o644, data: text("b\n") },
    { kind: "file", path: "opaque/sub/deep", mode: 0o644, data: text("deep\n") },
    { kind: "file", path: "olddir/x", mode: 0o644, data: text("x\n") },
    { kind: "file", path: "olddir/sub/y", mode: 0o644, data: text("y\n") },
    { kind: "file", path: "becomes-file/child", mode: 0o644, data: text("child\n") },
    { kind: "file", path: "becomes-dir", mode: 0o644, data: text("file for now\n") },
    {
      kind: "file",
      path: "var/lib/data",
      mode: 0o600,
      data: text("data\n"),
      xattrs: { "user.berth.note": "hello", "user.berth.empty": "" },
    },
    { kind: "file", path: "var/lib/big", mode: 0o644, data: incompressible(1 << 20) },
    { kind: "symlink", path: "bin/sh-abs", target: "/bin/tool" },
    { kind: "symlink", path: "etc/tool-rel", target: "../bin/tool" },
    { kind: "symlink", path: "etc/dir-link", target: "../opaque" },
    { kind: "symlink", path: "home/berth/profile-link", target: ".profile", ...berth, mtime: 1_700_000_001 },
    { kind: "symlink", path: "dangling", target: "/nonexistent" },
    { kind: "hardlink", path: "bin/tool-hard", target: "bin/tool" },
    { kind: "hardlink", path: "var/lib/data-link", target: "var/lib/data" },
    { kind: "fifo", path: "run/fifo", mode: 0o620, uid: 1000 },
    { kind: "char", path: "dev/null-ish", mode: 0o666, major: 1, minor: 3 },
    { kind: "block", path: "dev/loop-ish", mode: 0o660, gid: 6, major: 7, minor: 200 },
  ];
  const whiteout = (path: string): LayerEntry => ({ kind: "file", path, mode: 0o644, data: Buffer.alloc(0) });
  const changes: LayerEntry[] = [
    whiteout("etc/.wh.old.conf"),
    whiteout(".wh.olddir"),
    whiteout("bin/.wh.sh-abs"),
    { kind: "file", path: "becomes-file", mode: 0o600, data: text("now a file\n") },
    { kind: "dir", path: "becomes-dir", mode: 0o711, mtime: 1_550_000_000 },
    { kind: "file", path: "becomes-dir/inner", mode: 0o644, data: text("inner\n") },
    { kind: "file", path: "etc/config", mode: 0o600, data: text("config v2\n"), mtime: 1_500_000_500 },
  ];
  const noParents: LayerEntry[] = [
    { kind: "dir", path: "opaque", mode: 0o700, mtime: 1_650_000_000 },
    whiteout("opaque/.wh..wh..opq"),
    { kind: "file", path: "opaque/c", mode: 0o644, data: text("c\n") },
    { kind: "file", path: "home/berth/added", mode: 0o600, ...berth, data: text("added\n") },
    { kind: "file", path: "bin/tool", mode: 0o755, data: text("tool v3\n") },
  ];
  const links: LayerEntry[] = [
    { kind: "dir", path: "data", mode: 0o755, mtime: 1_610_000_000 },
    {
      kind: "file",
      path: "data/one",
      mode: 0o644,
      data: text("linked\n"),
      xattrs: { "user.berth.link": "one" },
    },
    { kind: "hardlink", path: "data/two", target: "data/one" },
    { kind: "hardlink", path: "data/three", target: "data/one" },
    { kind: "dir", path: "dangling", mode: 0o755, mtime: 1_610_000_001 },
    { kind: "file", path: "dangling/file", mode: 0o644, data: text("was a symlink\n") },
    { kind: "symlink", path: "etc/dir-link", target: "../data" },
    { kind: "dir", path: "srv", mode: 0o770, ...berth, mtime: 1_620_000_000 },
  ];
  const removals: LayerEntry[] = [
    whiteout("data/.wh.three"),
    whiteout("var/lib/.wh.data-link"),
    { kind: "file", path: "etc/motd", mode: 0o644, data: text("welcome\n"), mtime: 2_000_000_000 },
  ];
  return {
    name: "layered",
    tag: "v1",
    repository: "berth/layered",
    layers: [
      base,
      { entries: changes, compression: "none" },
      { entries: noParents, compression: "zstd", addParents: false },
      links,
      removals,
    ],
    // Beside the OCI members, what Docker-built configs carry too: members image-spec lacks (Hostname,
    // Shell, OnBuild), nulls, ArgsEscaped, and text JSON encoders escape differently.
    config: {
      User: "berth",
      Env: [DEFAULT_PATH_ENV, "BERTH=layered"],
      Entrypoint: null,
      Cmd: ["/bin/tool"],
      WorkingDir: "/srv",
      Labels: { "org.opencontainers.image.title": "layered", "test.berth/escaped": "<a & b>" },
      ExposedPorts: { "8080/tcp": {} },
      Volumes: { "/srv/data": {} },
      StopSignal: "SIGTERM",
      ArgsEscaped: true,
      Hostname: "",
      Shell: ["/bin/sh", "-c"],
      OnBuild: null,
    },
    createdBy: "berth testenv layered image",
  };
}

/** Builds the layered image into `<outDir>/layered/` (layout) and `<outDir>/layered.oci.tar`. */
export async function buildLayeredImage(outDir: string, opts: { imageNamePrefix?: string } = {}) {
  return writeImage(await buildImageBlobs(layeredSpec()), outDir, opts);
}

/** linux/arm64/v8: the foreign platform of the multi-platform test index. */
export const LINUX_ARM64_V8: ImagePlatform = { os: "linux", architecture: "arm64", variant: "v8" };
/** Platforms of the multi-platform busybox, foreign first so that picking the first entry is wrong. */
export const MULTI_PLATFORMS: ImagePlatform[] = [LINUX_ARM64_V8, LINUX_AMD64];

export interface BuiltIndexManifest {
  platform: ImagePlatform;
  manifestDigest: string;
  manifestSize: number;
  configDigest: string;
  layerDigests: string[];
}

/** A multi-platform image: an OCI image index listing one manifest per platform. */
export interface BuiltIndex {
  name: string;
  tag: string;
  /** OCI layout directory; its index.json points at the image index. */
  layoutDir: string;
  /** OCI archive of the layout (push it with skopeo `--all`). */
  archivePath: string;
  /** Digest of the image index: what the tag resolves to. */
  manifestDigest: string;
  manifestSize: number;
  manifests: BuiltIndexManifest[];
}

/**
 * Builds busybox once per platform into `<outDir>/<name>/` (layout) and `<outDir>/<name>.oci.tar`: every
 * variant shares the busybox layer and differs in its config (architecture, variant), so each has its own
 * config and manifest digest; the binary is this host's, as nothing runs it. Reproducible like the rest.
 */
export async function buildMultiPlatformImage(
  outDir: string,
  opts: { name?: string; tag?: string; platforms?: ImagePlatform[]; busyboxPath?: string } = {},
): Promise<BuiltIndex> {
  const name = opts.name ?? "busybox-multi";
  const tag = opts.tag ?? "latest";
  const base = await busyboxSpec(opts.busyboxPath);
  const built: ImageBlobs[] = [];
  for (const platform of opts.platforms ?? MULTI_PLATFORMS) {
    built.push(await buildImageBlobs({ ...base, platform }));
  }
  const index = jsonBlob({
    schemaVersion: 2,
    mediaType: MEDIA_TYPE_INDEX,
    manifests: built.map((b) => ({
      mediaType: MEDIA_TYPE_MANIFEST,
      digest: b.manifest.digest,
      size: b.manifest.size,
      platform: b.spec.platform,
    })),
  });
  const top = jsonBlob({
    schemaVersion: 2,
    mediaType: MEDIA_TYPE_INDEX,
    manifests: [
      {
        mediaType: MEDIA_TYPE_INDEX,
        digest: index.digest,
        size: index.size,
        annotations: { [ANNOTATION_REF_NAME]: `${name}:${tag}` },
      },
    ],
  });
  const blobs = new Map<string, Blob>([[index.digest, index]]);
  for (const b of built) for (const x of [b.manifest, b.config, ...b.layers]) blobs.set(x.digest, x);
  const layoutDir = path.join(outDir, name);
  const archivePath = path.join(outDir, `${name}.oci.tar`);
  await mkdir(outDir, { recursive: true });
  await writeLayout(layoutDir, archivePath, top, [...blobs.values()]);
  return {
    name,
    tag,
    layoutDir,
    archivePath,
    manifestDigest: index.digest,
    manifestSize: index.size,
    manifests: built.map((b) => ({
      platform: b.spec.platform ?? LINUX_AMD64,
      manifestDigest: b.manifest.digest,
      manifestSize: b.manifest.size,
      configDigest: b.config.digest,
      layerDigests: b.layers.map((l) => l.digest),
    })),
  };
}

/**
 * An image whose pull takes a while: `layers` layers (default 6) of two files holding `layerSize` bytes
 * (default 7 MiB) of incompressible data, the AES-128-CTR keystream of a fixed key with the layer's index as
 * IV, so every build gives the same bytes. Written to `<outDir>/<name>/` and `<outDir>/<name>.oci.tar`.
 */
export async function buildLargeImage(
  outDir: string,
  opts: { name?: string; tag?: string; layers?: number; layerSize?: number } = {},
): Promise<BuiltImage> {
  const layerSize = opts.layerSize ?? 7 * 1024 * 1024;
  const layers = Array.from({ length: opts.layers ?? 6 }, (_, i): LayerEntry[] => {
    const data = incompressible(layerSize, i);
    const half = Math.floor(layerSize / 2);
    return [
      { kind: "file", path: `data/${i}/a.bin`, mode: 0o644, data: data.subarray(0, half) },
      { kind: "file", path: `data/${i}/b.bin`, mode: 0o644, data: data.subarray(half) },
    ];
  });
  const spec: ImageSpec = {
    name: opts.name ?? "large",
    tag: opts.tag ?? "latest",
    repository: "berth/large",
    layers,
    config: { Env: [DEFAULT_PATH_ENV] },
    createdBy: "COPY data/ (AES-CTR keystream)",
  };
  await mkdir(outDir, { recursive: true });
  return writeImage(await buildImageBlobs(spec), outDir);
}

/** The repository root (the nearest ancestor of this module with berth's package.json). */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, "package.json");
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, "utf8")).name === "berth") return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error("cannot find the berth repository root (package.json)");
    dir = parent;
  }
}

/** `<repo>/build/images`. */
export function defaultImagesDir(): string {
  return path.join(repoRoot(), "build", "images");
}
