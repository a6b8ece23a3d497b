// The processes of an instance: containerd, its shims (which outlive it), anything whose
// argv or root points into the base dir, and every process in our containers' cgroups.
import { setTimeout as sleep } from "node:timers/promises";
import { cgroupProcs } from "./cgroups.js";
import { errnoOf, readdirSafe, readFileSafe, readlinkSafe } from "./files.js";
import type { InstanceRecord } from "./instance.js";
import type { Inventory } from "./inventory.js";

interface Proc {
  pid: number;
  argv: string[];
  cmd: string;
}

function listProcs(): Proc[] {
  const out: Proc[] = [];
  for (const name of readdirSafe("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const raw = readFileSafe(`/proc/${name}/cmdline`);
    if (!raw) continue; // kernel thread, zombie, or gone
    const argv = raw.split("\0");
    if (argv[argv.length - 1] === "") argv.pop();
    out.push({ pid: Number(name), argv, cmd: argv.join(" ").slice(0, 200) });
  }
  return out;
}

export function ourProcesses(rec: InstanceRecord, inv: Inventory): Proc[] {
  const byCgroup = new Set<number>();
  for (const d of inv.cgroupDirs) for (const pid of cgroupProcs(d)) byCgroup.add(pid);
  const prefix = `${rec.base}/`;
  return listProcs().filter((p) => {
    if (p.pid === process.pid) return false;
    if (byCgroup.has(p.pid)) return true;
    if (p.argv.some((a) => a === rec.base || a.startsWith(prefix))) return true;
    const root = readlinkSafe(`/proc/${p.pid}/root`);
    return root?.startsWith(prefix) ?? false;
  });
}

/** Whether the recorded containerd pid is still our containerd (pids are reused). */
export function isOurContainerd(rec: InstanceRecord): boolean {
  const pid = rec.containerdPid;
  if (!pid) return false;
  const raw = readFileSafe(`/proc/${pid}/cmdline`);
  return raw?.split("\0").includes(rec.configPath) ?? false;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return errnoOf(err) === "EPERM";
  }
  // A zombie is dead for our purposes.
  const stat = readFileSafe(`/proc/${pid}/stat`);
  return !stat || !/^\d+ \(.*\) Z/.test(stat);
}

export function signal(pid: number, sig: NodeJS.Signals) {
  try {
    process.kill(pid, sig);
  } catch {}
}

export async function waitGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await sleep(50);
  }
  return !isAlive(pid);
}

/** SIGTERM, then SIGKILL after 3 s, to all our processes but containerd (stopped before). */
export async function killOurProcesses(rec: InstanceRecord, inv: Inventory): Promise<void> {
  const pids = ourProcesses(rec, inv).map((p) => p.pid);
  for (const pid of pids) signal(pid, "SIGTERM");
  const deadline = Date.now() + 3_000;
  while (Date.now() < deadline && pids.some(isAlive)) await sleep(50);
  for (const pid of pids.filter(isAlive)) signal(pid, "SIGKILL");
  const deadline2 = Date.now() + 3_000;
  while (Date.now() < deadline2 && pids.some(isAlive)) await sleep(50);
  const rest = ourProcesses(rec, inv);
  if (rest.length) throw new Error(`still running: ${rest.map((p) => `${p.pid} ${p.cmd}`).join(", ")}`);
}
