// Monitors outlive the daemon: a container created by a process that then exits keeps its
// conmon, and a new shim on the same directories (the daemon after a restart) finds it
// running, created, or exited with its real exit code; a monitor that died without
// recording the exit yields exit 255 and reason Unknown, as containerd reports it.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { kindOf } from "../src/lib/errdefs.js";
import { exitReason } from "../src/shim/process-state.js";
import { ConmonTestEnv } from "../src/testenv/conmon-test-env.js";

const exec = promisify(execFile);
let env: ConmonTestEnv;

before(async () => {
  env = await ConmonTestEnv.start();
});

after(async () => {
  await env?.close();
});

/** A module of the same build as this test, for the child to import. */
const moduleUrl = (rel: string) => new URL(rel, import.meta.url).href;

/** Creates (and starts, unless told not to) `id` from a separate node process, which then exits. */
async function createFromAnotherProcess(id: string, args: string[], start = true) {
  const bundle = await env.bundle(id, args);
  const script = `
    import { ConmonShim } from ${JSON.stringify(moduleUrl("../src/shim/conmon-shim.js"))};
    import { newLogger } from ${JSON.stringify(moduleUrl("../src/lib/log.js"))};
    const [stateDir, runcRoot, id, bundle, logPath, start] = process.argv.slice(1);
    const shim = new ConmonShim({ stateDir, runcRoot, log: newLogger("error") });
    const created = await shim.create({ id, bundle, logPath });
    if (start === "start") await shim.start(id);
    console.log(JSON.stringify({ pid: created.pid, monitor: shim.monitorPid(id) }));`;
  const { stdout } = await exec(process.execPath, [
    ...["--input-type=module", "-e", script],
    ...[env.stateDir, env.runcRoot, id, bundle, env.logPath(id), start ? "start" : "create"],
  ]);
  return JSON.parse(stdout) as { pid: number; monitor: number };
}

async function isConmon(pid: number): Promise<boolean> {
  const argv = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
  return argv.split("\0")[0]?.endsWith("conmon") ?? false;
}

test("the monitor outlives the process that started it, and a new shim recovers the running container", async () => {
  const id = "survivor";
  const { pid, monitor } = await createFromAnotherProcess(id, ["sleep", "1000"]);
  assert.ok(await isConmon(monitor), "conmon is still running");
  assert.equal((await env.runc.state(id)).status, "running");

  const shim = env.newShim();
  await assert.rejects(shim.state(id), (err) => kindOf(err) === "NotFound");
  const state = await shim.recover(id);
  assert.equal(state.status, "running");
  assert.equal(state.pid, pid);
  assert.equal(shim.monitorPid(id), monitor);
  const r = await shim.execSync(id, { args: ["echo", "still here"], timeout: 5 });
  assert.equal(r.stdout.toString(), "still here\n");

  await shim.kill(id, "SIGKILL");
  const exit = await shim.wait(id);
  assert.equal(exit.exitCode, 137);
  assert.equal(exit.monitorLost, undefined);
  await shim.delete(id);
  await env.assertNothingLeft();
});

test("a container created but not started is recovered as created, and deleting it kills it", async () => {
  const id = "unstarted";
  const { pid } = await createFromAnotherProcess(id, ["sleep", "1000"], false);
  const shim = env.newShim();
  assert.deepEqual(await shim.recover(id), {
    status: "created",
    pid,
    createdAt: (await shim.state(id)).createdAt,
  });
  await shim.delete(id);
  await env.assertNothingLeft();
});

test("a container that exited while no daemon ran has its real exit code and time", async () => {
  const id = "exited";
  const before = Date.now();
  const { monitor } = await createFromAnotherProcess(id, ["sh", "-c", "sleep 0.5; exit 9"]);
  while (await isConmon(monitor)) await sleep(50);

  const shim = env.newShim();
  const state = await shim.recover(id);
  assert.equal(state.status, "stopped");
  assert.ok(state.status === "stopped");
  assert.equal(state.exit.exitCode, 9);
  assert.equal(state.exit.monitorLost, undefined);
  assert.ok(state.exit.exitedAt.getTime() >= before + 500 && state.exit.exitedAt.getTime() <= Date.now());
  assert.equal(exitReason(state.exit), "Error");
  await shim.delete(id);
  await env.assertNothingLeft();
  await assert.rejects(shim.recover(id), (err) => kindOf(err) === "NotFound");
});

test("a monitor killed before it recorded the exit: exit 255, reason Unknown, the container killed", async () => {
  const id = "orphan";
  await env.run(id, ["sleep", "1000"]);
  process.kill(env.shim.monitorPid(id), "SIGKILL");
  const exit = await env.shim.wait(id);
  assert.equal(exit.monitorLost, true);
  assert.equal(exit.exitCode, 255);
  assert.equal(exitReason(exit), "Unknown");
  assert.equal((await env.runc.state(id)).status, "stopped");
  await env.shim.delete(id);
  await env.assertNothingLeft();
});
