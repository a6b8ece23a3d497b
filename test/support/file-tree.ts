// A file tree as a comparable listing: what differential tests hold two unpacked images
// against each other with. Every entry is lstat'ed (no link is followed) and described by
// what layer apply must get right: type, mode, owner, size, mtime, device numbers, link
// target, content hash, xattrs and which paths share an inode.
import { createHash } from "node:crypto";
import type { Stats } from "node:fs";
import { lstat, readdir, readFile, readlink } from "node:fs/promises";
import { join } from "node:path";
import { getAttribute, listAttributes } from "@napi-rs/xattr";

export interface TreeEntry {
  path: string;
  type: "dir" | "file" | "symlink" | "fifo" | "char" | "block" | "socket";
  /** Permission bits with setuid, setgid and sticky. */
  mode: number;
  uid: number;
  gid: number;
  size?: number;
  /**
   * Milliseconds since the epoch, or "unpack time" for a directory touched while unpacking
   * (the snapshot root, parents made for a layer that lists none): that moment differs per run.
   */
  mtime: number | "unpack time";
  nlink?: number;
  rdev?: number;
  target?: string;
  sha256?: string;
  /** name → value in hex. */
  xattrs: Record<string, string>;
}

export interface FileTree {
  entries: TreeEntry[];
  /** Paths of non-directories sharing an inode, each group sorted, groups sorted. */
  hardlinks: string[][];
}

/** Lists `root` recursively; directories with an mtime at or after `unpackedSince` (ms) count as unpacked then. */
export async function readFileTree(root: string, unpackedSince: number): Promise<FileTree> {
  const entries: TreeEntry[] = [];
  const inodes = new Map<number, string[]>();
  const visit = async (rel: string) => {
    const abs = join(root, rel);
    const st = await lstat(abs);
    const type = typeOf(st);
    const entry: TreeEntry = {
      path: rel === "" ? "/" : rel,
      type,
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      mtime: type === "dir" && st.mtimeMs >= unpackedSince ? "unpack time" : st.mtimeMs,
      xattrs: await xattrsOf(abs),
    };
    if (type === "file" || type === "symlink") entry.size = st.size;
    if (type !== "dir") entry.nlink = st.nlink;
    if (type === "char" || type === "block") entry.rdev = st.rdev;
    if (type === "symlink") entry.target = await readlink(abs);
    if (type === "file")
      entry.sha256 = createHash("sha256")
        .update(await readFile(abs))
        .digest("hex");
    entries.push(entry);
    if (type !== "dir") inodes.set(st.ino, [...(inodes.get(st.ino) ?? []), entry.path]);
    if (type === "dir") {
      for (const name of (await readdir(abs)).sort()) await visit(rel === "" ? name : `${rel}/${name}`);
    }
  };
  await visit("");
  const hardlinks = [...inodes.values()]
    .filter((paths) => paths.length > 1)
    .map((paths) => paths.sort())
    .sort((a, b) => ((a[0] ?? "") < (b[0] ?? "") ? -1 : 1));
  return { entries, hardlinks };
}

function typeOf(st: Stats): TreeEntry["type"] {
  if (st.isDirectory()) return "dir";
  if (st.isFile()) return "file";
  if (st.isSymbolicLink()) return "symlink";
  if (st.isFIFO()) return "fifo";
  if (st.isCharacterDevice()) return "char";
  if (st.isBlockDevice()) return "block";
  return "socket";
}

/** @napi-rs/xattr does not follow symlinks: a link's own xattrs are read. */
async function xattrsOf(path: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await listAttributes(path)).sort()) {
    out[name] = (await getAttribute(path, name))?.toString("hex") ?? "";
  }
  return out;
}
