// What a directory tree takes on disk (continuity's fs.DiskUsage, the kubelet's volume/util/fs
// DiskUsage): used by the snapshotter to size a layer and by the kubelet's stats for logs and
// volumes.
import type { BigIntStats } from "node:fs";
import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";

export interface DiskUsage {
  /** Allocated bytes (st_blocks × 512). */
  bytes: number;
  inodes: number;
}

/**
 * The bytes and inodes of the tree at `root`, the root included, staying on its filesystem and
 * counting a hard-linked inode once. Entries that vanish during the walk (a log rotated away) are
 * skipped; undefined when `root` itself does not exist.
 */
export async function diskUsage(root: string): Promise<DiskUsage | undefined> {
  const top = await lstatOrUndefined(root);
  if (!top) return undefined;
  const seen = new Set<bigint>();
  const usage = { bytes: 0, inodes: 0 };
  const visit = async (path: string, st: BigIntStats | undefined): Promise<void> => {
    if (!st || st.dev !== top.dev) return;
    if (st.nlink > 1n) {
      if (seen.has(st.ino)) return;
      seen.add(st.ino);
    }
    usage.bytes += Number(st.blocks) * 512;
    usage.inodes += 1;
    if (!st.isDirectory()) return;
    const names = await readdir(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return [];
      throw err;
    });
    // Stat'ed together: one at a time, each waits a thread-pool round trip.
    await Promise.all(
      names.map(async (name) => {
        const child = join(path, name);
        await visit(child, await lstatOrUndefined(child));
      }),
    );
  };
  await visit(root, top);
  return usage;
}

async function lstatOrUndefined(path: string): Promise<BigIntStats | undefined> {
  try {
    return await lstat(path, { bigint: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}
