// The conmon shim with real conmon, runc and cgroups: the CRI log, exit codes and times,
// OOM kills, signals, exec with timeouts, log reopening, resource updates, failed creates,
// oom_score_adj, and what a monitor costs. Each test removes its containers and checks that
// nothing of them is left: runc containers, conmon processes, shim files, cgroups.
import assert from "node:assert/strict";
import { mkdir, readFile, rename, rmdir, stat } from "node:fs/promises";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { kindOf } from "../src/lib/errdefs.js";
import { newLogger } from "../src/lib/log.js";
import { ConmonShim } from "../src/shim/conmon-shim.js";
import { restrictOomScoreAdj } from "../src/shim/oom-score-adj.js";
import { containerState, exitReason } from "../src/shim/process-state.js";
import { ConmonTestEnv } from "../src/testenv/conmon-test-env.js";

let env: ConmonTestEnv;

before(async () => {
  env = await ConmonTestEnv.start();
});

after(async () => {
  await env?.close();
});

async function until<T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const rfc3339Nano = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d)$/;

function records(log: string) {
  return log
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => {
      const m = /^(\S+) (stdout|stderr) ([PF]) (.*)$/s.exec(l);
      assert.ok(m, `not a CRI log record: ${JSON.stringify(l)}`);
      assert.match(m[1] as string, rfc3339Nano);
      assert.ok(!Number.isNaN(Date.parse(m[1] as string)));
      return { stream: m[2], tag: m[3], message: m[4] };
    });
}

test("stdout and stderr go to the CRI log; exit code 3 and its time are recorded", async () => {
  const id = "exit3";
  const bundle = await env.bundle(id, ["sh", "-c", "echo hello; echo oops >&2; sleep 0.3; exit 3"]);
  const created = await env.shim.create({ id, bundle, logPath: env.logPath(id) });
  assert.equal(created.status, "created");
  assert.equal(created.pid, (await env.runc.state(id)).pid);
  assert.equal(containerState(await env.shim.state(id)), "CONTAINER_CREATED");
  const running = await env.shim.start(id);
  assert.equal(containerState(running), "CONTAINER_RUNNING");

  const exit = await env.shim.wait(id);
  assert.equal(exit.exitCode, 3);
  assert.equal(exit.oomKilled, false);
  assert.ok(exit.exitedAt.getTime() >= running.startedAt.getTime() + 250, "exited after its sleep");
  assert.ok(exit.exitedAt.getTime() <= Date.now());
  const state = await env.shim.state(id);
  assert.equal(state.status, "stopped");
  assert.equal(containerState(state), "CONTAINER_EXITED");
  assert.equal(exitReason(exit), "Error");

  assert.deepEqual(records(await readFile(env.logPath(id), "utf8")), [
    { stream: "stdout", tag: "F", message: "hello" },
    { stream: "stderr", tag: "F", message: "oops" },
  ]);
  await env.shim.delete(id);
  await assert.rejects(env.shim.state(id), (err) => kindOf(err) === "NotFound");
  await env.assertNothingLeft();
});

test("a line longer than conmon's buffer becomes P records and an F record; exit 0 is Completed", async () => {
  const id = "longline";
  await env.run(id, ["sh", "-c", "head -c 20000 /dev/zero | tr '\\0' x; echo; echo short"]);
  const exit = await env.shim.wait(id);
  assert.equal(exitReason(exit), "Completed");
  const recs = records(await readFile(env.logPath(id), "utf8"));
  assert.ok(recs.filter((r) => r.tag === "P").length >= 1, "the long line was split");
  const [last, beforeLast] = [recs.at(-1), recs.at(-2)];
  assert.deepEqual(last, { stream: "stdout", tag: "F", message: "short" });
  assert.equal(beforeLast?.tag, "F");
  assert.equal(
    recs
      .slice(0, -1)
      .map((r) => r.message)
      .join(""),
    "x".repeat(20000),
  );
  await env.shim.delete(id);
  await env.assertNothingLeft();
});

test("a memory hog under a 32 MiB limit is OOMKilled", async () => {
  const id = "oom";
  await env.run(id, ["sh", "-c", "x=0123456789; while :; do x=$x$x; done"], {
    resources: { memory: { limit: 32 << 20, swap: 32 << 20 } },
  });
  const exit = await env.shim.wait(id);
  assert.equal(exit.exitCode, 137);
  assert.equal(exit.oomKilled, true);
  assert.equal(exitReason(exit), "OOMKilled");
  await env.shim.delete(id);
  await env.assertNothingLeft();
});

