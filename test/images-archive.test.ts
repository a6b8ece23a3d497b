// `berth images import|export` against the berth runtime, with containerd 1.6.20 as the
// reference: archives go both ways between the two with the same image ids, an archive
// from `ctr images export` gives the same CRI ImageStatus as containerd's own pull, a
// Docker save archive gives containerd's manifest byte for byte, and a bad archive is
// refused leaving no record, blob, ingest or snapshot behind.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, afterEach, before, test } from "node:test";
import { toJson } from "@bufbuild/protobuf";
import { ImageSchema } from "../src/cri/gen/runtime/v1/api_pb.js";
import { newBerthImagesClient } from "../src/cri/remote-berth-images.js";
import { type ImageServiceClient, newRemoteImageService } from "../src/cri/remote-image.js";
import { type CriConnection, dialCri } from "../src/cri/transport.js";
import { kindOf } from "../src/lib/errdefs.js";
import { buildTar, sha256 } from "../src/local-images/oci-image-builder.js";
import { chainIds } from "../src/runtime/images/oci.js";
import { type BerthRuntime, startBerthRuntime } from "../src/testenv/berth-runtime.js";
import { type Containerd, startContainerd } from "../src/testenv/containerd/containerd.js";
import { buildMultiPlatformImage } from "../src/testenv/images.js";
import { type RegistryWithTestImages, startRegistryWithTestImages } from "../src/testenv/registry.js";
import { berth, berthOk } from "./support/berth-cli.js";

let dir: string;
let reg: RegistryWithTestImages;
let ctrd: Containerd;
let daemon: BerthRuntime;
const conns: CriConnection[] = [];
let berthCri: ImageServiceClient;
let ctrdCri: ImageServiceClient;
const onBerth = (...args: string[]) => ["--runtime-endpoint", daemon.endpoint, "--timeout", "60s", ...args];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "berth-images-archive-"));
  reg = await startRegistryWithTestImages();
  ctrd = await startContainerd({ sandboxImage: reg.pause.ref, registryHosts: [reg.registry.host] });
  daemon = await startBerthRuntime();
  const dial = (endpoint: string) => {
    const conn = dialCri(endpoint, { timeoutMs: 120_000 });
    conns.push(conn);
    return conn;
  };
  berthCri = newRemoteImageService(dial(daemon.endpoint));
  ctrdCri = newRemoteImageService(dial(ctrd.endpoint));
});

after(async () => {
  for (const c of conns) c.close();
  await daemon?.stop();
  await ctrd?.stop();
  if (ctrd) assert.deepEqual(await ctrd.leftovers(), []);
  await reg?.registry.stop();
  await rm(dir, { recursive: true, force: true });
});

// Each test starts from two runtimes without images: what one imports, it removes.
afterEach(async () => {
  for (const cri of [berthCri, ctrdCri]) {
    for (const image of (await cri.listImages({})).images)
      await cri.removeImage({ image: { image: image.id } });
  }
  await assertBerthHoldsNothing();
});

/** No blob, ingest or snapshot is left in the berth runtime (its removals collect garbage). */
async function assertBerthHoldsNothing() {
  const content = join(daemon.root, "content.local");
  assert.deepEqual(await readdir(join(content, "blobs", "sha256")), [], "blobs");
  assert.deepEqual(await readdir(join(content, "ingest")), [], "ingests");
  assert.deepEqual(await readdir(join(daemon.root, "snapshotter.overlayfs", "snapshots")), [], "snapshots");
}

async function status(cri: ImageServiceClient, ref: string) {
  const res = await cri.imageStatus({ image: { image: ref }, verbose: true });
  assert.ok(res.image, `${ref} is there`);
  // proto3 JSON with every field, as crictl prints it.
  const image = toJson(ImageSchema, res.image, { alwaysEmitImplicit: true }) as {
    id: string;
    repoTags: string[];
    repoDigests: string[];
    size: string;
  };
  return { image, info: res.info };
}

