// Processes as the kernel shows them: memory, CPU time, and which ones belong to a runtime.
import { type ChildProcess, spawn } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { basename } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export interface Memory {
  /** VmRSS: resident now, in bytes. */
  rss: number;
  /** RssAnon: the resident part that is the process's own, not pages of mapped files (its binary). */
  anon: number;
  /** Pss: resident pages, each shared one divided among its sharers, so sums over processes add up. */
  pss: number;
  /** VmHWM: the most it was ever resident, in bytes. */
  peak: number;
}

export async function memoryOf(pid: number): Promise<Memory> {
  const [status, rollup] = await Promise.all([
    readFile(`/proc/${pid}/status`, "utf8"),
    readFile(`/proc/${pid}/smaps_rollup`, "utf8"),
  ]);
  const kib = (text: string, field: string, file: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(text);
    if (!m) throw new Error(`/proc/${pid}/${file} has no ${field}`);
    return Number(m[1]) * 1024;
  };
  return {
    rss: kib(status, "VmRSS", "status"),
    anon: kib(status, "RssAnon", "status"),
    pss: kib(rollup, "Pss", "smaps_rollup"),
    peak: kib(status, "VmHWM", "status"),
  };
}

/**
 * A Node process that loads nothing and waits: under every Node program on this machine (most of it
 * the node binary's own pages). The benches print its memory beside their floors.
 */
export function spawnIdleNode(): ChildProcess {
  return spawn(process.execPath, ["-e", "setInterval(() => {}, 2 ** 30)"], { stdio: "ignore" });
}

/** Clock ticks per second of /proc/<pid>/stat times: USER_HZ, 100 on Linux. */
const userHz = 100;

/** User plus system CPU time of all the process's threads so far, in ms. */
export async function cpuMsOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  // The fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / userHz;
}

interface Proc {
  pid: number;
  argv: string[];
}

async function processes(): Promise<Proc[]> {
  const out: Proc[] = [];
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    // Gone, or a kernel thread (empty cmdline): neither can be a runtime's.
    const cmdline = await readFile(`/proc/${name}/cmdline`, "utf8").catch(() => "");
    if (cmdline === "") continue;
    out.push({ pid: Number(name), argv: cmdline.replace(/\0$/, "").split("\0") });
  }
  return out;
}

const inside = (path: string, dir: string) => path === dir || path.startsWith(`${dir}/`);

/**
 * Pids of `program` (the base name of its argv[0]) whose arguments name a path in `dir`:
 * the monitors of one runtime instance among all on the machine (containerd's shims get its
 * socket, conmon its bundle and exit dir).
 */
export async function pidsOf(program: string, dir: string): Promise<number[]> {
  return (await processes())
    .filter((p) => basename(p.argv[0] ?? "") === program && p.argv.some((a) => inside(a, dir)))
    .map((p) => p.pid);
}

/**
 * Pids whose arguments name a path in `dir`. Container processes rarely do, and their root
 * shows as "/" once pivoted: they are found by their cgroups instead.
 */
export async function pidsMentioning(dir: string): Promise<number[]> {
  return (await processes()).filter((p) => p.argv.some((a) => inside(a, dir))).map((p) => p.pid);
}

/** SIGKILLs the pids and waits (up to 5 s) until they are gone; returns those still there. */
export async function killAndWait(pids: number[]): Promise<number[]> {
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {} // already gone
  }
  const deadline = Date.now() + 5_000;
  while (pids.some(alive) && Date.now() < deadline) await sleep(50);
  return pids.filter(alive);
}
