// Port of kubelet 1.28 pkg/volume/util/atomic_writer.go (AtomicWriter.Write), including the fix that
// recreates missing user-visible links when the data itself is unchanged.
//
// Layout of a target directory:
//   ..2024_05_01_10_00_00.Ab12Cd/   the files of one version (the timestamped directory)
//   ..data -> ..2024_05_01_10_00_00.Ab12Cd
//   key -> ..data/key               what users see, one link per top-level name
// A new version is written beside the old one and published by renaming a fresh ..data_tmp link over
// ..data, so a reader sees either the old set of files or the new one, never a mix.
import {
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  rmdir,
  symlink,
  unlink,
  writeFile,
} from "node:fs/promises";
import { dirname, isAbsolute, join } from "node:path";
import { invalidArgument, notFound } from "../../lib/errdefs.js";
import { cleanPath } from "./volume-plugin.js";

/** One file to project: its bytes and permission bits. */
export interface FileProjection {
  data: Buffer;
  mode: number;
}

const dataDirName = "..data";
const newDataDirName = "..data_tmp";
const maxFileNameLength = 255;
const maxPathLength = 4096;

/**
 * Projects `payload` (relative path → file) into `targetDir`, which must exist. Files no longer in
 * the payload disappear with the old version; nothing is rewritten when every file is already as asked.
 */
export async function writeAtomic(targetDir: string, payload: Map<string, FileProjection>): Promise<void> {
  const clean = validatePayload(payload);
  await lstat(targetDir).catch((err: NodeJS.ErrnoException) => {
    throw err.code === "ENOENT" ? notFound(`target directory ${targetDir} does not exist`, err) : err;
  });

  const dataDirPath = join(targetDir, dataDirName);
  let oldTsDir = await readlink(dataDirPath).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return "";
    throw err;
  });
  const oldTsPath = join(targetDir, oldTsDir);

  let toRemove = new Set<string>();
  let shouldWrite = true;
  if (oldTsDir !== "") {
    toRemove = await pathsToRemove(clean, oldTsPath);
    if (!(await shouldWritePayload(clean, oldTsPath)) && toRemove.size === 0) {
      // The data is current, but links may have gone missing: recreate those below and keep the
      // timestamped directory.
      shouldWrite = false;
      oldTsDir = "";
    }
  }

  if (shouldWrite) {
    const tsDir = await newTimestampDir(targetDir);
    const tsDirName = tsDir.slice(targetDir.length + 1);
    await writePayloadToDir(clean, tsDir);
    const newDataDirPath = join(targetDir, newDataDirName);
    try {
      await symlink(tsDirName, newDataDirPath);
    } catch (err) {
      await rm(tsDir, { recursive: true, force: true });
      throw err;
    }
    try {
      // rename(2) replaces ..data in one step: this is the moment the new version becomes visible.
      await rename(newDataDirPath, dataDirPath);
    } catch (err) {
      await rm(newDataDirPath, { force: true });
      await rm(tsDir, { recursive: true, force: true });
      throw err;
    }
  }

  await createUserVisibleFiles(clean, targetDir);
  await removeUserVisiblePaths(toRemove, targetDir);
  if (oldTsDir !== "") await rm(oldTsPath, { recursive: true, force: true });
}

/** validatePayload: each path checked, then cleaned. */
function validatePayload(payload: Map<string, FileProjection>): Map<string, FileProjection> {
  const clean = new Map<string, FileProjection>();
  for (const [path, file] of payload) {
    validatePath(path);
    clean.set(cleanPath(path), file);
  }
  return clean;
}

/**
 * validatePath: a payload path stays inside the target and out of the writer's own `..` names.
 * Lengths are in bytes, as the kernel counts them.
 */
