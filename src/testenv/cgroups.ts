// Cgroup directories a test asked a runtime to use, found and removed in every
// hierarchy (cgroup v1 controllers and the v2 unified tree of this hybrid layout).
import { readdir, rmdir, stat } from "node:fs/promises";
import { join } from "node:path";

const root = "/sys/fs/cgroup";

async function hierarchies(): Promise<string[]> {
  const names = await readdir(root);
  const dirs: string[] = [];
  for (const n of names) {
    const p = join(root, n);
    if ((await stat(p).catch(() => undefined))?.isDirectory()) dirs.push(p);
  }
  return dirs;
}

/** Paths of `cgroup` (e.g. "/berth-test-123") that exist in any hierarchy. */
export async function existingCgroups(cgroup: string): Promise<string[]> {
  const found: string[] = [];
  for (const h of await hierarchies()) {
    const p = join(h, cgroup);
    if (await stat(p).catch(() => undefined)) found.push(p);
  }
  return found;
}

/** Removes an (empty) cgroup the test created as a parent; rmdir fails if a runtime left children. */
export async function removeCgroup(cgroup: string): Promise<void> {
  for (const p of await existingCgroups(cgroup)) await rmdir(p);
}