test("SIGTERM ends a process that traps it; SIGKILL ends one that ignores SIGTERM", async () => {
  await env.run("trap", ["sh", "-c", "trap 'exit 7' TERM; while :; do sleep 0.1; done"]);
  await env.run("deaf", ["sleep", "1000"]); // pid 1 without a handler: the kernel drops SIGTERM
  await env.shim.kill("trap", "SIGTERM");
  await env.shim.kill("deaf", "SIGTERM");
  assert.equal((await env.shim.wait("trap")).exitCode, 7);
  await sleep(300);
  assert.equal((await env.shim.state("deaf")).status, "running");
  await assert.rejects(env.shim.delete("deaf"), (err) => kindOf(err) === "FailedPrecondition");
  await env.shim.kill("deaf", "SIGKILL");
  const exit = await env.shim.wait("deaf");
  assert.equal(exit.exitCode, 137);
  assert.equal(exitReason(exit), "Error");
  await assert.rejects(env.shim.start("deaf"), (err) => kindOf(err) === "FailedPrecondition");
  await env.shim.delete("trap");
  await env.shim.delete("deaf");
  await env.assertNothingLeft();
});

test("exec sync returns output and exit code, and a timeout returns on time despite a background child", async () => {
  const id = "exec";
  const { pid } = await env.run(id, ["sleep", "1000"]);
  const r = await env.shim.execSync(id, {
    args: ["sh", "-c", "echo out; echo err >&2; exit 4"],
    timeout: 10,
  });
  assert.deepEqual(r, { stdout: Buffer.from("out\n"), stderr: Buffer.from("err\n"), exitCode: 4 });

  // The command ends while its child still holds stdout open: the result does not wait for the child.
  let t0 = Date.now();
  const bg = await env.shim.execSync(id, { args: ["sh", "-c", "sleep 100 & echo started"], timeout: 10 });
  assert.deepEqual(bg, { stdout: Buffer.from("started\n"), stderr: Buffer.alloc(0), exitCode: 0 });
  assert.ok(Date.now() - t0 < 5000, `returned after ${Date.now() - t0} ms`);

  // The command outlives its timeout while a child holds the pipe: DeadlineExceeded at the timeout.
  t0 = Date.now();
  await assert.rejects(
    env.shim.execSync(id, { args: ["sh", "-c", "sleep 100 & echo started; sleep 100"], timeout: 1 }),
    (err) => kindOf(err) === "DeadlineExceeded",
  );
  // conmon's -T is a glib seconds timer, rounded to a whole second: up to 250 ms early, 750 ms late.
  const took = Date.now() - t0;
  assert.ok(took >= 700 && took < 3500, `returned after ${took} ms`);
  // conmon killed the command's process group; the first background sleep is the container's now.
  assert.equal((await env.runc.ps(id)).length, 2);

  await assert.rejects(
    env.shim.execSync(id, { args: ["no-such-binary"], timeout: 5 }),
    /executable file not found/,
  );

  await env.shim.update(id, { memory: { limit: 48 << 20 } });
  const limit = await readFile(
    `/sys/fs/cgroup/memory${env.cgroupParent}/${id}/memory.limit_in_bytes`,
    "utf8",
  );
  assert.equal(limit.trim(), String(48 << 20));
  assert.equal(pid, (await env.runc.state(id)).pid);

  await env.shim.kill(id, "SIGKILL");
  await env.shim.wait(id);
  await assert.rejects(
    env.shim.execSync(id, { args: ["true"], timeout: 1 }),
    (err) => kindOf(err) === "FailedPrecondition",
  );
  await assert.rejects(
    env.shim.update(id, { pids: { limit: 9 } }),
    (err) => kindOf(err) === "FailedPrecondition",
  );
  await env.shim.delete(id);
  await env.assertNothingLeft();
});

test("the log is reopened after the kubelet renamed it", async () => {
  const id = "rotate";
  const logPath = env.logPath(id);
  await env.run(id, ["sh", "-c", "i=0; while :; do i=$((i+1)); echo line $i; sleep 0.1; done"]);
  await until("a first line", async () =>
    (await readFile(logPath, "utf8")).includes("line 2") ? true : undefined,
  );
  await rename(logPath, `${logPath}.1`);
  await env.shim.reopenLog(id);
  const fresh = await until("a line in the new file", async () => {
    const recs = records(await readFile(logPath, "utf8").catch(() => ""));
    return recs.length > 0 ? recs : undefined;
  });
  const old = records(await readFile(`${logPath}.1`, "utf8"));
  const n = (m: string | undefined) => Number(m?.replace("line ", ""));
  assert.ok(n(fresh[0]?.message) > n(old.at(-1)?.message), "the new file goes on where the old one stopped");

  await env.shim.kill(id, "SIGKILL");
  await env.shim.wait(id);
  await assert.rejects(env.shim.reopenLog(id), (err) => kindOf(err) === "FailedPrecondition");
  await env.shim.delete(id);
  await env.assertNothingLeft();
});

