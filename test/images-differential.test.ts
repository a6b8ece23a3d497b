// Differential test of the image side: the berth daemon and containerd 1.6.20 pull the same images
// from the same local registries through their CRI ImageService and must answer alike: PullImage ids and
// errors, ListImages, ImageStatus (verbose too) by every kind of name, RemoveImage, and the unpacked file
// trees of the images' top snapshots, mounted read-only and walked entry by entry. Basic auth, a
// multi-platform index and a hosts.toml mirror go through the berth daemon the same way.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import type { ImageServiceClient } from "../src/cri/remote-image.js";
import { newRemoteImageService } from "../src/cri/remote-image.js";
import { type CriConnection, dialCri } from "../src/cri/transport.js";
import { kindOf, messageOf } from "../src/lib/errdefs.js";
import { freePort } from "../src/lib/free-port.js";
import { mountAll, unmountAll } from "../src/lib/mount/mount.js";
import { type BuiltImage, buildImageBlobs, writeImage } from "../src/local-images/oci-image-builder.js";
import { MetadataDb } from "../src/runtime/core/metadata/db.js";
import { OverlaySnapshotter } from "../src/runtime/snapshots/overlay/overlay.js";
import { type BerthRuntime, startBerthRuntime } from "../src/testenv/berth-runtime.js";
import { type Containerd, startContainerd } from "../src/testenv/containerd/containerd.js";
import { type BuiltIndex, buildLayeredImage, buildMultiPlatformImage } from "../src/testenv/images.js";
import {
  type Registry,
  type RegistryWithTestImages,
  startRegistry,
  startRegistryWithTestImages,
} from "../src/testenv/registry.js";
import { captureLog } from "./support/capture-log.js";
import { type FileTree, readFileTree } from "./support/file-tree.js";

const k8sNs = "k8s.io";
const user = "alice";
const password = "s3cret";
const startedAt = Date.now();

let dir: string;
let env: RegistryWithTestImages;
let authReg: Registry;
let layered: BuiltImage;
let multi: BuiltIndex;
/** A registry host nothing listens on, whose hosts.toml names env.registry as its mirror. */
let downHost: string;
let ctrd: Containerd;
let berth: BerthRuntime;
const conns: CriConnection[] = [];
let berthImages: ImageServiceClient;
let ctrdImages: ImageServiceClient;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "berth-images-diff-"));
  env = await startRegistryWithTestImages();
  const host = env.registry.host;
  layered = await buildLayeredImage(path.join(dir, "images"));
  await env.registry.push(layered, "berth/layered", "v1");
  multi = await buildMultiPlatformImage(path.join(dir, "images"));
  await env.registry.push(multi, "library/multi", "latest");
  // busybox under more names, for the order of an image's repo tags and digests.
  await env.registry.push(env.busybox.image, "library/busybox", "1.36");
  await env.registry.push(env.busybox.image, "berth/box", "latest");
  authReg = await startRegistry({ htpasswd: { [user]: password } });
  await authReg.push(env.busybox.image, "library/busybox", "latest");
  downHost = `127.0.0.1:${await freePort()}`;

  ctrd = await startContainerd({ sandboxImage: env.pause.ref, registryHosts: [host, authReg.host] });
  // Both read the same hosts.toml files. Each has a [host] table: containerd 1.6.20 ignores a file
  // without one ("invalid `host` tree") and falls back to its defaults.
  const configDir = path.join(dir, "certs.d");
  const mirror = `[host."http://${host}"]\n  capabilities = ["pull", "resolve"]\n`;
  const hostsFiles: [string, string][] = [
    [host, await readFile(path.join(ctrd.hostsDir, host, "hosts.toml"), "utf8")],
    [authReg.host, await readFile(path.join(ctrd.hostsDir, authReg.host, "hosts.toml"), "utf8")],
    // Short names (docker.io/library/...) come from the local registry.
    ["docker.io", mirror],
    [downHost, `server = "http://${downHost}"\n${mirror}`],
  ];
  for (const hostsDir of [configDir, ctrd.hostsDir]) {
    for (const [name, toml] of hostsFiles) {
      await mkdir(path.join(hostsDir, name), { recursive: true });
      await writeFile(path.join(hostsDir, name, "hosts.toml"), toml);
    }
  }
  berth = await startBerthRuntime({
    configToml: [
      "[plugins.cri]",
      `sandbox_image = "${env.pause.ref}"`,
      "[plugins.cri.registry]",
      `config_path = "${configDir}"`,
      "",
    ].join("\n"),
  });
  berthImages = connect(berth.endpoint);
  ctrdImages = connect(ctrd.endpoint);
});

