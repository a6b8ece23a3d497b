// The node's own numbers, which upstream takes from cAdvisor's root container: CPU time, memory
// with the working set cAdvisor computes, the host's interfaces, the boot time and the pid limit
// (pkg/kubelet/stats/pidlimit). berth reads them from /proc, as cAdvisor's sources boil down to.
import { readFile } from "node:fs/promises";
import { parseMeminfo } from "../cm/node-facts.js";
import {
  formatStatsTime,
  type InterfaceStats,
  type MemoryStats,
  type NetworkStats,
  type RlimitStats,
} from "./types.js";

/** USER_HZ: /proc/stat counts in hundredths of a second on every Linux architecture berth runs on. */
const nanosPerTick = 10_000_000;
/** Interfaces cAdvisor leaves out of a container's network stats. */
const ignoredDevicePrefixes = ["lo", "veth", "docker"];
/** The interface whose numbers NetworkStats carries inline (cAdvisor's default). */
const defaultInterfaceName = "eth0";

export interface NodeCpuSample {
  /** ms since the epoch. */
  timestamp: number;
  /** CPU time spent on anything but idling and waiting for I/O, all cores summed. */
  usageCoreNanoSeconds: number;
}

/** /proc/stat's first line: busy time as the root cgroup's cpuacct counts it. */
export function parseProcStatCpu(text: string): number {
  const line = text.split("\n").find((l) => l.startsWith("cpu "));
  if (!line) throw new Error('no "cpu" line in /proc/stat');
  // user nice system idle iowait irq softirq steal (guest time is already inside user)
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = line
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return (user + nice + system + irq + softirq + steal) * nanosPerTick;
}

/** /proc/stat's btime: when the node booted, ms since the epoch. */
export function parseBootTime(text: string): number {
  const match = /^btime (\d+)$/m.exec(text);
  if (!match?.[1]) throw new Error('no "btime" line in /proc/stat');
  return Number(match[1]) * 1000;
}

/**
 * The machine's memory as cAdvisor reports the root container: usage is all memory not free,
 * the working set leaves out inactive file pages (the kernel reclaims them first), and what is
 * available is capacity minus the working set, which is what eviction watches.
 */
export function memoryStatsOf(meminfo: string, vmstat: string, timestamp: number): MemoryStats {
  const m = parseMeminfo(meminfo);
  const kb = (k: string) => Number(m.get(k) ?? 0n);
  const capacity = kb("MemTotal");
  const usage = capacity - kb("MemFree");
  const workingSet = Math.max(0, usage - kb("Inactive(file)"));
  const counter = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, "m").exec(vmstat)?.[1] ?? 0);
  return {
    time: formatStatsTime(timestamp),
    availableBytes: Math.max(0, capacity - workingSet),
    usageBytes: usage,
    workingSetBytes: workingSet,
    rssBytes: kb("AnonPages"),
    pageFaults: counter("pgfault"),
    majorPageFaults: counter("pgmajfault"),
  };
}

/** /proc/net/dev: every interface but loopback and container-side veths. */
export function networkStatsOf(netDev: string, timestamp: number): NetworkStats {
  const interfaces: InterfaceStats[] = [];
  for (const line of netDev.split("\n").slice(2)) {
    const match = /^\s*([^:\s]+):(.*)$/.exec(line);
    if (!match?.[1] || match[2] === undefined) continue;
    const name = match[1];
    if (ignoredDevicePrefixes.some((p) => name.startsWith(p))) continue;
    const f = match[2].trim().split(/\s+/).map(Number);
    interfaces.push({
      name,
      rxBytes: f[0] ?? 0,
      rxErrors: f[2] ?? 0,
      txBytes: f[8] ?? 0,
      txErrors: f[10] ?? 0,
    });
  }
  const inline = interfaces.find((i) => i.name === defaultInterfaceName) ?? { name: "" };
  return { time: formatStatsTime(timestamp), ...inline, interfaces };
}

export async function readNodeCpu(): Promise<NodeCpuSample> {
  const timestamp = Date.now();
  return { timestamp, usageCoreNanoSeconds: parseProcStatCpu(await readFile("/proc/stat", "utf8")) };
}

export async function readNodeMemory(): Promise<MemoryStats> {
  const timestamp = Date.now();
  const [meminfo, vmstat] = await Promise.all([
    readFile("/proc/meminfo", "utf8"),
    readFile("/proc/vmstat", "utf8"),
  ]);
  return memoryStatsOf(meminfo, vmstat, timestamp);
}

export async function readNodeNetwork(): Promise<NetworkStats> {
  const timestamp = Date.now();
  return networkStatsOf(await readFile("/proc/net/dev", "utf8"), timestamp);
}

export async function readBootTime(): Promise<number> {
  return parseBootTime(await readFile("/proc/stat", "utf8"));
}

/** pidlimit.Stats: the kernel's pid_max, and how many tasks run (sysinfo's procs, /proc/loadavg's total). */
export async function readRlimitStats(): Promise<RlimitStats> {
  const timestamp = Date.now();
  const [pidMax, loadavg] = await Promise.all([
    readFile("/proc/sys/kernel/pid_max", "utf8"),
    readFile("/proc/loadavg", "utf8"),
  ]);
  const running = /\d+\/(\d+)/.exec(loadavg)?.[1];
  return {
    time: formatStatsTime(timestamp),
    maxpid: Number(pidMax.trim()),
    ...(running ? { curproc: Number(running) } : {}),
  };
}