test("the testenv OCI archives import as CRI would pull them, unpacked, from a relative path", async () => {
  for (const built of [reg.busybox.image, reg.pause.image]) {
    const out = await berthOk(onBerth("images", "import", relative(process.cwd(), built.archivePath)));
    assert.equal(out, `Imported ${built.containerdName} (${built.configDigest})\n`);
    const repo = built.containerdName.replace(/:[^:/]+$/, "");
    const { image, info } = await status(berthCri, built.containerdName);
    assert.deepEqual(
      [image.id, image.repoTags, image.repoDigests, image.size],
      [built.configDigest, [built.containerdName], [`${repo}@${built.manifestDigest}`], String(built.size)],
    );
    assert.equal(JSON.parse(info.info ?? "{}").chainID, chainIds(built.diffIds).at(-1));
    // The same image by its id, as after a pull.
    assert.equal((await status(berthCri, built.configDigest)).image.id, built.configDigest);
  }
  const ids = (await berthOk(onBerth("images", "-q"))).trim().split("\n").sort();
  assert.deepEqual(ids, [reg.busybox.imageId, reg.pause.imageId].sort());
  const snapshots = await readdir(join(daemon.root, "snapshotter.overlayfs", "snapshots"));
  assert.equal(snapshots.length, reg.busybox.image.diffIds.length + reg.pause.image.diffIds.length);
});

test("a multi-platform index unpacks this platform's manifest; --base-name completes tag-only ref names", async () => {
  const multi = await buildMultiPlatformImage(dir);
  const amd64 = multi.manifests.find((m) => m.platform.architecture === "amd64");
  assert.ok(amd64);
  const out = await berthOk(onBerth("images", "import", multi.archivePath));
  assert.equal(out, `Imported docker.io/library/busybox-multi:latest (${amd64.configDigest})\n`);
  const { image } = await status(berthCri, "busybox-multi");
  assert.deepEqual(image.repoDigests, [`docker.io/library/busybox-multi@${multi.manifestDigest}`]);
  // Exported, the index keeps this platform's manifest only, which containerd takes.
  const exported = join(dir, "multi-export.tar");
  await berthOk(onBerth("images", "export", exported, "busybox-multi"));
  const listing = execFileSync("tar", ["tf", exported], { encoding: "utf8" });
  for (const m of multi.manifests) {
    const inArchive = listing.includes(m.manifestDigest.slice(7));
    assert.equal(inArchive, m === amd64, `${m.platform.architecture} manifest in the archive`);
  }
  await ctrd.ctr(["-n", "k8s.io", "images", "import", exported]);
  assert.equal((await status(ctrdCri, "busybox-multi")).image.id, amd64.configDigest);

  // Only the OCI annotation, holding a bare tag: the base name gives the repository.
  const files = await layoutFiles(reg.busybox.image.layoutDir);
  const index = JSON.parse(String(files.get("index.json")));
  index.manifests[0].annotations = { "org.opencontainers.image.ref.name": "v1" };
  files.set("index.json", Buffer.from(JSON.stringify(index)));
  const tagOnly = await writeArchive("tag-only.tar", files);
  const named = await berthOk(onBerth("images", "import", tagOnly, "--base-name", "example.com/app"));
  assert.equal(named, `Imported example.com/app:v1 (${reg.busybox.imageId})\n`);
  // The index's amd64 manifest is this very image, so both names are one image's.
  assert.deepEqual((await status(berthCri, "example.com/app:v1")).image.repoTags, [
    "docker.io/library/busybox-multi:latest",
    "example.com/app:v1",
  ]);
  // A base name the archive's full names are not under leaves them unnamed: the id alone.
  const unnamed = await berthOk(
    onBerth("images", "import", multi.archivePath, "--base-name", "example.com/x"),
  );
  assert.equal(unnamed, `Imported ${amd64.configDigest}\n`);
});

