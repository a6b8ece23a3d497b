import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, rmdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { moveToCgroup } from "../../shim/monitor-cgroup.js";
import {
  availableBytes,
  memoryStatsV1,
  memoryStatsV2,
  parseCgroupValue,
  parseKeyedValues,
  readCgroupStats,
  workingSetBytes,
} from "./cgroup-stats.js";

const MiB = 1024n * 1024n;
const v1Unlimited = 9223372036854771712n;

test("workingSetBytes is usage less inactive file, never below zero", () => {
  const cases: [bigint, bigint, bigint][] = [
    [100n, 30n, 70n],
    [100n, 0n, 100n],
    [100n, 100n, 0n],
    [100n, 130n, 0n],
  ];
  for (const [usage, inactive, want] of cases) assert.equal(workingSetBytes(usage, inactive), want);
});

test("availableBytes is limit less working set, 0 above 2^62, wrapping like uint64", () => {
  const cases: [bigint, bigint, bigint][] = [
    [64n * MiB, 675840n, 66433024n], // containerd's answer for a 64 MiB busybox container
    [v1Unlimited, 5n, 0n],
    [(1n << 64n) - 1n, 5n, 0n], // v2 "max"
    [1n << 62n, 5n, (1n << 62n) - 5n], // exactly 2^62 still counts as a limit
    [10n, 20n, (1n << 64n) - 10n],
  ];
  for (const [limit, ws, want] of cases) assert.equal(availableBytes(limit, ws), want, `${limit} ${ws}`);
});

test("parseCgroupValue reads numbers and v2's max", () => {
  assert.equal(parseCgroupValue("9223372036854771712\n"), v1Unlimited);
  assert.equal(parseCgroupValue("max\n"), (1n << 64n) - 1n);
  assert.equal(parseCgroupValue("0\n"), 0n);
});

test("memory fields come from v1 totals and v2's flat keys", () => {
  const v1 = parseKeyedValues(
    "cache 10\nrss 20\ninactive_file 7\npgfault 1\ntotal_cache 4096\ntotal_rss 106496\n" +
      "total_pgfault 943\ntotal_pgmajfault 2\ntotal_inactive_file 4096\n",
  );
  assert.deepEqual(memoryStatsV1(679936n, 64n * MiB, v1), {
    usageBytes: 679936n,
    workingSetBytes: 675840n,
    availableBytes: 66433024n,
    rssBytes: 106496n,
    pageFaults: 943n,
    majorPageFaults: 2n,
  });
  const v2 = parseKeyedValues("anon 155648\nfile 8192\ninactive_file 8192\npgfault 1690\npgmajfault 3\n");
  assert.deepEqual(memoryStatsV2(1740800n, parseCgroupValue("max"), v2), {
    usageBytes: 1740800n,
    workingSetBytes: 1732608n,
    availableBytes: 0n,
    rssBytes: 155648n,
    pageFaults: 1690n,
    majorPageFaults: 3n,
  });
});

// Real cgroups of this machine, with real processes in them.
const isV2 = existsSync("/sys/fs/cgroup/cgroup.controllers");
const hierarchies = isV2
  ? ["/sys/fs/cgroup"]
  : ["memory", "cpuacct", "pids"].map((h) => `/sys/fs/cgroup/${h}`);
const skip = process.getuid?.() !== 0 ? "needs root" : false;

async function makeCgroup(path: string): Promise<void> {
  for (const h of hierarchies) await mkdir(join(h, path));
}
async function removeCgroup(path: string): Promise<void> {
  for (const h of hierarchies) await rmdir(join(h, path)).catch(() => {});
}
const cgroupFile = (controller: string, path: string, file: string) =>
  isV2 ? join("/sys/fs/cgroup", path, file) : join("/sys/fs/cgroup", controller, path, file);

/**
 * A node child that, on a line of stdin, allocates, writes a file, starts a sleep, or spins
 * for an amount of CPU time (not wall time: a loaded machine gives it less than a core).
 */
