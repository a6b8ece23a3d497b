// Ported from containerd pkg/netns/netns_linux.go (NewNetNS, unmountNS, Closed): persistent
// network namespaces, each an nsfs bind mount on a file "cni-<uuid>" under a base directory.
// The CRI passes <plugin state>/netns as the base (containerd's netns_mounts_under_state_dir),
// so each daemon owns its namespaces, tests can run daemons side by side, and the listing of
// that one directory is what restart recovery sweeps. Node cannot unshare(2) a thread of its
// own, so util-linux does it: `unshare --net=<file>` creates the namespace and bind-mounts it
// on the file in one step, and `nsenter --net=<file>` runs a command inside.
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdir, open, readdir, realpath, rm } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { BerthError, wrap } from "../../lib/errdefs.js";
import { isMountPoint, unmountAll } from "../../lib/mount/mount.js";

const exec = promisify(execFile);

/** The prefix containerd gives its namespace files; recovery lists only these. */
const NetNSPrefix = "cni-";

/** Creates a network namespace pinned at `<baseDir>/cni-<uuid>` and returns that path. */
export async function newNetNS(baseDir: string): Promise<string> {
  try {
    await mkdir(baseDir, { recursive: true, mode: 0o711 });
  } catch (err) {
    throw wrap(err, `failed to create netns directory "${baseDir}"`);
  }
  const path = join(baseDir, `${NetNSPrefix}${randomUUID()}`);
  try {
    // unshare(1) bind-mounts onto an existing file only; "wx" fails on a clash instead of sharing.
    await (await open(path, "wx", 0o444)).close();
    await exec("unshare", [`--net=${path}`, "true"]);
  } catch (err) {
    // A failed unshare may still have mounted: undo both, keep the first error.
    await removeNetNS(path).catch(() => {});
    throw new BerthError("Unknown", `failed to create netns "${path}": ${stderrOf(err)}`, { cause: err });
  }
  return path;
}

/** Unmounts and deletes a namespace file; a path that is already gone is no error. */
export async function removeNetNS(path: string): Promise<void> {
  try {
    await unmountAll(path);
    await rm(path, { force: true });
  } catch (err) {
    throw wrap(err, `failed to remove netns "${path}"`);
  }
}

/**
 * Whether `path` still pins a namespace (containerd's !Closed()). A file left unmounted by
 * a crash between create and mount is not a namespace, only something for removeNetNS.
 */
export async function netNSExists(path: string): Promise<boolean> {
  let real: string;
  try {
    // mountinfo names mount points by their real path (/var/run is often a link to /run).
    real = await realpath(path);
  } catch {
    return false;
  }
  return isMountPoint(real);
}

/** Every namespace file under `baseDir`, mounted or not: what restart recovery weighs. */
export async function listNetNS(baseDir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(baseDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw wrap(err, `failed to list netns directory "${baseDir}"`);
  }
  return names
    .filter((n) => n.startsWith(NetNSPrefix))
    .sort()
    .map((n) => join(baseDir, n));
}

/** The argv that runs `argv` inside the namespace at `path`, for spawn or execFile. */
export function netNSCommand(path: string, argv: string[]): [string, string[]] {
  return ["nsenter", [`--net=${path}`, "--", ...argv]];
}

/** Runs a command inside the namespace and returns its stdout. */
export async function execInNetNS(path: string, argv: string[]): Promise<string> {
  const [file, args] = netNSCommand(path, argv);
  try {
    return (await exec(file, args)).stdout;
  } catch (err) {
    throw new BerthError(
      "Unknown",
      `failed to run "${argv.join(" ")}" in netns "${path}": ${stderrOf(err)}`,
      {
        cause: err,
      },
    );
  }
}

function stderrOf(err: unknown): string {
  const e = err as { stderr?: string; message?: string };
  return (e.stderr || e.message || String(err)).trim();
}
