import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { gunzipSync } from "node:zlib";
import * as tarStream from "tar-stream";
import {
  ANNOTATION_CONTAINERD_NAME,
  ANNOTATION_REF_NAME,
  type BuiltImage,
  buildTar,
  MEDIA_TYPE_CONFIG,
  MEDIA_TYPE_INDEX,
  MEDIA_TYPE_LAYER_GZIP,
  MEDIA_TYPE_MANIFEST,
  sha256,
} from "../local-images/oci-image-builder.js";
import { buildTestImages } from "./images.js";

interface TarEntry {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  linkname: string | null;
  uname: string;
  gname: string;
  data: Buffer;
}

async function readTar(buf: Buffer): Promise<TarEntry[]> {
  const extract = tarStream.extract();
  const entries: TarEntry[] = [];
  const done = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(Buffer.from(c as Uint8Array));
      const h = entry.header;
      entries.push({
        name: h.name,
        type: h.type,
        mode: h.mode,
        uid: h.uid,
        gid: h.gid,
        mtime: h.mtime.getTime(),
        linkname: h.linkname,
        uname: h.uname,
        gname: h.gname,
        data: Buffer.concat(chunks),
      });
    }
  })();
  extract.end(buf);
  await done;
  return entries;
}

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string };
}

async function readBlob(layoutDir: string, d: Descriptor): Promise<Buffer> {
  assert.match(d.digest, /^sha256:[0-9a-f]{64}$/);
  const data = await readFile(path.join(layoutDir, "blobs", "sha256", d.digest.slice(7)));
  assert.equal(sha256(data), d.digest, `blob ${d.digest} content hash`);
  assert.equal(data.length, d.size, `blob ${d.digest} size`);
  return data;
}

const tmpDirs: string[] = [];
let first: BuiltImage[];
let second: BuiltImage[];

before(async () => {
  for (let i = 0; i < 2; i++) tmpDirs.push(await mkdtemp(path.join(os.tmpdir(), "berth-images-test-")));
  first = await buildTestImages(tmpDirs[0] as string);
  second = await buildTestImages(tmpDirs[1] as string);
});

after(async () => {
  for (const d of tmpDirs) await rm(d, { recursive: true, force: true });
});

function byName(images: BuiltImage[], name: string): BuiltImage {
  const img = images.find((i) => i.name === name);
  assert.ok(img, `image ${name} built`);
  return img;
}

test("builds busybox:latest and pause:3.9", () => {
  assert.deepEqual(first.map((i) => i.ref).sort(), ["busybox:latest", "pause:3.9"]);
  for (const img of first) {
    assert.equal(img.layoutDir, path.join(tmpDirs[0] as string, img.name));
    assert.equal(img.archivePath, path.join(tmpDirs[0] as string, `${img.name}.oci.tar`));
    assert.equal(img.layerDigests.length, 1);
    assert.equal(img.diffIds.length, 1);
    assert.ok(img.size > img.manifestSize);
  }
  assert.equal(byName(first, "busybox").repository, "library/busybox");
  assert.equal(byName(first, "pause").repository, "berth/pause");
});

test("two builds give identical digests and identical files", async () => {
  const strip = (i: BuiltImage) => ({ ...i, layoutDir: undefined, archivePath: undefined });
  assert.deepEqual(first.map(strip), second.map(strip));
  for (const [a, b] of first.map((img, i) => [img, second[i] as BuiltImage] as const)) {
    assert.ok(
      (await readFile(a.archivePath)).equals(await readFile(b.archivePath)),
      `${a.ref} archive bytes`,
    );
    for (const f of ["index.json", "oci-layout"]) {
      assert.ok(
        (await readFile(path.join(a.layoutDir, f))).equals(await readFile(path.join(b.layoutDir, f))),
      );
    }
  }
});

test("rebuilding into the same dir is a no-op with the same digests", async () => {
  const again = await buildTestImages(tmpDirs[0] as string);
  assert.deepEqual(again, first);
  const blobs = await readdir(path.join(byName(first, "busybox").layoutDir, "blobs", "sha256"));
  assert.equal(blobs.length, 3, "manifest, config and one layer; no leftovers");
});