const worker = `
const { writeFileSync } = require("node:fs");
const { spawn } = require("node:child_process");
const keep = [];
require("node:readline").createInterface({ input: process.stdin }).on("line", (l) => {
  const [cmd, arg, arg2] = l.split(" ");
  let out = "ok";
  if (cmd === "alloc") keep.push(Buffer.alloc(Number(arg) << 20, 1));
  if (cmd === "file") writeFileSync(arg, Buffer.alloc(Number(arg2) << 20, 2));
  if (cmd === "spin") { const t = process.cpuUsage(); while ((({ user, system }) => user + system)(process.cpuUsage(t)) < Number(arg) * 1000); }
  if (cmd === "sleep") out = String(spawn("sleep", ["600"], { stdio: "ignore" }).pid);
  process.stdout.write(out + "\\n");
});
process.stdout.write("ready\\n");
`;

class Worker {
  readonly child: ChildProcess;
  #lines: string[] = [];
  #waiters: ((l: string) => void)[] = [];
  constructor() {
    this.child = spawn(process.execPath, ["-e", worker], { stdio: ["pipe", "pipe", "inherit"] });
    let buf = "";
    this.child.stdout?.setEncoding("utf8").on("data", (d: string) => {
      buf += d;
      for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        const w = this.#waiters.shift();
        if (w) w(line);
        else this.#lines.push(line);
      }
    });
  }
  next(): Promise<string> {
    const l = this.#lines.shift();
    return l !== undefined ? Promise.resolve(l) : new Promise((r) => this.#waiters.push(r));
  }
  async send(cmd: string): Promise<string> {
    this.child.stdin?.write(`${cmd}\n`);
    return this.next();
  }
  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, "exit");
    this.child.kill("SIGKILL");
    await exited;
  }
}

describe("readCgroupStats on a real cgroup", { skip }, () => {
  const cg = `/berth-cgstats-test-${process.pid}`;
  let w: Worker;
  let sleepPid = 0;
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-cgstats-"));
    await makeCgroup(cg);
    w = new Worker();
    assert.equal(await w.next(), "ready");
    await moveToCgroup(w.child.pid ?? 0, cg);
  });

  after(async () => {
    await w?.kill();
    if (sleepPid) process.kill(sleepPid, "SIGKILL");
    await sleep(100); // the killed sleep leaves its cgroup once reaped by init
    await removeCgroup(`${cg}/nested`);
    await removeCgroup(cg);
    await rm(dir, { recursive: true, force: true });
    for (const h of hierarchies) assert.equal(existsSync(join(h, cg)), false, `${h}${cg} removed`);
  });

  test("counts processes only when asked, including nested cgroups", async () => {
    assert.equal((await readCgroupStats(cg))?.processCount, undefined);
    assert.equal((await readCgroupStats(cg, { processes: true }))?.processCount, 1n);
    sleepPid = Number(await w.send("sleep"));
    assert.equal((await readCgroupStats(cg, { processes: true }))?.processCount, 2n);
    // runc ps walks the cgroups below a container's too.
    await makeCgroup(`${cg}/nested`);
    await moveToCgroup(sleepPid, `${cg}/nested`);
    assert.equal(readFileSync(cgroupFile("pids", cg, "cgroup.procs"), "utf8").trim(), String(w.child.pid));
    assert.equal((await readCgroupStats(cg, { processes: true }))?.processCount, 2n);
  });

  test("memory usage and rss grow by what the process allocates", async () => {
    const before = await readCgroupStats(cg);
    assert.ok(before);
    await w.send("alloc 64");
    const after = await readCgroupStats(cg);
    assert.ok(after);
    assert.ok(after.memory.usageBytes - before.memory.usageBytes >= 64n * MiB, "usage");
    assert.ok(after.memory.rssBytes - before.memory.rssBytes >= 64n * MiB, "rss");
    assert.ok(after.memory.workingSetBytes - before.memory.workingSetBytes >= 64n * MiB, "working set");
    assert.ok(after.memory.pageFaults > before.memory.pageFaults, "page faults");
    assert.ok(after.timestamp >= before.timestamp);
  });

  test("fresh page cache counts in usage but not in the working set", async () => {
    const before = await readCgroupStats(cg);
    assert.ok(before);
    await w.send(`file ${join(dir, "cache")} 32`);
    const after = await readCgroupStats(cg);
    assert.ok(after);
    const usage = after.memory.usageBytes - before.memory.usageBytes;
    const ws = after.memory.workingSetBytes - before.memory.workingSetBytes;
    assert.ok(usage >= 32n * MiB, `usage grew by ${usage}`);
    assert.ok(ws < usage - 16n * MiB, `working set grew by ${ws} of ${usage}`);
  });

  test("the numbers are those of the cgroup files, with containerd's arithmetic", async () => {
    process.kill(w.child.pid ?? 0, "SIGSTOP");
    try {
      await writeFile(
        cgroupFile("memory", cg, isV2 ? "memory.max" : "memory.limit_in_bytes"),
        String(512n * MiB),
      );
      const raw = () => {
        const stat = parseKeyedValues(readFileSync(cgroupFile("memory", cg, "memory.stat"), "utf8"));
        const usage = BigInt(
          readFileSync(cgroupFile("memory", cg, isV2 ? "memory.current" : "memory.usage_in_bytes"), "utf8"),
        );
        return { stat, usage };
      };
      // A stopped process's cgroup still sees the kernel settle per-cpu counters: compare a
      // read that the raw files agree with on both sides.
      for (let attempt = 0; ; attempt++) {
        const r1 = raw();
        const s = await readCgroupStats(cg);
        const r2 = raw();
        assert.ok(s);
        const inactive = r1.stat.get(isV2 ? "inactive_file" : "total_inactive_file") ?? 0n;
        const stable =
          r1.usage === r2.usage &&
          inactive === (r2.stat.get(isV2 ? "inactive_file" : "total_inactive_file") ?? 0n);
        if (!stable && attempt < 5) continue;
        assert.equal(s.memory.usageBytes, r1.usage);
        assert.equal(s.memory.workingSetBytes, r1.usage - inactive);
        assert.equal(s.memory.availableBytes, 512n * MiB - (r1.usage - inactive));
        assert.equal(s.memory.rssBytes, r1.stat.get(isV2 ? "anon" : "total_rss"));
        assert.equal(s.memory.majorPageFaults, r1.stat.get(isV2 ? "pgmajfault" : "total_pgmajfault"));
        break;
      }
    } finally {
      process.kill(w.child.pid ?? 0, "SIGCONT");
    }
  });

  test("cpu usage grows by the CPU time the process spins", async () => {
    const before = await readCgroupStats(cg);
    assert.ok(before);
    await w.send("spin 300");
    const after = await readCgroupStats(cg);
    assert.ok(after);
    const spent = after.cpuUsageCoreNanoSeconds - before.cpuUsageCoreNanoSeconds;
    assert.ok(spent >= 300_000_000n && spent < 2_000_000_000n, `spent ${spent} ns`);
  });

  test("a cgroup that is gone reads as undefined", async () => {
    assert.equal(await readCgroupStats(`${cg}/never-made`), undefined);
  });
});

