import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { setImmediate as tick } from "node:timers/promises";
import { MetadataDb } from "../core/metadata/db.js";
import { GcLock, gcLock } from "./gc-lock.js";

test("a collection waits for writers, and writers wait for a running collection", async () => {
  const lock = new GcLock();
  const events: string[] = [];
  let releaseWriter = () => {};
  const writer = lock.shared(
    () =>
      new Promise<void>((resolve) => {
        events.push("write start");
        releaseWriter = () => {
          events.push("write end");
          resolve();
        };
      }),
  );
  await tick();
  const gc = lock.exclusive(async () => {
    events.push("gc start");
    await tick();
    events.push("gc end");
  });
  await tick();
  assert.deepEqual(events, ["write start"]);
  releaseWriter();
  await writer;
  await tick();
  const late = lock.shared(() => events.push("late write"));
  await Promise.all([gc, late]);
  assert.deepEqual(events, ["write start", "write end", "gc start", "gc end", "late write"]);
});

test("shared holds nest while a collection is queued", async () => {
  const lock = new GcLock();
  const order: string[] = [];
  let gc: Promise<void> | undefined;
  await lock.shared(async () => {
    gc = lock.exclusive(() => void order.push("gc"));
    await tick();
    await lock.shared(() => order.push("nested"));
  });
  await gc;
  assert.deepEqual(order, ["nested", "gc"]);
});

test("a lock's throw releases it", async () => {
  const lock = new GcLock();
  await assert.rejects(
    lock.exclusive(() => {
      throw new Error("boom");
    }),
    /boom/,
  );
  assert.equal(await lock.shared(() => "free"), "free");
});

test("every user of one metadata database gets the same lock", async () => {
  const dir = await mkdtemp(join(tmpdir(), "berth-gclock-"));
  const a = await MetadataDb.open(join(dir, "a.lmdb"));
  const b = await MetadataDb.open(join(dir, "b.lmdb"));
  assert.equal(gcLock(a), gcLock(a));
  assert.notEqual(gcLock(a), gcLock(b));
  await a.close();
  await b.close();
  await rm(dir, { recursive: true, force: true });
});
