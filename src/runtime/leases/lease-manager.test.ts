import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, test } from "node:test";
import { LabelGCExpire } from "../core/labels.js";
import type { LeaseResource } from "../core/leases/leases.js";
import { MetadataDb } from "../core/metadata/db.js";
import { leaseExpiry, MetadataLeaseManager } from "./lease-manager.js";

const ns = "k8s.io";
const layer: LeaseResource = { type: "content", id: `sha256:${"1".repeat(64)}` };
const ingest: LeaseResource = { type: "ingests", id: "layer-1" };
const snapshot: LeaseResource = { type: "snapshots/overlayfs", id: "extract-1 sha256:x" };

let dir: string;
let db: MetadataDb;
let leases: MetadataLeaseManager;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "berth-leases-"));
  db = await MetadataDb.open(join(dir, "meta.lmdb"));
  leases = new MetadataLeaseManager(db);
});
afterEach(async () => {
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

test("a lease holds resources until it is deleted; ids with a common prefix stay apart", async () => {
  const l1 = await leases.create(ns, { id: "l1", labels: { owner: "pull" } });
  await leases.create(ns, { id: "l10" });
  await leases.addResource(ns, "l1", layer, ingest);
  await leases.addResource(ns, "l1", snapshot);
  await leases.addResource(ns, "l1", layer);
  await leases.addResource(ns, "l10", { type: "ingests", id: "other" });
  // Several at once go in together or not at all.
  await assert.rejects(
    leases.addResource(ns, "l10", { type: "ingests", id: "fine" }, { type: "content", id: "sha256:nope" }),
    { kind: "InvalidArgument" },
  );

  assert.deepEqual(l1.labels, { owner: "pull" });
  assert.deepEqual(
    (await leases.list(ns)).map((l) => l.id),
    ["l1", "l10"],
  );
  assert.deepEqual(await leases.listResources(ns, "l1"), [layer, ingest, snapshot]);
  await leases.deleteResource(ns, "l1", ingest);
  await leases.deleteResource(ns, "l1", ingest);
  assert.deepEqual(await leases.listResources(ns, "l1"), [layer, snapshot]);

  await leases.delete(ns, "l1");
  assert.deepEqual(
    (await leases.list(ns)).map((l) => l.id),
    ["l10"],
  );
  assert.deepEqual(await leases.listResources(ns, "l10"), [{ type: "ingests", id: "other" }]);
  assert.deepEqual([...db.bucket("leaseResources").getKeys()].length, 1);
  await assert.rejects(leases.listResources(ns, "l1"), { kind: "NotFound" });
  await assert.rejects(leases.addResource(ns, "l1", layer), { kind: "NotFound" });
  await assert.rejects(leases.deleteResource(ns, "l1", layer), { kind: "NotFound" });
  await assert.rejects(leases.delete(ns, "l1"), { kind: "NotFound" });
});

test("ids are random when not given, unique per namespace, and validated", async () => {
  const a = await leases.create(ns, {});
  const b = await leases.create(ns, {});
  assert.match(a.id, /^[0-9a-f]{24}$/);
  assert.notEqual(a.id, b.id);
  await leases.create(ns, { id: "pull-1.x_y" });
  await leases.create("default", { id: "pull-1.x_y" });
  await assert.rejects(leases.create(ns, { id: "pull-1.x_y" }), { kind: "AlreadyExists" });
  for (const id of ["", "-lead", "trail.", "a..b", "sp ace", "a/b", "x".repeat(77)]) {
    await assert.rejects(leases.create(ns, { id }), { kind: "InvalidArgument" }, JSON.stringify(id));
  }
});

test("an expiry is kept as containerd's gc.expire label", async () => {
  const expireAt = new Date("2030-01-02T03:04:05.000Z");
  const lease = await leases.create(ns, { id: "exp", expireAt });
  assert.equal(lease.labels[LabelGCExpire], "2030-01-02T03:04:05.000Z");
  const [listed] = await leases.list(ns);
  assert.equal(leaseExpiry(listed ?? { labels: {} })?.getTime(), expireAt.getTime());
  assert.equal(leaseExpiry({ labels: {} }), undefined);
  assert.equal(leaseExpiry({ labels: { [LabelGCExpire]: "soon" } }), undefined);
});

test("resources of unknown types or with bad ids are refused", async () => {
  await leases.create(ns, { id: "l" });
  const bad: LeaseResource[] = [
    { type: "content", id: "sha256:short" },
    { type: "ingests", id: "" },
    { type: "snapshots/", id: "k" } as LeaseResource,
    { type: "snapshots/a/b", id: "k" },
    { type: "containers", id: "c" } as unknown as LeaseResource,
  ];
  for (const r of bad) {
    await assert.rejects(leases.addResource(ns, "l", r), { kind: "InvalidArgument" }, JSON.stringify(r));
  }
  assert.deepEqual(await leases.listResources(ns, "l"), []);
});