after(async () => {
  for (const c of conns) c.close();
  await berth?.stop();
  await ctrd?.stop();
  await authReg?.stop();
  await env?.registry.stop();
  const mounted = (await readFile("/proc/self/mounts", "utf8")).includes(dir);
  if (!mounted) await rm(dir, { recursive: true, force: true });
  assert.ok(!mounted, `nothing stays mounted under ${dir}`);
  if (ctrd) assert.deepEqual(await ctrd.leftovers(), []);
});

function connect(endpoint: string): ImageServiceClient {
  const conn = dialCri(endpoint, { timeoutMs: 120_000 });
  conns.push(conn);
  return newRemoteImageService(conn);
}

type Outcome<T> = { ok: T } | { kind: string; message: string };

/** A call's answer, or its error as kind and message with registry ports made alike. */
async function outcome<T>(call: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: await call() };
  } catch (err) {
    return { kind: kindOf(err), message: messageOf(err).replace(/127\.0\.0\.1:\d+/g, "127.0.0.1:PORT") };
  }
}

/** Runs `call` against berth, then containerd, and asserts both answered the same. */
async function same<T>(what: string, call: (images: ImageServiceClient) => Promise<T>): Promise<Outcome<T>> {
  const got = await outcome(() => call(berthImages));
  const want = await outcome(() => call(ctrdImages));
  assert.deepEqual(got, want, what);
  return got;
}

const pull = (ref: string, auth?: { username?: string; password?: string; auth?: string }) =>
  same(`PullImage ${ref}`, async (s) => (await s.pullImage({ image: { image: ref }, auth })).imageRef);

const status = (ref: string, verbose = false) =>
  same(`ImageStatus ${JSON.stringify(ref)}${verbose ? " verbose" : ""}`, async (s) => {
    const res = await s.imageStatus({ image: { image: ref }, verbose });
    return { image: res.image, info: res.info };
  });

async function listImagesAlike(what: string) {
  const res = await same(`ListImages ${what}`, async (s) =>
    (await s.listImages({})).images.sort((a, b) => (a.id < b.id ? -1 : 1)),
  );
  assert.ok("ok" in res);
  return res.ok;
}

test("pulls by tag, digest and equivalent names answer with the same image id", async () => {
  const host = env.registry.host;
  const bb = env.busybox;
  const refs: [string, string][] = [
    [bb.ref, bb.imageId],
    [`${host}/library/busybox:1.36`, bb.imageId],
    [`${host}/berth/box:latest`, bb.imageId],
    [bb.digestRef, bb.imageId],
    [`${host}/library/busybox`, bb.imageId],
    [`${host}/library/busybox:latest@${bb.digest}`, bb.imageId],
    ["busybox", bb.imageId],
    ["docker.io/library/busybox:1.36", bb.imageId],
    [env.pause.ref, env.pause.imageId],
    [`${host}/berth/layered:v1`, layered.configDigest],
    [`${host}/berth/layered@${layered.manifestDigest}`, layered.configDigest],
    [`${host}/library/multi:latest`, amd64ConfigDigest()],
    [`${host}/library/multi@${multi.manifestDigest}`, amd64ConfigDigest()],
  ];
  for (const [ref, id] of refs) assert.deepEqual(await pull(ref), { ok: id }, ref);
  await listImagesAlike("after the pulls");
});

function amd64ConfigDigest(): string {
  const m = multi.manifests.find((x) => x.platform.architecture === "amd64");
  assert.ok(m);
  return m.configDigest;
}