test("a failed create reports runc's error and leaves nothing; ids are unique", async () => {
  const id = "bad";
  const bundle = await env.bundle(id, ["no-such-binary"]);
  await assert.rejects(env.shim.create({ id, bundle, logPath: env.logPath(id) }), (err) => {
    assert.match(String(err), /failed to create container "bad": .*executable file not found/);
    return true;
  });
  await assert.rejects(stat(env.logPath(id)), { code: "ENOENT" });
  await env.assertNothingLeft();

  await env.shim.create({
    id: "dup",
    bundle: await env.bundle("dup", ["true"]),
    logPath: env.logPath("dup"),
  });
  await assert.rejects(
    env.shim.create({ id: "dup", bundle: await env.bundle("dup", ["true"]), logPath: env.logPath("dup") }),
    (err) => kindOf(err) === "AlreadyExists",
  );
  await env.shim.delete("dup"); // a created container is killed, then removed
  await env.assertNothingLeft();

  const noConmon = new ConmonShim({
    stateDir: env.stateDir,
    runcRoot: env.runcRoot,
    conmonPath: "/nonexistent/conmon",
    log: newLogger("error"),
  });
  await assert.rejects(
    noConmon.create({ id, bundle, logPath: env.logPath(id) }),
    /failed to create container "bad": failed to run conmon: spawn \/nonexistent\/conmon ENOENT/,
  );
  await env.assertNothingLeft();
});

test("oom_score_adj below the daemon's own fails here; restricted to it, the container runs", async () => {
  const id = "oomadj";
  const own = Number(await readFile("/proc/self/oom_score_adj", "utf8"));
  const bundle = await env.bundle(id, ["sleep", "1000"], { oomScoreAdj: own - 100 });
  // runc's init dies writing it; runc only sees its pipe close.
  await assert.rejects(env.shim.create({ id, bundle, logPath: env.logPath(id) }), /runc create failed/);
  await env.assertNothingLeft();

  const adj = await restrictOomScoreAdj(own - 100);
  assert.equal(adj, own);
  const { pid } = await env.run(id, ["sleep", "1000"], { oomScoreAdj: adj });
  assert.equal(Number(await readFile(`/proc/${pid}/oom_score_adj`, "utf8")), own);
  await env.shim.kill(id, "SIGKILL");
  await env.shim.wait(id);
  await env.shim.delete(id);
  await env.assertNothingLeft();
});

test("a monitor is moved into the cgroup it is given, and costs little memory", async (t) => {
  const monitorCgroup = `${env.cgroupParent}/monitors`;
  const dirs = ["memory", "pids", "cpu"].map((h) => `/sys/fs/cgroup/${h}${monitorCgroup}`);
  for (const d of dirs) await mkdir(d, { recursive: true });
  const ids = ["rss1", "rss2", "rss3"];
  for (const id of ids) {
    await env.shim.create({
      id,
      bundle: await env.bundle(id, ["sleep", "1000"]),
      logPath: env.logPath(id),
      monitorCgroup,
    });
    await env.shim.start(id);
  }
  const rss: number[] = [];
  for (const id of ids) {
    const monitor = env.shim.monitorPid(id);
    const cgroups = await readFile(`/proc/${monitor}/cgroup`, "utf8");
    assert.match(cgroups, new RegExp(`:memory:${monitorCgroup}\n`));
    const status = await readFile(`/proc/${monitor}/status`, "utf8");
    const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]);
    const pss = Number(/Pss:\s+(\d+) kB/.exec(await readFile(`/proc/${monitor}/smaps_rollup`, "utf8"))?.[1]);
    t.diagnostic(`conmon of ${id}: VmRSS ${kb} kB, Pss ${pss} kB`);
    rss.push(kb);
  }
  assert.ok(
    rss.every((kb) => kb <= 5 * 1024),
    `conmon RSS ${rss.join(", ")} kB, want at most 5 MiB`,
  );
  for (const id of ids) {
    await env.shim.kill(id, "SIGKILL");
    await env.shim.wait(id);
    await env.shim.delete(id);
  }
  // The monitors have exited, so their cgroup can go.
  for (const d of dirs)
    await until(`rmdir ${d}`, () =>
      rmdir(d).then(
        () => true,
        () => undefined,
      ),
    );
  await env.assertNothingLeft();
});
