// Moves a monitor into a cgroup before it starts the container, as CRI-O's
// createContainerPlatform does with conmon, so that the monitor's memory and CPU count
// against the pod rather than the daemon. The cgroup is the caller's: it must exist, and
// the caller removes it.
import { readdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { notFound, wrap } from "../lib/errdefs.js";

const cgroupRoot = "/sys/fs/cgroup";

/**
 * Writes `pid` to cgroup.procs of `cgroup` (e.g. "/kubepods/pod123") in every hierarchy
 * that has it: the unified one alone, or each v1 controller and a hybrid's unified tree.
 */
export async function moveToCgroup(pid: number, cgroup: string): Promise<void> {
  let moved = 0;
  for (const hierarchy of await hierarchies()) {
    const dir = join(hierarchy, cgroup);
    if (!(await stat(dir).catch(() => undefined))?.isDirectory()) continue;
    try {
      await writeFile(join(dir, "cgroup.procs"), String(pid));
    } catch (err) {
      throw wrap(err, `failed to move process ${pid} to cgroup "${dir}"`);
    }
    moved++;
  }
  if (moved === 0) throw notFound(`cgroup "${cgroup}" does not exist in any hierarchy`);
}

async function hierarchies(): Promise<string[]> {
  // A pure cgroup v2 host has its controllers at the root.
  if (await stat(join(cgroupRoot, "cgroup.controllers")).catch(() => undefined)) return [cgroupRoot];
  const dirs: string[] = [];
  for (const entry of await readdir(cgroupRoot, { withFileTypes: true })) {
    // Symlinks (cpu → cpu,cpuacct) name a hierarchy that is also listed as a directory.
    if (entry.isDirectory()) dirs.push(join(cgroupRoot, entry.name));
  }
  return dirs;
}
