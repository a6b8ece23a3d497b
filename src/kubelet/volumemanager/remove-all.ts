// Port of kubelet 1.28 pkg/util/removeall: deleting a pod's directories without ever reaching into a
// filesystem mounted below them. A volume still mounted there (a tmpfs, a bind of host data) makes the
// removal fail instead of emptying it.
import { lstat, readdir, realpath, rmdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import { failedPrecondition } from "../../lib/errdefs.js";
import { readMountInfo } from "../../lib/mount/mount.js";

/** RemoveAllOneFilesystem: rm -r of `path`, refusing any directory something is mounted on. */
export function removeAllOneFilesystem(path: string): Promise<void> {
  return removeOneFilesystem(path, unlink);
}

/**
 * RemoveDirsOneFilesystem: removes `path` when it is a tree of empty directories; a file anywhere in
 * it is an error and stays, as it may be data of a volume that was never unmounted.
 */
export function removeDirsOneFilesystem(path: string): Promise<void> {
  return removeOneFilesystem(path, rmdir);
}

async function removeOneFilesystem(path: string, removeFile: (p: string) => Promise<void>): Promise<void> {
  let real: string;
  try {
    // mountinfo names mount points by their real path.
    real = await realpath(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  const mountPoints = new Set((await readMountInfo()).map((m) => m.mountPoint));
  await removeTree(real, removeFile, mountPoints);
}

// Removes what it can and reports the first failure, as upstream does.
async function removeTree(
  path: string,
  removeFile: (p: string) => Promise<void>,
  mountPoints: Set<string>,
): Promise<void> {
  let isDir: boolean;
  try {
    isDir = (await lstat(path)).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  if (!isDir) return removeFile(path);
  if (mountPoints.has(path)) throw failedPrecondition(`cannot delete directory ${path}: it is a mount point`);
  let first: unknown;
  for (const name of await readdir(path)) {
    await removeTree(join(path, name), removeFile, mountPoints).catch((err) => {
      first ??= err;
    });
  }
  if (first !== undefined) throw first;
  await rmdir(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "ENOENT") throw err;
  });
}
