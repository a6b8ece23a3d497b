// One daemon per directory: an exclusive lock on <dir>/berth.lock. The lock is an
// open-file-description lock (fcntl F_OFD_SETLK, through fs-native-extensions, since Node
// has no flock): the kernel drops it when the holder dies, even by kill -9, so a stale
// file left behind never blocks a restart, and no pid is trusted after a reboot.
import {
  closeSync,
  fstatSync,
  ftruncateSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { failedPrecondition } from "../lib/errdefs.js";

const { tryLock } = createRequire(import.meta.url)("fs-native-extensions") as {
  /** false when another open file description holds the lock. */
  tryLock(fd: number): boolean;
};

export const LockFileName = "berth.lock";

export interface DirLock {
  readonly path: string;
  /** Removes the file, then drops the lock. */
  release(): void;
}

/** Locks `dir` (which must exist) for this process; `what` names it in the error ("root"). */
export function lockDir(dir: string, what: string): DirLock {
  const path = join(dir, LockFileName);
  for (;;) {
    const fd = openSync(path, "a+", 0o600);
    if (!tryLock(fd)) {
      const holder = readFileSync(fd, "utf8").trim() || "unknown";
      closeSync(fd);
      throw failedPrecondition(
        `${what} directory ${dir} is in use by another berth runtime (pid ${holder}; ${path} is locked)`,
      );
    }
    // A holder that was releasing may have removed the file between our open and lock:
    // the inode we locked is then no longer the path, and we try again.
    const now = statSync(path, { throwIfNoEntry: false });
    const mine = fstatSync(fd);
    if (now?.ino !== mine.ino || now.dev !== mine.dev) {
      closeSync(fd);
      continue;
    }
    ftruncateSync(fd, 0);
    writeSync(fd, `${process.pid}\n`);
    return {
      path,
      release: () => {
        rmSync(path, { force: true });
        closeSync(fd);
      },
    };
  }
}
