// kill -9 of a process writing content at any moment, then a restart: the store is
// consistent, the ingest resumes, a repeated pull completes, and GC leaves no orphan.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { afterEach, beforeEach, test } from "node:test";
import { fileURLToPath } from "node:url";
import { newLogger } from "../src/lib/log.js";
import { fromBytes } from "../src/lib/reference/digest.js";
import { GarbageCollector } from "../src/runtime/gc/gc.js";
import { blobSize, ingestRef, leaseId, ns, openStores, payload } from "./support/content-writer-child.js";

const child = join(dirname(fileURLToPath(import.meta.url)), "support", "content-writer-child.js");
const log = newLogger("error");

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "berth-content-crash-"));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Starts the writer; `onLine` sees each line it prints and may kill it. */
function run(args: string[], onLine: (line: string, proc: ChildProcess) => void) {
  const proc = spawn(process.execPath, [child, ...args], { stdio: ["ignore", "pipe", "inherit"] });
  createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on("line", (line) => onLine(line, proc));
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    proc.on("error", reject);
    proc.on("exit", (code, signal) => resolve({ code, signal }));
  });
}

/** Reopens the store as a restarted daemon would, runs start-up GC and checks every invariant. */
async function restartAndCheck() {
  const stores = await openStores(root);
  const { db, content } = stores;
  const gc = new GarbageCollector({ db, content, log });
  await gc.collect({ startup: true });
  const records = await content.list(ns);
  for (const info of records) {
    const data = await content.readBlob(ns, info.digest);
    assert.equal(data.length, info.size);
    assert.equal(fromBytes(data), info.digest);
  }
  const files = await readdir(join(root, "content", "blobs", "sha256"));
  assert.deepEqual(
    files.sort(),
    records.map((i) => i.digest.slice(7)).sort(),
    "every blob file has a record",
  );
  for (const s of await content.listStatuses(ns))
    assert.ok(s.offset <= s.total, `ingest ${s.ref} within its size`);
  assert.equal(
    (await readdir(join(root, "content", "ingest"))).length,
    (await content.listStatuses(ns)).length,
  );
  return { ...stores, gc };
}

test("an ingest killed mid-write resumes after a restart and commits", async () => {
  const size = 16 * 1024 * 1024;
  const data = payload(size);
  const exit = await run(["ingest", root, String(size)], (line, proc) => {
    if (Number(line.split(" ")[1]) >= 1024 * 1024) proc.kill("SIGKILL");
  });
  assert.equal(exit.signal, "SIGKILL");

  const { db, content, leases, gc } = await restartAndCheck();
  const status = await content.status(ns, ingestRef);
  assert.ok(status.offset >= 1024 * 1024 && status.offset < size, `offset ${status.offset}`);
  assert.equal(status.total, size);
  const w = await content.writer(ns, { ref: ingestRef, expected: { digest: fromBytes(data), size } });
  assert.equal(w.offset, status.offset);
  await w.write(data.subarray(w.offset));
  await w.commit(size, fromBytes(data));
  assert.equal((await content.info(ns, fromBytes(data))).size, size);

  await leases.delete(ns, leaseId);
  const freed = await gc.collect();
  assert.deepEqual([freed.contentRecords, freed.blobs, freed.bytesFreed], [1, 1, size]);
  assert.deepEqual(await readdir(join(root, "content", "blobs", "sha256")), []);
  assert.deepEqual(await readdir(join(root, "content", "ingest")), []);
  await db.close();
});

test("kills at random moments of a pull leave a consistent store, and the repeated pull completes", async () => {
  const count = 12;
  for (let round = 0; round < 5; round++) {
    // Past a random number of commits, and a random moment after it: mid-write, mid-commit or between.
    const after = Math.floor(Math.random() * count);
    let seen = 0;
    const exit = await run(["pull", root, String(count)], (_line, proc) => {
      if (seen++ === after) setTimeout(() => proc.kill("SIGKILL"), Math.random() * 8);
    });
    assert.ok(exit.signal === "SIGKILL" || exit.code === 0, JSON.stringify(exit));
    const { db } = await restartAndCheck();
    await db.close();
  }

  assert.deepEqual(await run(["pull", root, String(count)], () => {}), { code: 0, signal: null });
  const { db, content, leases, gc } = await restartAndCheck();
  for (let i = 0; i < count; i++) {
    assert.equal((await content.info(ns, fromBytes(payload(blobSize, i)))).size, blobSize);
  }
  await leases.delete(ns, leaseId);
  await gc.collect();
  assert.deepEqual(await content.list(ns), []);
  assert.deepEqual(await readdir(join(root, "content", "blobs", "sha256")), []);
  assert.deepEqual(await readdir(join(root, "content", "ingest")), []);
  await db.close();
});