export function validatePath(targetPath: string): void {
  if (targetPath === "") throw invalidArgument(`invalid path: must not be empty: ""`);
  if (isAbsolute(targetPath)) throw invalidArgument(`invalid path: must be relative path: ${targetPath}`);
  if (Buffer.byteLength(targetPath) > maxPathLength) {
    throw invalidArgument(`invalid path: must be less than or equal to ${maxPathLength} characters`);
  }
  const items = targetPath.split("/");
  for (const item of items) {
    if (item === "..") throw invalidArgument(`invalid path: must not contain '..': ${targetPath}`);
    if (Buffer.byteLength(item) > maxFileNameLength) {
      throw invalidArgument(
        `invalid path: filenames must be less than or equal to ${maxFileNameLength} characters`,
      );
    }
  }
  const first = items[0] as string;
  if (first.startsWith("..") && first.length > 2) {
    throw invalidArgument(`invalid path: must not start with '..': ${targetPath}`);
  }
}

/** shouldWritePayload: whether any file is missing from the current version or differs in content. */
async function shouldWritePayload(payload: Map<string, FileProjection>, oldTsDir: string): Promise<boolean> {
  for (const [path, file] of payload) {
    const onDisk = await readFile(join(oldTsDir, path)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return undefined;
      throw err;
    });
    if (onDisk === undefined || !onDisk.equals(file.data)) return true;
  }
  return false;
}

/** pathsToRemove: what the current version holds that the payload (with its parent directories) does not. */
async function pathsToRemove(payload: Map<string, FileProjection>, oldTsDir: string): Promise<Set<string>> {
  const current = await walk(oldTsDir, "");
  const wanted = new Set<string>();
  for (const path of payload.keys()) {
    for (let sub = path; sub !== "." && sub !== ""; sub = dirname(sub)) wanted.add(sub);
  }
  return new Set(current.filter((p) => !wanted.has(p)));
}

/** Every path below `root`, relative to it; nothing when it is gone. */
async function walk(root: string, prefix: string): Promise<string[]> {
  const entries = await readdir(join(root, prefix), { withFileTypes: true }).catch(
    (err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return [];
      throw err;
    },
  );
  const paths: string[] = [];
  for (const e of entries) {
    const rel = prefix === "" ? e.name : `${prefix}/${e.name}`;
    paths.push(rel);
    if (e.isDirectory()) paths.push(...(await walk(root, rel)));
  }
  return paths;
}

function timestamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getUTCFullYear()}_${p(d.getUTCMonth() + 1)}_${p(d.getUTCDate())}_${p(d.getUTCHours())}_${p(d.getUTCMinutes())}_${p(d.getUTCSeconds())}`;
}

async function newTimestampDir(targetDir: string): Promise<string> {
  const tsDir = await mkdtemp(join(targetDir, `..${timestamp(new Date())}.`));
  // Group and others must be able to walk in, whatever the kubelet's umask.
  await chmod(tsDir, 0o755);
  return tsDir;
}

async function writePayloadToDir(payload: Map<string, FileProjection>, dir: string): Promise<void> {
  for (const [path, file] of payload) {
    const full = join(dir, path);
    await mkdir(dirname(full), { recursive: true, mode: 0o777 });
    await writeFile(full, file.data, { mode: file.mode });
    // The umask narrowed the mode given to open(2); the file gets exactly what was asked.
    await chmod(full, file.mode);
  }
}

/** createUserVisibleFiles: a link into ..data for each top-level name that has none yet. */
async function createUserVisibleFiles(
  payload: Map<string, FileProjection>,
  targetDir: string,
): Promise<void> {
  for (const path of payload.keys()) {
    const linkName = path.split("/")[0] as string;
    const visible = join(targetDir, linkName);
    const missing = await readlink(visible).then(
      () => false,
      (err: NodeJS.ErrnoException) => err.code === "ENOENT",
    );
    if (missing) await symlink(join(dataDirName, linkName), visible);
  }
}

/** removeUserVisiblePaths: only the top-level links; deeper paths went with the old version. */
async function removeUserVisiblePaths(paths: Set<string>, targetDir: string): Promise<void> {
  let lastErr: unknown;
  for (const p of paths) {
    if (p.includes("/")) continue;
    try {
      await removePath(join(targetDir, p));
    } catch (err) {
      lastErr = err;
    }
  }
  if (lastErr !== undefined) throw lastErr;
}

/** os.Remove: a file or link, else an empty directory. */
async function removePath(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EISDIR") throw err;
    await rmdir(path);
  }
}