test("ListImages: same ids, repo tags and digests in the same order, sizes and users", async () => {
  const images = await listImagesAlike("");
  const bb = images.find((i) => i.id === env.busybox.imageId);
  assert.ok(bb);
  assert.ok(bb.repoTags.length >= 4 && bb.repoDigests.length >= 3, "busybox has several names");
  assert.equal(images.find((i) => i.id === layered.configDigest)?.username, "berth");
  assert.equal(images.find((i) => i.id === env.pause.imageId)?.uid?.value, 65535n);
});

test("ImageStatus by tag, id, id prefix, repo digest and short names; missing and bad names", async () => {
  const host = env.registry.host;
  const named: string[] = [
    env.busybox.ref,
    env.busybox.digestRef,
    "busybox",
    "busybox:latest",
    "docker.io/busybox",
    "library/busybox:1.36",
    `${host}/library/busybox:latest@${env.busybox.digest}`,
    `${host}/berth/layered:v1`,
    `${host}/library/multi`,
  ];
  for (const id of [env.busybox.imageId, env.pause.imageId, layered.configDigest, amd64ConfigDigest()]) {
    named.push(id, id.slice("sha256:".length), id.slice(0, 19), id.slice("sha256:".length, 19));
  }
  for (const ref of named) {
    const res = await status(ref);
    assert.ok("ok" in res && res.ok.image, `${ref} is found`);
  }
  const missing = [
    `${host}/library/busybox:nope`,
    `${host}/nope/nothing:latest`,
    `sha256:${"0".repeat(64)}`,
    "0".repeat(64),
    "nope",
    "Busybox",
    "busybox:",
    "busybox@md5:0123456789abcdef0123456789abcdef",
    "sha256:",
    "",
  ];
  for (const ref of missing) await status(ref);
});

test("ImageStatus verbose: the same chainID and image spec", async () => {
  for (const id of [env.busybox.imageId, env.pause.imageId, layered.configDigest, amd64ConfigDigest()]) {
    const res = await status(id, true);
    assert.ok("ok" in res);
    const info = JSON.parse(res.ok.info.info ?? "{}");
    assert.match(info.chainID, /^sha256:[0-9a-f]{64}$/);
  }
  const res = await status(amd64ConfigDigest());
  assert.ok("ok" in res);
  assert.equal(res.ok.image?.id, amd64ConfigDigest(), "the multi-platform index gives the amd64 image");
});

test("PullImage errors: missing tag, repository and digest, bad references", async () => {
  const host = env.registry.host;
  const refs = [
    `${host}/library/busybox:nope`,
    `${host}/nope/nothing:latest`,
    `${host}/library/busybox@sha256:${"0".repeat(64)}`,
    "Busybox",
    "busybox:",
    "0".repeat(64),
    "busybox@md5:0123456789abcdef0123456789abcdef",
    "busybox@sha256:abc",
    "",
  ];
  for (const ref of refs) {
    const res = await pull(ref);
    assert.ok("kind" in res, `${ref} fails`);
  }
});

test("a layer whose bytes do not match its digest fails both pulls, and neither keeps it", async () => {
  const corrupt = await writeImage(
    await buildImageBlobs({
      name: "corrupt",
      tag: "v1",
      repository: "berth/corrupt",
      layers: [[{ kind: "file", path: "data.bin", mode: 0o644, data: randomBytes(64 * 1024) }]],
      config: {},
      createdBy: "test",
    }),
    path.join(dir, "images"),
  );
  await env.registry.push(corrupt, corrupt.repository, corrupt.tag);
  const layer = corrupt.layerDigests[0] as string;
  const bytes = await readFile(env.registry.blobPath(layer));
  bytes[bytes.length - 100] = (bytes[bytes.length - 100] as number) ^ 0xff;
  await writeFile(env.registry.blobPath(layer), bytes);
  const ref = `${env.registry.host}/${corrupt.repository}:${corrupt.tag}`;
  const berthPull = await outcome(() => berthImages.pullImage({ image: { image: ref } }));
  const ctrdPull = await outcome(() => ctrdImages.pullImage({ image: { image: ref } }));
  assert.ok("kind" in berthPull && "kind" in ctrdPull, "both pulls fail");
  assert.match(
    berthPull.message,
    new RegExp(`unexpected commit digest sha256:[0-9a-f]{64}, expected ${layer}`),
  );
  assert.deepEqual(await status(ref), { ok: { image: undefined, info: {} } }, "neither has the image");
  assert.equal(existsSync(path.join(berth.root, "content.local", "blobs", "sha256", layer.slice(7))), false);
});