test("export from berth, `ctr images import` into containerd: the same image id", async () => {
  await berthOk(onBerth("pull", reg.busybox.ref));
  const archive = join(dir, "from-berth.tar");
  const out = await berthOk(onBerth("images", "export", archive, reg.busybox.imageId.slice(7, 19)));
  assert.match(out, new RegExp(`^Exported ${escapeRegExp(archive)} \\(\\d+(\\.\\d+)?[kM]B\\)\n$`));
  const listing = execFileSync("tar", ["tf", archive], { encoding: "utf8" }).trim().split("\n");
  const blobs = [reg.busybox.digest, reg.busybox.imageId, ...reg.busybox.image.layerDigests].map(
    (d) => `blobs/sha256/${d.slice(7)}`,
  );
  assert.deepEqual(listing, ["blobs/", "blobs/sha256/", ...blobs.sort(), "index.json", "oci-layout"]);
  const index = JSON.parse(execFileSync("tar", ["xOf", archive, "index.json"], { encoding: "utf8" }));
  assert.deepEqual(index.manifests[0].annotations, {
    "io.containerd.image.name": reg.busybox.ref,
    "org.opencontainers.image.ref.name": "latest",
  });

  await ctrd.ctr(["-n", "k8s.io", "images", "import", archive]);
  const { image } = await status(ctrdCri, reg.busybox.ref);
  assert.equal(image.id, reg.busybox.imageId);
  assert.deepEqual(image.repoTags, [reg.busybox.ref]);
});

test("`ctr images export` from containerd, then berth import: the same id and CRI ImageStatus as containerd's pull", async () => {
  await ctrdCri.pullImage({ image: { image: reg.busybox.ref } });
  const archive = join(dir, "from-containerd.tar");
  await ctrd.ctr(["-n", "k8s.io", "images", "export", archive, reg.busybox.ref]);
  const out = await berthOk(onBerth("images", "import", archive));
  assert.equal(out, `Imported ${reg.busybox.ref} (${reg.busybox.imageId})\n`);
  const pulled = await status(ctrdCri, reg.busybox.ref);
  const imported = await status(berthCri, reg.busybox.ref);
  assert.deepEqual(imported.image, pulled.image);
  assert.equal(JSON.parse(imported.info.info ?? "").chainID, JSON.parse(pulled.info.info ?? "").chainID);
});

test("a Docker save archive gives containerd's manifest, byte for byte", async () => {
  const archive = join(dir, "docker-save.tar");
  const name = "example.com/saved/pause:v1";
  execFileSync("skopeo", [
    "copy",
    "-q",
    `oci-archive:${reg.pause.image.archivePath}`,
    `docker-archive:${archive}:${name}`,
  ]);
  assert.equal(
    await berthOk(onBerth("images", "import", archive)),
    `Imported ${name} (${reg.pause.imageId})\n`,
  );
  const { image } = await status(berthCri, name);

  // A namespace of its own, so that containerd has no compressed layer to put in its place.
  const plain = await ctrImport("berth-docker-save", [archive]);
  assert.deepEqual(image.repoDigests, [`example.com/saved/pause@${plain}`]);

  // After the OCI archive, whose layer is the same one compressed, both name that blob instead.
  for (const i of (await berthCri.listImages({})).images)
    await berthCri.removeImage({ image: { image: i.id } });
  await berthOk(onBerth("images", "import", reg.pause.image.archivePath));
  await berthOk(onBerth("images", "import", archive));
  const compressed = await ctrImport("berth-docker-save-2", [reg.pause.image.archivePath, archive]);
  assert.notEqual(compressed, plain);
  const digests = (await status(berthCri, name)).image.repoDigests;
  assert.deepEqual(
    digests.filter((d) => d.startsWith("example.com/")),
    [`example.com/saved/pause@${compressed}`],
  );

  /** Imports into a fresh containerd namespace; the digest `name` gets there. */
  async function ctrImport(ns: string, archives: string[]) {
    for (const a of archives) await ctrd.ctr(["-n", ns, "images", "import", a]);
    const lines = (await ctrd.ctr(["-n", ns, "images", "ls"])).trim().split("\n");
    const digest = lines.find((l) => l.startsWith(`${name} `))?.split(/\s+/)[2];
    await ctrd.ctr([
      "-n",
      ns,
      "images",
      "rm",
      "--sync",
      ...lines.slice(1).map((l) => l.split(/\s+/)[0] as string),
    ]);
    return digest;
  }
});

