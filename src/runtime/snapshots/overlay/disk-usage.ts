// Ported from continuity fs/du_unix.go (diskUsage): what a directory tree takes on disk.
import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import type { Usage } from "../../core/snapshots/snapshots.js";

/**
 * Allocated bytes (st_blocks × 512) and inodes of the tree at `root`, the root included.
 * Hard links are counted once, by inode.
 */
export async function diskUsage(root: string): Promise<Usage> {
  const seen = new Set<string>();
  let size = 0;
  const visit = async (path: string): Promise<void> => {
    const st = await lstat(path, { bigint: true });
    const inode = `${st.dev}:${st.ino}`;
    if (!seen.has(inode)) {
      seen.add(inode);
      size += Number(st.blocks) * 512;
    }
    if (st.isDirectory()) {
      // A directory's entries are stat'ed together: one at a time, each waits a thread-pool
      // round trip, and a snapshot commit waits for the whole walk.
      await Promise.all((await readdir(path)).map((name) => visit(join(path, name))));
    }
  };
  await visit(root);
  return { size, inodes: seen.size };
}
