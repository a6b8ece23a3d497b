// What a directory tree takes on disk (continuity's fs.DiskUsage, the kubelet's volume/util/fs
// DiskUsage): used by the snapshotter to size a layer and by the kubelet's stats for logs and
// volumes. Two walks over one tally: diskUsage goes through the thread pool, so that a large
// volume never stalls the kubelet's event loop; diskUsageSync stats in place, for the runtime's
// snapshots, where each stat is a few microseconds but a thread-pool round trip costs many times
// that, and a layer just written has thousands of entries.
import { type BigIntStats, lstatSync, readdirSync } from "node:fs";
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
  const top = await lstat(root, { bigint: true }).catch(missingAsUndefined);
  if (!top) return undefined;
  const tally = new Tally(top.dev);
  const visit = async (path: string, st: BigIntStats | undefined): Promise<void> => {
    if (!tally.count(st)) return;
    const names = await readdir(path).catch(missingAsUndefined);
    // Stat'ed together: one at a time, each waits a thread-pool round trip.
    await Promise.all(
      (names ?? []).map(async (name) => {
        const child = join(path, name);
        await visit(child, await lstat(child, { bigint: true }).catch(missingAsUndefined));
      }),
    );
  };
  await visit(root, top);
  return tally.usage;
}

/** diskUsage, walking without leaving the calling thread. */
export function diskUsageSync(root: string): DiskUsage | undefined {
  const top = lstatSync(root, { bigint: true, throwIfNoEntry: false });
  if (!top) return undefined;
  const tally = new Tally(top.dev);
  const visit = (path: string, st: BigIntStats | undefined): void => {
    if (!tally.count(st)) return;
    let names: string[];
    try {
      names = readdirSync(path);
    } catch (err) {
      missingAsUndefined(err);
      return;
    }
    for (const name of names) {
      const child = join(path, name);
      visit(child, lstatSync(child, { bigint: true, throwIfNoEntry: false }));
    }
  };
  visit(root, top);
  return tally.usage;
}

/** The sum both walks keep. */
class Tally {
  readonly usage: DiskUsage = { bytes: 0, inodes: 0 };
  private readonly seen = new Set<bigint>();

  constructor(private readonly dev: bigint) {}

  /** Counts the entry; true when it is a directory to descend into. */
  count(st: BigIntStats | undefined): st is BigIntStats {
    if (!st || st.dev !== this.dev) return false;
    if (st.nlink > 1n) {
      if (this.seen.has(st.ino)) return false;
      this.seen.add(st.ino);
    }
    this.usage.bytes += Number(st.blocks) * 512;
    this.usage.inodes += 1;
    return st.isDirectory();
  }
}

function missingAsUndefined(err: unknown): undefined {
  if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
  throw err;
}