test("a missing index.json or a blob that does not match its digest: InvalidArgument, nothing left", async () => {
  const files = await layoutFiles(reg.busybox.image.layoutDir);
  const noIndex = new Map(files);
  noIndex.delete("index.json");
  // The layer stored under a digest that is not its own, and the manifest pointing there.
  const [layer] = reg.busybox.image.layerDigests as [string];
  const wrong = sha256("not the layer");
  const badDigest = new Map(files);
  badDigest.delete(`blobs/sha256/${layer.slice(7)}`);
  badDigest.set(`blobs/sha256/${wrong.slice(7)}`, files.get(`blobs/sha256/${layer.slice(7)}`) as Buffer);
  const cases = [
    { file: "no-index.tar", files: noIndex, error: "missing index.json in OCI layout 1.0.0" },
    {
      file: "bad-digest.tar",
      files: badDigest,
      error: `blob blobs/sha256/${wrong.slice(7)} in the archive has digest ${layer}, not ${wrong}`,
    },
  ];
  const client = newBerthImagesClient(conns[0] as CriConnection);
  for (const c of cases) {
    const archive = await writeArchive(c.file, c.files);
    const r = await berth(onBerth("images", "import", archive));
    assert.deepEqual(
      [r.code, r.stdout, r.stderr],
      [1, "", `berth: failed to import archive "${archive}": ${c.error}\n`],
    );
    await assert.rejects(client.import({ path: archive }), (err) => kindOf(err) === "InvalidArgument");
    assert.deepEqual((await berthCri.listImages({})).images, []);
    await assertBerthHoldsNothing();
  }
});

test("relative paths and unknown images are refused by the daemon; containerd has no berth.v1.Images", async () => {
  const client = newBerthImagesClient(conns[0] as CriConnection);
  await assert.rejects(client.import({ path: "x.tar" }), /archive path "x.tar" must be absolute/);
  const r = await berth(onBerth("images", "export", join(dir, "none.tar"), "nosuch:1"));
  assert.equal(
    r.stderr,
    `berth: failed to export images to "${join(dir, "none.tar")}": image "nosuch:1" not found\n`,
  );
  for (const [verb, args] of [
    ["import", ["x.tar"]],
    ["export", ["x.tar", "busybox"]],
  ] as const) {
    const res = await berth(["--runtime-endpoint", ctrd.endpoint, "images", verb, ...args]);
    assert.deepEqual(
      [res.code, res.stderr],
      [
        1,
        `berth: the runtime at ${ctrd.endpoint} does not offer image ${verb} (berth.v1.Images); use its own tools\n`,
      ],
    );
  }
});

/** The files of an OCI layout directory, by path inside it. */
async function layoutFiles(layoutDir: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const name of ["oci-layout", "index.json"]) files.set(name, await readFile(join(layoutDir, name)));
  for (const blob of await readdir(join(layoutDir, "blobs", "sha256"))) {
    files.set(`blobs/sha256/${blob}`, await readFile(join(layoutDir, "blobs", "sha256", blob)));
  }
  return files;
}

async function writeArchive(name: string, files: Map<string, Buffer>): Promise<string> {
  const path = join(dir, name);
  await writeFile(
    path,
    await buildTar([...files].map(([p, data]) => ({ kind: "file" as const, path: p, mode: 0o644, data }))),
  );
  return path;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
