// Reproducible, offline OCI test images for berth's tests, built with src/local-images:
//   busybox:latest, pause:3.9   the node's images (host-images.ts) under test names
//   layered:v1                  five layers with what layer apply must get right
//   busybox-multi:latest        an image index of two platforms
//   large:latest                a slow pull: incompressible layers
// Each is written both as an OCI image layout directory and as an OCI archive.

import { createCipheriv } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { busyboxSpec, pauseSpec } from "../local-images/host-images.js";
import {
  ANNOTATION_REF_NAME,
  type Blob,
  type BuiltImage,
  buildImageBlobs,
  DEFAULT_PATH_ENV,
  type ImageBlobs,
  type ImagePlatform,
  type ImageSpec,
  jsonBlob,
  type LayerEntry,
  LINUX_AMD64,
  MEDIA_TYPE_INDEX,
  MEDIA_TYPE_MANIFEST,
  writeImage,
  writeLayout,
} from "../local-images/oci-image-builder.js";

export interface BuildOptions {
  /** Registry host prefix for `io.containerd.image.name` (default DEFAULT_IMAGE_NAME_PREFIX). */
  imageNamePrefix?: string;
  /** Override the busybox binary to copy (default /bin/busybox). */
  busyboxPath?: string;
  /** Override the catatonit binary to copy (default /usr/bin/catatonit). */
  catatonitPath?: string;
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
