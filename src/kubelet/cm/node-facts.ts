// The node's facts as the kubelet learns them from the host (cadvisor's machine info, the cgroup mode,
// kuberuntime's swapControllerAvailable, nodeutil.GetHostname): NodeFacts for the config generators and
// NodeCapacity for node allocatable.

import { readdir, readFile, stat, statfs } from "node:fs/promises";
import { cpus, hostname } from "node:os";
import { dirname, join } from "node:path";
import type { NodeFacts } from "../kuberuntime/settings.js";
import { CgroupMountRoot, getCgroupSubsystems } from "./cgroup-manager.js";

/** What the node has, as cadvisor reports it: the kubelet's capacity comes from this. */
export interface NodeCapacity {
  /** Online logical CPUs. */
  cpuCores: number;
  /** MemTotal. */
  memoryBytes: bigint;
  /** Per hugepage size ("2Mi"): the bytes of hugepages the kernel holds (nr_hugepages × size). */
  hugePages: { pageSize: string; totalBytes: bigint }[];
  /** The size of the filesystem holding the kubelet's root directory. */
  ephemeralStorageBytes: bigint;
  /** The most tasks the kernel allows: the lower of kernel.pid_max and kernel.threads-max, when known. */
  maxPids?: bigint;
}

const hugePagesDir = "/sys/kernel/mm/hugepages";

/** /proc/meminfo as bytes: "MemTotal: 24684084 kB" → MemTotal → 25276502016. */
export function parseMeminfo(text: string): Map<string, bigint> {
  const values = new Map<string, bigint>();
  for (const line of text.split("\n")) {
    const match = /^([^:]+):\s+([0-9]+)( kB)?$/.exec(line.trim());
    if (match?.[1] && match[2]) values.set(match[1], BigInt(match[2]) * (match[3] ? 1024n : 1n));
  }
  return values;
}

/** "hugepages-2048kB" (a directory of /sys/kernel/mm/hugepages) → 2097152; undefined for anything else. */
export function hugePageDirSize(name: string): bigint | undefined {
  const match = /^hugepages-([0-9]+)kB$/.exec(name);
  return match?.[1] ? BigInt(match[1]) * 1024n : undefined;
}

const binarySuffixes = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];

/** A byte count as a binary quantity with the largest exact suffix: 2097152 → "2Mi", 1536 → "1536". */
export function binaryQuantity(bytes: bigint): string {
  let unit = 0;
  while (bytes !== 0n && bytes % 1024n === 0n && unit < binarySuffixes.length - 1) {
    bytes /= 1024n;
    unit++;
  }
  return `${bytes}${binarySuffixes[unit]}`;
}

async function hugePageDirs(): Promise<{ name: string; size: bigint }[]> {
  const names = await readdir(hugePagesDir).catch(() => []);
  return names.flatMap((name) => {
    const size = hugePageDirSize(name);
    return size === undefined ? [] : [{ name, size }];
  });
}

/** The kernel's page size, AT_PAGESZ of the process's auxiliary vector. */
async function pageSize(): Promise<number> {
  const auxv = await readFile("/proc/self/auxv");
  for (let offset = 0; offset + 16 <= auxv.length; offset += 16) {
    if (auxv.readBigUInt64LE(offset) === 6n) return Number(auxv.readBigUInt64LE(offset + 8));
  }
  throw new Error("AT_PAGESZ is missing from /proc/self/auxv");
}

/**
 * Whether the memory controller can limit swap: memory.memsw.limit_in_bytes on v1; on v2
 * memory.swap.max, looked for in the kubelet's own cgroup since the root has none.
 */
async function swapControllerAvailable(unified: boolean): Promise<boolean> {
  let path = join(CgroupMountRoot, "memory", "memory.memsw.limit_in_bytes");
  if (unified) {
    const self = await readFile("/proc/self/cgroup", "utf8");
    const own = self.split("\n").find((line) => line.startsWith("0::"));
    if (own === undefined) return false;
    path = join(CgroupMountRoot, own.slice(3), "memory.swap.max");
  }
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** detectNodeFacts: this host's NodeFacts. */
export async function detectNodeFacts(): Promise<NodeFacts> {
  const [subsystems, meminfo, sizes, page] = await Promise.all([
    getCgroupSubsystems(),
    readFile("/proc/meminfo", "utf8").then(parseMeminfo),
    hugePageDirs(),
    pageSize(),
  ]);
  const unified = subsystems.mode === "unified";
  return {
    nodeName: hostname().trim().toLowerCase(),
    cgroupVersion: unified ? "v2" : "v1",
    memoryCapacityBytes: meminfo.get("MemTotal") ?? 0n,
    swapCapacityBytes: meminfo.get("SwapTotal") ?? 0n,
    hugePageSizes: sizes.map((s) => binaryQuantity(s.size)),
    pageSizeBytes: page,
    swapControllerAvailable: await swapControllerAvailable(unified),
  };
}

/** The nearest directory of `path` that exists (the kubelet's root may not be made yet). */
async function existingAncestor(path: string): Promise<string> {
  for (let dir = path; ; dir = dirname(dir)) {
    if ((await stat(dir).catch(() => undefined))?.isDirectory() || dir === dirname(dir)) return dir;
  }
}

async function readNumber(path: string): Promise<bigint | undefined> {
  const text = (await readFile(path, "utf8").catch(() => "")).trim();
  return /^[0-9]+$/.test(text) ? BigInt(text) : undefined;
}

/** detectNodeCapacity: this host's capacity; `rootDirectory` is the kubelet's --root-dir. */
export async function detectNodeCapacity(rootDirectory = "/var/lib/kubelet"): Promise<NodeCapacity> {
  const meminfo = parseMeminfo(await readFile("/proc/meminfo", "utf8"));
  const hugePages: NodeCapacity["hugePages"] = [];
  for (const { name, size } of await hugePageDirs()) {
    const pages = (await readNumber(join(hugePagesDir, name, "nr_hugepages"))) ?? 0n;
    hugePages.push({ pageSize: binaryQuantity(size), totalBytes: pages * size });
  }
  const fs = await statfs(await existingAncestor(rootDirectory), { bigint: true });
  let maxPids: bigint | undefined;
  for (const file of ["/proc/sys/kernel/pid_max", "/proc/sys/kernel/threads-max"]) {
    const limit = await readNumber(file);
    if (limit !== undefined && (maxPids === undefined || limit < maxPids)) maxPids = limit;
  }
  return {
    cpuCores: cpus().length,
    memoryBytes: meminfo.get("MemTotal") ?? 0n,
    hugePages,
    ephemeralStorageBytes: fs.blocks * fs.bsize,
    ...(maxPids === undefined ? {} : { maxPids }),
  };
}
