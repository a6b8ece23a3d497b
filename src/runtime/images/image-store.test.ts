import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, test } from "node:test";
import type { Image } from "../core/images/image.js";
import { MetadataDb } from "../core/metadata/db.js";
import { MetadataImageStore } from "./image-store.js";

const ns = "k8s.io";
const digest = `sha256:${"a".repeat(64)}`;
const index = "application/vnd.oci.image.index.v1+json";
const busybox: Omit<Image, "createdAt" | "updatedAt"> = {
  name: "docker.io/library/busybox:1.36",
  target: { mediaType: index, digest, size: 1234 },
  labels: { "io.cri-containerd.image": "managed" },
};

let dir: string;
let db: MetadataDb;
let images: MetadataImageStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "berth-images-"));
  db = await MetadataDb.open(join(dir, "meta.lmdb"));
  images = new MetadataImageStore(db);
});
afterEach(async () => {
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

test("create, get, list, update and delete an image, per namespace", async () => {
  const created = await images.create(ns, busybox);
  assert.deepEqual({ name: created.name, target: created.target, labels: created.labels }, busybox);
  assert.deepEqual(await images.get(ns, busybox.name), created);
  assert.deepEqual(
    (await images.list(ns)).map((i) => i.name),
    [busybox.name],
  );
  assert.deepEqual(await images.list("default"), []);
  await assert.rejects(images.create(ns, busybox), { kind: "AlreadyExists" });
  await images.create("default", busybox);

  const retagged = { ...busybox, target: { ...busybox.target, digest: `sha256:${"b".repeat(64)}` } };
  const updated = await images.update(ns, retagged);
  assert.equal(updated.target.digest, retagged.target.digest);
  assert.equal(updated.createdAt.getTime(), created.createdAt.getTime());
  assert.ok(updated.updatedAt >= created.updatedAt);
  assert.equal((await images.get("default", busybox.name)).target.digest, digest);

  await images.delete(ns, busybox.name);
  await assert.rejects(images.get(ns, busybox.name), { kind: "NotFound" });
  await assert.rejects(images.delete(ns, busybox.name), { kind: "NotFound" });
  await assert.rejects(images.update(ns, busybox), { kind: "NotFound" });
  assert.equal((await images.list("default")).length, 1);
});

test("an update with field paths changes only those fields", async () => {
  await images.create(ns, busybox);
  const other = {
    name: busybox.name,
    target: { mediaType: index, digest: `sha256:${"c".repeat(64)}`, size: 1, annotations: { a: "1" } },
    labels: { new: "label" },
  };
  const cases: {
    fieldpaths: string[];
    want: Pick<Image, "labels"> & { digest: string; annotations?: object };
  }[] = [
    { fieldpaths: ["labels.new"], want: { digest, labels: { ...busybox.labels, new: "label" } } },
    {
      fieldpaths: ["annotations"],
      want: { digest, annotations: { a: "1" }, labels: { ...busybox.labels, new: "label" } },
    },
    {
      fieldpaths: ["target", "labels"],
      want: { digest: other.target.digest, annotations: { a: "1" }, labels: { new: "label" } },
    },
  ];
  for (const { fieldpaths, want } of cases) {
    const got = await images.update(ns, other, fieldpaths);
    assert.deepEqual(
      { digest: got.target.digest, annotations: got.target.annotations, labels: got.labels },
      { annotations: undefined, ...want },
      fieldpaths.join(","),
    );
  }
  await assert.rejects(images.update(ns, other, ["name"]), { kind: "InvalidArgument" });
});

test("invalid images are refused with InvalidArgument", async () => {
  const cases: { name: string; image: Omit<Image, "createdAt" | "updatedAt">; message: RegExp }[] = [
    { name: "empty name", image: { ...busybox, name: "" }, message: /name must not be empty/ },
    {
      name: "digest without algorithm",
      image: { ...busybox, target: { ...busybox.target, digest: "a".repeat(64) } },
      message: /is not a sha256 digest/,
    },
    {
      name: "short digest",
      image: { ...busybox, target: { ...busybox.target, digest: "sha256:abc" } },
      message: /is not a sha256 digest/,
    },
    {
      name: "upper-case digest",
      image: { ...busybox, target: { ...busybox.target, digest: `sha256:${"A".repeat(64)}` } },
      message: /is not a sha256 digest/,
    },
    {
      name: "empty media type",
      image: { ...busybox, target: { ...busybox.target, mediaType: "" } },
      message: /media type must not be empty/,
    },
    {
      name: "oversized label",
      image: { ...busybox, labels: { k: "v".repeat(4096) } },
      message: /exceed 4096 bytes/,
    },
  ];
  for (const { name, image, message } of cases) {
    await assert.rejects(images.create(ns, image), { kind: "InvalidArgument", message }, name);
  }
  await images.create(ns, busybox);
  await assert.rejects(
    images.update(ns, { ...busybox, target: { ...busybox.target, mediaType: "" } }, ["target"]),
    { kind: "InvalidArgument" },
  );
  assert.deepEqual(
    (await images.list(ns)).map((i) => i.target.mediaType),
    [index],
  );
});
