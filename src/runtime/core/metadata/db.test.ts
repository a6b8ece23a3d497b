import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, test } from "node:test";
import { MetadataDb, SchemaVersion } from "./db.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "berth-metadata-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

test("a new database is at the current schema version, and migrations run once", async () => {
  let runs = 0;
  const migration = { version: SchemaVersion, name: "seed", migrate: () => void runs++ };
  const db = await MetadataDb.open(join(dir, "meta.lmdb"), [migration]);
  assert.equal(db.schemaVersion, SchemaVersion);
  await db.close();
  const again = await MetadataDb.open(join(dir, "meta.lmdb"), [migration]);
  await again.close();
  assert.equal(runs, 1);
});

test("namespaces are separate key ranges and survive a reopen", async () => {
  const path = join(dir, "meta.lmdb");
  const db = await MetadataDb.open(path);
  const images = db.bucket<{ target: string }>("images");
  await db.transaction(() => {
    images.put(["k8s.io", "b"], { target: "sha256:b" });
    images.put(["k8s.io", "a"], { target: "sha256:a" });
    images.put(["default", "a"], { target: "sha256:x" });
    images.put(["k8s.io2", "a"], { target: "sha256:y" });
  });
  await db.close();
  const reopened = await MetadataDb.open(path);
  const listed = reopened.listNamespace(reopened.bucket<{ target: string }>("images"), "k8s.io");
  assert.deepEqual(
    listed.map((e) => [e.key[1], e.value.target]),
    [
      ["a", "sha256:a"],
      ["b", "sha256:b"],
    ],
  );
  assert.deepEqual(reopened.namespaces(), ["default", "k8s.io", "k8s.io2"]);
  await reopened.close();
});

test("a transaction that throws writes nothing", async () => {
  const db = await MetadataDb.open(join(dir, "meta.lmdb"));
  const images = db.bucket<string>("images");
  await assert.rejects(
    db.transaction(() => {
      images.put(["ns", "half"], "x");
      throw new Error("boom");
    }),
    /boom/,
  );
  assert.equal(images.get(["ns", "half"]), undefined);
  await db.close();
});

test("a database from a newer berth is refused", async () => {
  const path = join(dir, "meta.lmdb");
  const { open } = await import("lmdb");
  const raw = open({ path, compression: false });
  await raw.put("schemaVersion", SchemaVersion + 1);
  await raw.close();
  await assert.rejects(MetadataDb.open(path), /schema version 2, newer than this berth's 1/);
});