test("basic auth: username/password and `auth` pull; wrong or no credentials fail alike", async () => {
  const ref = `${authReg.host}/library/busybox:latest`;
  const auth = Buffer.from(`${user}:${password}`).toString("base64");
  assert.deepEqual(await pull(ref, { username: user, password }), { ok: env.busybox.imageId });
  assert.deepEqual(await pull(ref, { auth }), { ok: env.busybox.imageId });
  for (const bad of [
    { username: user, password: "nope" },
    { auth: Buffer.from(`${user}:nope`).toString("base64") },
    undefined,
  ]) {
    const res = await pull(ref, bad);
    assert.ok("kind" in res, `${JSON.stringify(bad)} fails`);
  }
});

test("a hosts.toml mirror serves a registry that is down", async () => {
  assert.deepEqual(await pull(`${downHost}/library/busybox:latest`), { ok: env.busybox.imageId });
  await status(`${downHost}/library/busybox:latest`);
  await listImagesAlike("after the mirror pull");
});

test("ImageFsInfo: both report the snapshotter's directory and its usage", async () => {
  const berthFs = (await berthImages.imageFsInfo({})).imageFilesystems;
  const ctrdFs = (await ctrdImages.imageFsInfo({})).imageFilesystems;
  for (const [fs, suffix] of [
    [berthFs, "/snapshotter.overlayfs"],
    [ctrdFs, "/io.containerd.snapshotter.v1.overlayfs"],
  ] as const) {
    assert.equal(fs.length, 1);
    assert.ok(fs[0]?.fsId?.mountpoint.endsWith(suffix), fs[0]?.fsId?.mountpoint);
    assert.ok(fs[0]?.usedBytes && fs[0].inodesUsed && fs[0].timestamp > 0n);
  }
  // containerd counts what a syncer measured at most 10 s ago, so only berth's is sure to be up to date.
  assert.ok((berthFs[0]?.usedBytes?.value ?? 0n) > 0n && (berthFs[0]?.inodesUsed?.value ?? 0n) > 0n);
});

test("unpacked images: identical file trees in both snapshotters", async () => {
  // The multi-platform index's amd64 image is busybox itself (same config), so three images.
  const images: Unpacked[] = [];
  for (const id of [env.busybox.imageId, env.pause.imageId, layered.configDigest]) {
    const res = await status(id, true);
    assert.ok("ok" in res);
    images.push({ id, chainId: JSON.parse(res.ok.info.info ?? "{}").chainID });
  }
  const want = await containerdTrees(images);
  const got = await berthTrees(images);
  for (const [i, { id }] of images.entries()) {
    assert.deepEqual(treeDifferences(got[i], want[i]), [], `file tree of ${id}`);
    assert.deepEqual(got[i], want[i], `file tree of ${id}`);
  }
  const layeredTree = got[2];
  assert.ok(layeredTree?.entries.some((e) => e.path === "bin/ping" && e.xattrs["security.capability"]));
  assert.ok(layeredTree?.hardlinks.some((g) => g.join() === "data/one,data/two"));
});

/** An image and the snapshot that holds it unpacked. */
interface Unpacked {
  id: string;
  chainId: string;
}

