// What the kubelet learns of filesystems without cAdvisor: a filesystem's size and free space
// (cAdvisor's GetDirFsInfo, from statfs) and what a directory tree takes on it (pkg/volume/util/fs
// DiskUsage, the walk behind the volume and log metrics).
import { statfs } from "node:fs/promises";
import { diskUsage as walkDiskUsage } from "../../lib/disk-usage.js";
import type { FsStats } from "./types.js";
import { formatStatsTime } from "./types.js";

/** cadvisorapiv2.FsInfo: the filesystem holding a directory. */
export interface FsInfo {
  /** When it was read, ms since the epoch. */
  timestamp: number;
  capacity: number;
  /** Free to unprivileged users (f_bavail). */
  available: number;
  /** Blocks in use (f_blocks − f_bfree). */
  usage: number;
  inodes: number;
  inodesFree: number;
}

export async function getDirFsInfo(path: string): Promise<FsInfo> {
  const s = await statfs(path);
  return {
    timestamp: Date.now(),
    capacity: s.blocks * s.bsize,
    available: s.bavail * s.bsize,
    usage: (s.blocks - s.bfree) * s.bsize,
    inodes: s.files,
    inodesFree: s.ffree,
  };
}

export interface DiskUsage {
  timestamp: number;
  /** Allocated bytes (st_blocks × 512). */
  usedBytes: number;
  inodesUsed: number;
}

/** DiskUsage as the stats use it: lib's walk, stamped with when it was taken. */
export async function diskUsage(root: string): Promise<DiskUsage | undefined> {
  const timestamp = Date.now();
  const usage = await walkDiskUsage(root);
  return usage && { timestamp, usedBytes: usage.bytes, inodesUsed: usage.inodes };
}

/** rootFsInfoToFsStats: the filesystem's size and free space, with no usage yet. */
export function fsStatsOfInfo(fs: FsInfo): FsStats {
  return {
    time: formatStatsTime(fs.timestamp),
    availableBytes: fs.available,
    capacityBytes: fs.capacity,
    inodesFree: fs.inodesFree,
    inodes: fs.inodes,
  };
}

/** metricsByPathToFsStats: the filesystem's numbers plus the usage of the given paths. */
export function fsStatsWithUsage(fs: FsInfo, usages: readonly DiskUsage[]): FsStats {
  const out = fsStatsOfInfo(fs);
  let latest = fs.timestamp;
  for (const u of usages) {
    out.usedBytes = (out.usedBytes ?? 0) + u.usedBytes;
    out.inodesUsed = (out.inodesUsed ?? 0) + u.inodesUsed;
    latest = Math.max(latest, u.timestamp);
  }
  out.time = formatStatsTime(latest);
  return out;
}