describe("readCgroupStats over 30 cgroups", { skip }, () => {
  const parent = `/berth-cgstats-bench-${process.pid}`;
  const paths = Array.from({ length: 30 }, (_, i) => `${parent}/c${i}`);
  const sleeps: ChildProcess[] = [];

  before(async () => {
    await makeCgroup(parent);
    for (const p of paths) {
      await makeCgroup(p);
      const s = spawn("sleep", ["600"], { stdio: "ignore" });
      sleeps.push(s);
      await once(s, "spawn");
      await moveToCgroup(s.pid ?? 0, p);
    }
  });

  after(async () => {
    for (const s of sleeps) {
      const exited = once(s, "exit");
      s.kill("SIGKILL");
      await exited;
    }
    await sleep(100);
    for (const p of paths) await removeCgroup(p);
    await removeCgroup(parent);
    for (const h of hierarchies) assert.equal(existsSync(join(h, parent)), false);
  });

  // A figure for the record, not an assertion: timings vary with the machine's load.
  test("reads them all in parallel", async (t) => {
    for (const processes of [false, true]) {
      const ms: number[] = [];
      for (let i = 0; i < 200; i++) {
        const t0 = performance.now();
        const all = await Promise.all(paths.map((p) => readCgroupStats(p, { processes })));
        ms.push(performance.now() - t0);
        assert.equal(all.filter((s) => s !== undefined).length, 30);
      }
      ms.sort((a, b) => a - b);
      const at = (q: number) => (ms[Math.floor(q * (ms.length - 1))] ?? 0).toFixed(2);
      t.diagnostic(
        `30 cgroups, processes=${processes}: median ${at(0.5)} ms, p90 ${at(0.9)} ms, max ${at(1)} ms`,
      );
    }
  });
});
