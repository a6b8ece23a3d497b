// Ported from containerd mount/mount_linux.go (Mount, UnmountAll, compactLowerdirOption).
// Node has no mount(2), so mounts go through util-linux's mount and umount binaries,
// run directly (no shell). mount(8) handles bind, rbind and the read-only remount of a bind.
// The runtime (rootfs, sandbox files, netns) and the kubelet (volumes) share this one mechanism.
import { execFile } from "node:child_process";
import { readFile, realpath } from "node:fs/promises";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { BerthError, wrap } from "../errdefs.js";

const exec = promisify(execFile);

/** A mount to perform, in the shape of the OCI runtime spec's mounts. */
export interface Mount {
  type: string;
  source: string;
  target?: string;
  options: string[];
}

/** The kernel copies at most one page of mount data; containerd keeps 512 bytes of slack. */
const pageSize = 4096;

/** Mounts each of `mounts` on `target` in order; on failure, unmounts what it mounted. */
export async function mountAll(mounts: Mount[], target: string): Promise<void> {
  const done: string[] = [];
  try {
    for (const m of mounts) {
      const at = m.target ? join(target, m.target) : target;
      await mount(m, at);
      done.push(at);
    }
  } catch (err) {
    // Undo exactly what was mounted here; the mount error is the one to report.
    for (const at of done.reverse()) await unmount(resolve(at)).catch(() => {});
    throw err;
  }
}

async function mount(m: Mount, target: string): Promise<void> {
  let cwd: string | undefined;
  let options = m.options;
  if (m.type === "overlay" && optionsSize(options) >= pageSize - 512) {
    [cwd, options] = compactLowerdirOption(options);
  }
  const args = ["-t", m.type];
  if (options.length > 0) args.push("-o", options.join(","));
  // The target is made absolute because a compacted mount runs in the lowerdirs' parent.
  args.push("--", m.source, resolve(target));
  try {
    await exec("mount", args, cwd ? { cwd } : {});
  } catch (err) {
    const message = `failed to mount ${m.type} "${m.source}" on "${target}": ${stderrOf(err)}`;
    throw new BerthError("Unknown", message, { cause: err });
  }
}

/**
 * Unmounts `target` until nothing is mounted there, undoing a stack of mounts. A target
 * that does not exist or is not a mount point is left as it is.
 */
export async function unmountAll(target: string): Promise<void> {
  let abs: string;
  try {
    // mountinfo lists mount points by their real path.
    abs = await realpath(target);
  } catch {
    return;
  }
  while (await isMountPoint(abs)) await unmount(abs);
}

async function unmount(target: string): Promise<void> {
  try {
    await exec("umount", ["--", target]);
  } catch (err) {
    throw new BerthError("Unknown", `failed to unmount "${target}": ${stderrOf(err)}`, { cause: err });
  }
}

/** Whether anything is mounted on `path` (a real path: absolute, without symlinks), per mountinfo. */
export async function isMountPoint(path: string): Promise<boolean> {
  return (await readMountInfo()).some((m) => m.mountPoint === path);
}

/** One line of /proc/self/mountinfo: where, what filesystem, from what source. */
export interface MountInfo {
  mountPoint: string;
  fsType: string;
  source: string;
}

/** The mount table in mount order, so the last entry for a mount point is the one on top. */
export async function readMountInfo(): Promise<MountInfo[]> {
  let info: string;
  try {
    info = await readFile("/proc/self/mountinfo", "utf8");
  } catch (err) {
    throw wrap(err, "failed to read /proc/self/mountinfo");
  }
  const mounts: MountInfo[] = [];
  for (const line of info.split("\n")) {
    const fields = line.split(" ");
    // Optional fields come before a lone "-"; filesystem type and source follow it.
    const dash = fields.indexOf("-", 6);
    if (fields.length < 5 || dash === -1) continue;
    mounts.push({
      mountPoint: unescapeMountinfo(fields[4] as string),
      fsType: fields[dash + 1] ?? "",
      source: unescapeMountinfo(fields[dash + 2] ?? ""),
    });
  }
  return mounts;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
function unescapeMountinfo(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

/**
 * Shortens a too long lowerdir list by making each lowerdir relative to the parent of
 * their longest common prefix, to be mounted from that directory. Returns the directory
 * to mount from ("" when nothing could be compacted) and the new options.
 */
export function compactLowerdirOption(opts: string[]): [string, string[]] {
  const idx = opts.findIndex((o) => o.startsWith("lowerdir="));
  if (idx === -1) return ["", opts];
  const dirs = (opts[idx] as string).slice("lowerdir=".length).split(":");
  if (dirs.length === 1) return ["", opts];
  const common = longestCommonPrefix(dirs);
  if (common === "") return ["", opts];
  // Snapshot ids are digits: step back to the parent so that "snapshots/1" and
  // "snapshots/12" do not share "snapshots/1".
  const slash = common.lastIndexOf("/");
  if (slash <= 0) return ["", opts];
  const commondir = `${common.slice(0, slash)}/`;
  const relative = dirs.map((d) => d.slice(commondir.length));
  const newopts = opts.filter((_, i) => i !== idx);
  newopts.push(`lowerdir=${relative.join(":")}`);
  return [commondir, newopts];
}

export function longestCommonPrefix(strs: string[]): string {
  if (strs.length === 0) return "";
  let min = strs[0] as string;
  let max = min;
  for (const s of strs) {
    if (s < min) min = s;
    if (s > max) max = s;
  }
  let i = 0;
  while (i < min.length && min[i] === max[i]) i++;
  return min.slice(0, i);
}

function optionsSize(opts: string[]): number {
  return opts.reduce((n, o) => n + o.length, 0);
}

function stderrOf(err: unknown): string {
  const e = err as { stderr?: string; message?: string };
  return (e.stderr || e.message || String(err)).trim();
}