for (const name of ["busybox", "pause"]) {
  test(`${name}: OCI layout is valid and the archive holds the same layout`, async () => {
    const img = byName(first, name);
    const layout = JSON.parse(await readFile(path.join(img.layoutDir, "oci-layout"), "utf8"));
    assert.deepEqual(layout, { imageLayoutVersion: "1.0.0" });

    const index = JSON.parse(await readFile(path.join(img.layoutDir, "index.json"), "utf8"));
    assert.equal(index.schemaVersion, 2);
    assert.equal(index.mediaType, MEDIA_TYPE_INDEX);
    assert.equal(index.manifests.length, 1);
    const md = index.manifests[0] as Descriptor;
    assert.equal(md.mediaType, MEDIA_TYPE_MANIFEST);
    assert.equal(md.digest, img.manifestDigest);
    assert.equal(md.size, img.manifestSize);
    assert.deepEqual(md.platform, { architecture: "amd64", os: "linux" });
    assert.equal(md.annotations?.[ANNOTATION_REF_NAME], img.ref);
    assert.equal(md.annotations?.[ANNOTATION_CONTAINERD_NAME], img.containerdName);
    assert.match(img.containerdName, new RegExp(`/${img.repository}:${img.tag}$`));

    const manifest = JSON.parse((await readBlob(img.layoutDir, md)).toString("utf8"));
    assert.equal(manifest.schemaVersion, 2);
    assert.equal(manifest.mediaType, MEDIA_TYPE_MANIFEST);
    assert.equal(manifest.config.mediaType, MEDIA_TYPE_CONFIG);
    assert.equal(manifest.config.digest, img.configDigest);
    const config = JSON.parse((await readBlob(img.layoutDir, manifest.config)).toString("utf8"));
    assert.equal(config.architecture, "amd64");
    assert.equal(config.os, "linux");
    assert.equal(config.created, "1970-01-01T00:00:00Z");
    assert.equal(config.rootfs.type, "layers");
    assert.deepEqual(config.rootfs.diff_ids, img.diffIds);

    let total = md.size + manifest.config.size;
    assert.deepEqual(
      manifest.layers.map((l: Descriptor) => l.digest),
      img.layerDigests,
    );
    for (const [i, l] of (manifest.layers as Descriptor[]).entries()) {
      assert.equal(l.mediaType, MEDIA_TYPE_LAYER_GZIP);
      const gz = await readBlob(img.layoutDir, l);
      assert.equal(gz.readUInt32LE(4), 0, "gzip header mtime is 0");
      assert.equal(sha256(gunzipSync(gz)), config.rootfs.diff_ids[i], "diff_id = sha256(uncompressed layer)");
      total += l.size;
    }
    assert.equal(total, img.size);

    // The archive is exactly the layout's files.
    const archive = await readTar(await readFile(img.archivePath));
    const files = archive.filter((e) => e.type === "file");
    const expected = ["oci-layout", "index.json", ...[md.digest, manifest.config.digest, ...img.layerDigests]]
      .map((f) => (f.startsWith("sha256:") ? `blobs/sha256/${f.slice(7)}` : f))
      .sort();
    assert.deepEqual(files.map((e) => e.name).sort(), expected);
    for (const e of files) {
      assert.ok(e.data.equals(await readFile(path.join(img.layoutDir, e.name))), `archive ${e.name}`);
    }
  });
}

async function layerEntries(img: BuiltImage): Promise<TarEntry[]> {
  const digest = img.layerDigests[0] as string;
  const gz = await readFile(path.join(img.layoutDir, "blobs", "sha256", digest.slice(7)));
  return readTar(gunzipSync(gz));
}

