// The runc wrapper against the real runc: a busybox container through its whole life
// (create, start, state, list, ps, exec, update, kill, delete), and runc's failures turned
// into error kinds. Everything made (containers, cgroups, files) is removed and checked.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { kindOf } from "../src/lib/errdefs.js";
import { Runc } from "../src/runc/runc.js";
import { bundleSpec, unpackBusybox, writeBundle } from "../src/testenv/busybox-bundle.js";
import { existingCgroups, removeCgroup } from "../src/testenv/cgroups.js";

const cgroupParent = `/berth-test-runc-${process.pid}`;
let dir: string;
let rootfs: string;
let runc: Runc;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "berth-runc-"));
  rootfs = await unpackBusybox(join(dir, "rootfs"));
  runc = new Runc({ root: join(dir, "runc") });
});

after(async () => {
  for (const c of await runc.list()) await runc.delete(c.id, { force: true });
  assert.deepEqual(await runc.list(), []);
  await removeCgroup(cgroupParent);
  assert.deepEqual(await existingCgroups(cgroupParent), []);
  await rm(dir, { recursive: true, force: true });
});

async function bundle(id: string, args: string[]): Promise<string> {
  return writeBundle(join(dir, id), bundleSpec({ args, rootfs, cgroupsPath: `${cgroupParent}/${id}` }));
}

async function stopped(id: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if ((await runc.state(id)).status === "stopped") return;
    await sleep(50);
  }
  assert.fail(`container ${id} did not stop`);
}

test("a container goes through create, start, exec, update, kill and delete", async () => {
  const b = await bundle("life", ["sleep", "1000"]);
  const pidFile = join(dir, "life.pid");
  await runc.create("life", b, { pidFile });
  const created = await runc.state("life");
  assert.equal(created.status, "created");
  assert.equal(created.bundle, b);
  assert.equal(created.pid, Number(await readFile(pidFile, "utf8")));
  assert.ok(Math.abs(created.created.getTime() - Date.now()) < 60_000);
  assert.deepEqual(
    (await runc.list()).map((c) => [c.id, c.status]),
    [["life", "created"]],
  );

  await runc.start("life");
  assert.equal((await runc.state("life")).status, "running");
  assert.deepEqual(await runc.ps("life"), [created.pid]);

  const spec = bundleSpec({ args: ["sh", "-c", "exit 5"], rootfs, cgroupsPath: "" }).process;
  assert.ok(spec);
  assert.equal(await runc.exec("life", spec), 5);
  const execPid = join(dir, "exec.pid");
  assert.equal(
    await runc.exec("life", { ...spec, args: ["sleep", "1000"] }, { detach: true, pidFile: execPid }),
    0,
  );
  const sleeper = Number(await readFile(execPid, "utf8"));
  assert.deepEqual((await runc.ps("life")).sort(), [created.pid, sleeper].sort());

  await runc.update("life", { memory: { limit: 64 << 20 }, pids: { limit: 20 } });
  const cg = `/sys/fs/cgroup/%s${cgroupParent}/life`;
  assert.equal(
    (await readFile(`${cg.replace("%s", "memory")}/memory.limit_in_bytes`, "utf8")).trim(),
    `${64 << 20}`,
  );
  assert.equal((await readFile(`${cg.replace("%s", "pids")}/pids.max`, "utf8")).trim(), "20");

  await runc.kill("life", "SIGKILL", { all: true });
  await stopped("life");
  assert.equal((await runc.state("life")).pid, 0);
  await runc.delete("life");
  await assert.rejects(runc.state("life"), (err) => kindOf(err) === "NotFound");
  assert.deepEqual(await existingCgroups(`${cgroupParent}/life`), []);
});

test("runc's failures become error kinds with runc's message", async () => {
  const missing = (err: unknown) =>
    kindOf(err) === "NotFound" && /container does not exist/.test(String(err));
  await assert.rejects(runc.state("nope"), missing);
  await assert.rejects(runc.kill("nope", "SIGTERM"), missing);
  await assert.rejects(runc.delete("nope"), missing);
  await assert.rejects(runc.start("nope"), missing);

  const b = await bundle("errs", ["sleep", "1000"]);
  await runc.create("errs", b);
  await assert.rejects(runc.create("errs", b), (err) => {
    assert.equal(kindOf(err), "AlreadyExists");
    assert.match(String(err), /failed to create container "errs": .*container with given ID already exists/);
    return true;
  });
  await runc.start("errs");
  await assert.rejects(runc.start("errs"), (err) => kindOf(err) === "FailedPrecondition");
  await assert.rejects(runc.delete("errs"), (err) => kindOf(err) === "FailedPrecondition");
  const spec = bundleSpec({ args: ["no-such-binary"], rootfs, cgroupsPath: "" }).process;
  assert.ok(spec);
  await assert.rejects(runc.exec("errs", spec), /executable file not found/);

  await runc.kill("errs", "SIGKILL");
  await stopped("errs");
  await assert.rejects(runc.kill("errs", "SIGKILL"), (err) => kindOf(err) === "NotFound");
  await assert.rejects(runc.update("errs", { pids: { limit: 5 } }), (err) => kindOf(err) === "NotFound");
  await runc.delete("errs");

  await assert.rejects(
    runc.create("nobundle", join(dir, "missing")),
    /failed to create container "nobundle"/,
  );
  assert.deepEqual(await runc.list(), []);
});