/** Readable differences, path by path, between berth's tree and containerd's. */
function treeDifferences(got: FileTree | undefined, want: FileTree | undefined): string[] {
  const byPath = (t: FileTree | undefined) => new Map(t?.entries.map((e) => [e.path, e]));
  const [g, w] = [byPath(got), byPath(want)];
  const out: string[] = [];
  for (const p of new Set([...g.keys(), ...w.keys()])) {
    const [a, b] = [g.get(p), w.get(p)];
    if (!a || !b) {
      out.push(`${p}: only in ${a ? "berth" : "containerd"}`);
      continue;
    }
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof typeof a>) {
      const [x, y] = [JSON.stringify(a[k]), JSON.stringify(b[k])];
      if (x !== y) out.push(`${p}: ${k} berth ${x}, containerd ${y}`);
    }
  }
  if (JSON.stringify(got?.hardlinks) !== JSON.stringify(want?.hardlinks)) {
    out.push(
      `hard links: berth ${JSON.stringify(got?.hardlinks)}, containerd ${JSON.stringify(want?.hardlinks)}`,
    );
  }
  return out;
}

/** Reads each image's tree, mounted read-only under a temp dir by `mount`, then unmounted by `unmount`. */
async function readMounted(
  images: Unpacked[],
  mount: (image: Unpacked, target: string) => Promise<void>,
  unmount: (image: Unpacked, target: string) => Promise<void>,
): Promise<FileTree[]> {
  const trees: FileTree[] = [];
  for (const image of images) {
    const target = await mkdtemp(path.join(dir, "view-"));
    try {
      await mount(image, target);
      try {
        trees.push(await readFileTree(target, startedAt));
      } finally {
        await unmount(image, target);
      }
    } finally {
      await rm(target, { recursive: true, force: true });
    }
  }
  return trees;
}

/**
 * containerd mounts a view of the image's chainID itself (`ctr images mount`), under a lease
 * named after the target so that its garbage collector leaves the view alone, and
 * `ctr images unmount --rm` unmounts it and drops view and lease.
 */
async function containerdTrees(images: Unpacked[]): Promise<FileTree[]> {
  return readMounted(
    images,
    async ({ id }, target) => {
      await ctrd.ctr(["-n", k8sNs, "images", "mount", "--snapshotter", "overlayfs", id, target]);
    },
    async (_image, target) => {
      await ctrd.ctr(["-n", k8sNs, "images", "unmount", "--rm", target]);
    },
  );
}

/**
 * berth's own snapshotter, opened on the stopped daemon's database, makes a view of each chainID
 * and mountAll mounts it; then the view is removed and the daemon started again.
 */
async function berthTrees(images: Unpacked[]): Promise<FileTree[]> {
  await berth.terminate();
  try {
    const db = await MetadataDb.open(path.join(berth.root, "metadata.lmdb", "meta.lmdb"));
    try {
      const sn = await OverlaySnapshotter.open(
        path.join(berth.root, "snapshotter.overlayfs"),
        db,
        captureLog().log,
      );
      const key = (id: string) => `differential-view-${id}`;
      return await readMounted(
        images,
        async ({ id, chainId }, target) => {
          const mounts = await sn.view(k8sNs, key(id), chainId);
          await mountAll(mounts, target).catch(async (err) => {
            await sn.remove(k8sNs, key(id));
            throw err;
          });
        },
        async ({ id }, target) => {
          await unmountAll(target);
          await sn.remove(k8sNs, key(id));
        },
      );
    } finally {
      await db.close();
    }
  } finally {
    await berth.restart();
  }
}

test("RemoveImage by tag, by id, by prefix and of missing images: same outcomes, same lists after", async () => {
  const host = env.registry.host;
  const removals = [
    `${host}/library/busybox:nope`,
    "Busybox",
    `sha256:${"0".repeat(64)}`,
    `${host}/berth/box:latest`,
    layered.configDigest,
    env.pause.imageId.slice("sha256:".length, 19),
    `${host}/library/multi@${multi.manifestDigest}`,
    `${host}/berth/box:latest`,
  ];
  for (const ref of removals) {
    await same(`RemoveImage ${ref}`, async (s) => {
      await s.removeImage({ image: { image: ref } });
      return "removed";
    });
    await listImagesAlike(`after removing ${ref}`);
  }
  assert.deepEqual(await listImagesAlike("at the end"), []);
});