test("busybox layer: sh linked to busybox, /etc/passwd, dirs, deterministic headers", async () => {
  const img = byName(first, "busybox");
  const entries = await layerEntries(img);
  const get = (name: string) => {
    const e = entries.find((x) => x.name === name);
    assert.ok(e, `${name} in layer`);
    return e;
  };
  const busybox = get("bin/busybox");
  assert.equal(busybox.type, "file");
  assert.equal(busybox.mode, 0o755);
  assert.ok(busybox.data.equals(await readFile("/bin/busybox")));
  const sh = get("bin/sh");
  assert.equal(sh.type, "link");
  assert.equal(sh.linkname, "bin/busybox");
  assert.ok(
    entries.findIndex((e) => e.name === "bin/busybox") < entries.findIndex((e) => e.name === "bin/sh"),
    "hard link target precedes the link",
  );
  for (const applet of ["bin/ls", "bin/cat", "usr/bin/id", "bin/sleep"]) {
    assert.equal(get(applet).linkname, "bin/busybox", applet);
  }

  const passwd = get("etc/passwd").data.toString("utf8").split("\n");
  assert.ok(passwd.includes("root:x:0:0:root:/root:/bin/sh"));
  assert.ok(passwd.some((l) => l.startsWith("berth:x:1000:1000:")));
  assert.ok(passwd.some((l) => l.startsWith("nobody:x:65534:65534:")));
  const group = get("etc/group").data.toString("utf8").split("\n");
  assert.ok(group.includes("root:x:0:"));
  assert.ok(group.includes("berth:x:1000:"));

  assert.equal(get("tmp/").mode, 0o1777);
  assert.equal(get("tmp/").type, "directory");
  for (const d of ["root/", "home/", "proc/", "sys/", "dev/", "etc/", "var/", "usr/bin/", "sbin/"]) {
    assert.equal(get(d).type, "directory", d);
  }
  assert.equal(get("home/berth/").uid, 1000);

  const names = entries.map((e) => e.name);
  assert.equal(new Set(names).size, names.length, "no duplicate entries");
  for (const e of entries) {
    assert.equal(e.mtime, 0, `${e.name} mtime`);
    assert.equal(e.uname, "", `${e.name} uname`);
    assert.equal(e.gname, "", `${e.name} gname`);
    assert.ok(!e.name.startsWith("/") && !e.name.startsWith("./"), e.name);
  }

  const config = JSON.parse(
    (await readFile(path.join(img.layoutDir, "blobs", "sha256", img.configDigest.slice(7)))).toString("utf8"),
  );
  assert.deepEqual(config.config.Cmd, ["sh"]);
  assert.deepEqual(config.config.Env, ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]);
});

test("pause layer: static catatonit at /catatonit, entrypoint catatonit -P", async () => {
  const img = byName(first, "pause");
  const entries = await layerEntries(img);
  assert.deepEqual(
    entries.map((e) => [e.name, e.type, e.mode]),
    [["catatonit", "file", 0o755]],
  );
  assert.ok(entries[0]?.data.equals(await readFile("/usr/bin/catatonit")));
  const config = JSON.parse(
    (await readFile(path.join(img.layoutDir, "blobs", "sha256", img.configDigest.slice(7)))).toString("utf8"),
  );
  assert.deepEqual(config.config.Entrypoint, ["/catatonit", "-P"]);
  assert.equal(config.config.User, "65535:65535");
});

test("buildTar adds parents, orders dirs/files/links and rejects bad input", async () => {
  const tar = await buildTar([
    { kind: "hardlink", path: "a/link", target: "z/file" },
    { kind: "file", path: "/z/file", mode: 0o600, data: Buffer.from("x") },
    { kind: "symlink", path: "a/sym", target: "../z/file" },
  ]);
  const entries = await readTar(tar);
  assert.deepEqual(
    entries.map((e) => [e.name, e.type]),
    [
      ["a/", "directory"],
      ["z/", "directory"],
      ["z/file", "file"],
      ["a/sym", "symlink"],
      ["a/link", "link"],
    ],
  );
  await assert.rejects(buildTar([{ kind: "hardlink", path: "l", target: "missing" }]), /not a file/);
  await assert.rejects(
    buildTar([
      { kind: "dir", path: "d", mode: 0o755 },
      { kind: "dir", path: "d/", mode: 0o700 },
    ]),
    /duplicate/,
  );
  await assert.rejects(buildTar([{ kind: "dir", path: "../x", mode: 0o755 }]), /invalid layer path/);
});
