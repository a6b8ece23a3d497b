// A private ext4 file system on a loop device, holding both runtimes' roots: the same
// fresh disk for each, which nothing else on the machine writes to, and with a journal as
// a node's /var/lib has. (On an ext4 without one, as some VMs' root is, creating a file
// soon after many were deleted scans past every recently freed inode, which would charge
// each round for the files the previous one removed.)
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const exec = promisify(execFile);

export interface ScratchFs {
  /** Where it is mounted. */
  readonly dir: string;
  /** Unmounts it (the loop device goes with it) and removes its image. */
  remove(): Promise<void>;
}

export async function mountScratchFs(sizeBytes: number): Promise<ScratchFs> {
  const base = await mkdtemp(join(tmpdir(), "berth-bench-"));
  const image = join(base, "fs.img");
  const dir = join(base, "mnt");
  let mounted = false;
  const remove = async () => {
    if (mounted) await exec("umount", [dir]);
    mounted = false;
    await rm(base, { recursive: true, force: true });
  };
  try {
    await writeFile(image, "");
    await truncate(image, sizeBytes);
    await exec("mkfs.ext4", ["-q", "-F", image]);
    await mkdir(dir);
    await exec("mount", ["-o", "loop", image, dir]);
    mounted = true;
  } catch (err) {
    await remove().catch(() => undefined);
    throw err;
  }
  return { dir, remove };
}
