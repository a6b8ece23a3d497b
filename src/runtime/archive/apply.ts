// Ported from containerd archive/tar.go (applyNaive, createTarFile, mkparent),
// archive/tar_unix.go (handleTarTypeBlockCharFifo, handleLChmod) and
// archive/tar_opts_linux.go (OverlayConvertWhiteout): applies a layer into an overlay upper
// directory, whiteouts becoming overlayfs whiteouts as diff/apply/apply_linux.go does.
//
// Every entry name and hardlink target is resolved inside the root before anything is
// written (root-path.ts); the resolved parents hold no symlink, files are created with
// O_EXCL|O_NOFOLLOW, and metadata calls do not follow the last component, so no write can
// land outside the root.
//
// The file system calls are synchronous: each takes microseconds, while a round trip
// through libuv's thread pool costs far more, and a layer makes thousands of them in a
// row. Only reading the stream awaits, so the event loop still turns between chunks.
import { createHash } from "node:crypto";
import {
  chmodSync,
  closeSync,
  constants as fsc,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  rmSync,
  type Stats,
  statSync,
  symlinkSync,
  writeSync,
} from "node:fs";
import { constants as osc } from "node:os";
import { join, resolve } from "node:path";
import { Readable } from "node:stream";
import { getAttributeSync, listAttributesSync, setAttributeSync } from "@napi-rs/xattr";
import { invalidArgument, wrap } from "../../lib/errdefs.js";
import type { Logger } from "../../lib/log.js";
import { mknod } from "./mknod.js";
import { cleanEntryName, resolveInRoot } from "./root-path.js";
import { readTar, type TarHeader, TypeFlag } from "./tar-reader.js";

const whiteoutPrefix = ".wh.";
const whiteoutMetaPrefix = ".wh..wh.";
const whiteoutOpaqueDir = ".wh..wh..opq";
/** overlayfs's own xattrs: a layer must not steer it (redirects, metacopy, origin). */
const overlayXattrPrefix = "trusted.overlay.";

export interface ApplyOptions {
  log: Logger;
  /**
   * The lower layers' directories, nearest first. A parent directory the layer does not
   * list is created with their metadata, as containerd's mkparent does.
   */
  parents?: string[];
}

export interface ApplyResult {
  /** "sha256:<hex>" of the uncompressed stream: the layer's diffID. */
  diffID: string;
  /** Bytes in the uncompressed stream. */
  size: number;
}

/**
 * Applies an uncompressed layer tar to `dir`. A hostile entry (a path or hardlink leaving
 * the root, directly or through a symlink) rejects the layer with InvalidArgument before it
 * writes; what was applied until then stays for the caller to remove with the snapshot.
 * The stream is read to its end, or destroyed (if a Readable) on failure.
 */
export async function applyLayer(
  dir: string,
  tar: AsyncIterable<Buffer>,
  opts: ApplyOptions,
): Promise<ApplyResult> {
  const hash = createHash("sha256");
  let size = 0;
  const source = (async function* () {
    for await (const chunk of tar) {
      hash.update(chunk);
      size += chunk.length;
      yield chunk;
    }
  })();
  let applier: LayerApplier;
  try {
    if (!statSync(dir).isDirectory()) throw invalidArgument("not a directory");
    applier = new LayerApplier(resolve(dir), opts, readdirSync(dir).length === 0);
    for await (const { header, body } of readTar(source)) {
      try {
        await applier.apply(header, body);
      } catch (err) {
        throw wrap(err, `layer entry "${header.name}"`);
      }
    }
    applier.finish();
  } catch (err) {
    await source.return(undefined);
    if (tar instanceof Readable) tar.destroy();
    throw wrap(err, `failed to apply layer to "${dir}"`);
  }
  return { diffID: `sha256:${hash.digest("hex")}`, size };
}

class LayerApplier {
  /** Resolved parent directories by entry parent name; dropped when an entry replaces anything. */
  private readonly parentCache = new Map<string, string[]>();
  /** Directory entries, whose times are set last: adding to a directory changes its mtime. */
  private readonly dirs: { rel: string[]; hdr: TarHeader }[] = [];
  /** A whiteout made by mknod(1) per owner, which later whiteouts of that owner link to. */
  private readonly whiteouts = new Map<string, string>();
  /**
   * Applying into an empty directory, every path this layer made (by real path from the root):
   * any other path does not exist, which spares a stat per entry. Undefined otherwise.
   */
  private readonly made: Set<string> | undefined;
  /**
   * The owner, mode and times this apply gave each regular file's inode, one object shared by the
   * paths linked to it: a hardlink whose header asks for what its inode has already (busybox's
   * hundreds of applets) sets nothing again.
   */
  private readonly inodes = new Map<string, { meta: string }>();

  constructor(
    private readonly root: string,
    private readonly opts: ApplyOptions,
    intoEmptyDir: boolean,
  ) {
    if (intoEmptyDir) this.made = new Set();
  }

  async apply(hdr: TarHeader, body: AsyncIterable<Buffer>): Promise<void> {
    const parts = cleanEntryName(hdr.name);
    const base = parts.at(-1);
    if (base === undefined) return; // the root itself, which containerd skips too
    const top = parts.join("/");
    if (top.startsWith(whiteoutMetaPrefix) && top !== whiteoutOpaqueDir) {
      // AUFS bookkeeping (.wh..wh.plnk, .wh..wh.aufs) is not part of the filesystem.
      this.opts.log.debug({ entry: hdr.name }, "skipping AUFS metadata entry");
      return;
    }
    // A hardlink target is checked before anything of this entry is written.
    const link = hdr.typeflag === TypeFlag.Link ? this.hardlinkTarget(hdr.linkname) : undefined;
    const parent = this.parentDir(parts.slice(0, -1));
    if (base.startsWith(whiteoutPrefix)) return this.whiteout(hdr, parent, base);

    const rel = [...parent, base];
    const path = join(this.root, ...rel);
    const existing = this.lstatIfMade(rel, path);
    // Only a directory over a directory merges; anything else replaces what was there.
    const merge = existing?.isDirectory() === true && hdr.typeflag === TypeFlag.Dir;
    if (existing && !merge) {
      rmSync(path, { recursive: true, force: true });
      this.parentCache.clear();
    }
    this.made?.add(rel.join("/"));
    await this.createTarFile(hdr, path, merge, body, link);
    if (hdr.typeflag === TypeFlag.Dir) this.dirs.push({ rel, hdr });
  }

  /** Sets directory times, re-resolving each path as later entries may have changed it. */
  finish(): void {
    for (const { rel, hdr } of this.dirs) {
      const real = [...resolveInRoot(this.root, rel.slice(0, -1)), rel.at(-1) as string];
      const path = join(this.root, ...real);
      if (lstatOrUndefined(path)?.isDirectory()) lutimesSync(path, atimeOf(hdr), hdr.mtime);
    }
  }

  private async createTarFile(
    hdr: TarHeader,
    path: string,
    merge: boolean,
    body: AsyncIterable<Buffer>,
    link: HardlinkTarget | undefined,
  ): Promise<void> {
    switch (hdr.typeflag) {
      case TypeFlag.Dir:
        if (!merge) mkdirSync(path, hdr.mode & 0o777);
        break;
      case TypeFlag.Reg:
      case TypeFlag.Cont:
        await writeFile(path, hdr.mode & 0o777, body);
        break;
      case TypeFlag.Char:
      case TypeFlag.Block:
      case TypeFlag.Fifo: {
        const type =
          hdr.typeflag === TypeFlag.Char ? "char" : hdr.typeflag === TypeFlag.Block ? "block" : "fifo";
        await mknod(path, type, hdr.mode, hdr.devmajor, hdr.devminor);
        break;
      }
      case TypeFlag.Link:
        // Unlike GNU tar, containerd (and Docker) then give the shared inode the owner,
        // xattrs, mode and times of the link's own header, as below.
        linkSync((link as HardlinkTarget).path, path);
        break;
      case TypeFlag.Symlink:
        symlinkSync(hdr.linkname, path);
        break;
      default:
        throw invalidArgument(`unsupported tar entry type ${JSON.stringify(hdr.typeflag)}`);
    }
    const meta = `${hdr.uid}:${hdr.gid}:${hdr.mode}:${atimeOf(hdr)}:${hdr.mtime}`;
    const inode =
      hdr.typeflag === TypeFlag.Reg || hdr.typeflag === TypeFlag.Cont
        ? { meta: "" }
        : hdr.typeflag === TypeFlag.Link
          ? this.inodes.get((link as HardlinkTarget).path)
          : undefined;
    if (inode) this.inodes.set(path, inode);
    else this.inodes.delete(path);
    if (inode?.meta === meta && hdr.xattrs.size === 0) return;
    lchownSync(path, hdr.uid, hdr.gid);
    for (const [name, value] of hdr.xattrs) this.setXattr(path, name, value);
    // chmod after chown, which clears setuid and setgid. Symlinks have no mode of their own, and
    // chmod follows them: a hardlink to a symlink is not changed either (containerd's handleLChmod),
    // or a layer could chmod what its symlink points at, outside the snapshot.
    if (hdr.typeflag !== TypeFlag.Symlink && !link?.isSymlink) chmodSync(path, hdr.mode);
    if (hdr.typeflag !== TypeFlag.Dir) lutimesSync(path, atimeOf(hdr), hdr.mtime);
    if (inode) inode.meta = meta;
  }

  /** OverlayConvertWhiteout: ".wh.<name>" becomes a 0:0 char device, ".wh..wh..opq" an opaque dir. */
  private async whiteout(hdr: TarHeader, parent: string[], base: string): Promise<void> {
    const dir = join(this.root, ...parent);
    if (base === whiteoutOpaqueDir) {
      setAttributeSync(dir, "trusted.overlay.opaque", "y");
      return;
    }
    const original = base.slice(whiteoutPrefix.length);
    if (original === "" || original === "." || original === "..") {
      throw invalidArgument(`invalid whiteout name "${base}"`);
    }
    const path = join(dir, original);
    this.made?.add([...parent, original].join("/"));
    this.inodes.delete(path);
    // Linking costs a system call where mknod costs a process, and overlayfs shares its own
    // whiteouts the same way. What is linked to must still be such a node with this owner:
    // a later entry may have replaced it.
    const owner = `${hdr.uid}:${hdr.gid}`;
    const shared = this.whiteouts.get(owner);
    const st = shared === undefined ? undefined : lstatOrUndefined(shared);
    if (shared && st?.isCharacterDevice() && st.rdev === 0 && st.uid === hdr.uid && st.gid === hdr.gid) {
      try {
        linkSync(shared, path);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EMLINK") throw err;
      }
    }
    await mknod(path, "char", 0, 0, 0);
    lchownSync(path, hdr.uid, hdr.gid);
    this.whiteouts.set(owner, path);
  }

  private setXattr(path: string, name: string, value: Buffer): void {
    if (name.startsWith(overlayXattrPrefix)) {
      this.opts.log.warn({ path, xattr: name }, "ignored overlayfs xattr in layer");
      return;
    }
    try {
      setAttributeSync(path, name, value);
    } catch (err) {
      if (osErrno(err) === osc.errno.EOPNOTSUPP) {
        this.opts.log.warn({ path, xattr: name }, "ignored xattr the filesystem does not support");
        return;
      }
      throw wrap(err, `failed to set xattr "${name}"`);
    }
  }

  /** The path to link to: inside the root, reached through no symlink, existing. */
  private hardlinkTarget(linkname: string): HardlinkTarget {
    try {
      const parts = cleanEntryName(linkname);
      const last = parts.at(-1);
      if (last === undefined) throw invalidArgument("cannot link to the root");
      const dir = parts.slice(0, -1);
      const rel = [...(this.parentCache.get(dir.join("/")) ?? resolveInRoot(this.root, dir)), last];
      const path = join(this.root, ...rel);
      const st = this.lstatIfMade(rel, path);
      if (!st) throw invalidArgument("no such file in the layer");
      return { path, isSymlink: st.isSymbolicLink() };
    } catch (err) {
      throw wrap(err, `hardlink target "${linkname}"`);
    }
  }

  /** The real parent directory of an entry, created (mkparent) where missing. */
  private parentDir(parts: string[]): string[] {
    const key = parts.join("/");
    const cached = this.parentCache.get(key);
    if (cached) return cached;
    const real = resolveInRoot(this.root, parts);
    for (let i = 1; i <= real.length; i++) {
      const rel = real.slice(0, i);
      const path = join(this.root, ...rel);
      const st = this.lstatIfMade(rel, path);
      if (st?.isDirectory()) continue;
      if (st) throw invalidArgument(`parent "${rel.join("/")}" is not a directory`);
      this.made?.add(rel.join("/"));
      mkdirSync(path, 0o755);
      this.copyDirInfo(rel, path);
    }
    this.parentCache.set(key, real);
    return real;
  }

  /** lstat of `path` (at `rel` from the root), skipped when the layer cannot have made it. */
  private lstatIfMade(rel: string[], path: string): Stats | undefined {
    if (this.made && !this.made.has(rel.join("/"))) return undefined;
    return lstatOrUndefined(path);
  }

  /** Gives a directory made for a parent the metadata it has in the nearest lower layer. */
  private copyDirInfo(rel: string[], path: string): void {
    for (const lower of this.opts.parents ?? []) {
      // Component by component, so that no symlink of a lower layer is followed.
      let st: Stats | undefined;
      for (let i = 1; i <= rel.length; i++) {
        st = lstatOrUndefined(join(lower, ...rel.slice(0, i)));
        if (!st?.isDirectory()) break;
      }
      if (!st) continue;
      if (!st.isDirectory()) return; // replaced there: nothing to copy
      lchownSync(path, st.uid, st.gid);
      chmodSync(path, st.mode & 0o7777);
      lutimesSync(path, st.atime, st.mtime);
      this.copyUpXattrs(path, join(lower, ...rel));
      return;
    }
  }

  /** containerd's copyUpXAttrs: the lower directory's xattrs, but not trusted.* (overlayfs's own). */
  private copyUpXattrs(path: string, lower: string): void {
    for (const name of listAttributesSync(lower)) {
      const value = name.startsWith("trusted.") ? null : getAttributeSync(lower, name);
      if (value !== null) this.setXattr(path, name, value);
    }
  }
}

/** Where a hardlink entry links to. */
interface HardlinkTarget {
  path: string;
  /** A hardlink to a symlink is one more name of the symlink itself. */
  isSymlink: boolean;
}

/** containerd sets atime to the later of atime and mtime. */
function atimeOf(hdr: TarHeader): number {
  return Math.max(hdr.atime ?? hdr.mtime, hdr.mtime);
}

/** Creates the file (never through a symlink, never over one) and writes the body into it. */
async function writeFile(path: string, mode: number, body: AsyncIterable<Buffer>): Promise<void> {
  const fd = openSync(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, mode);
  try {
    for await (const chunk of body) {
      for (let done = 0; done < chunk.length; ) done += writeSync(fd, chunk, done);
    }
  } finally {
    closeSync(fd);
  }
}

function lstatOrUndefined(path: string): Stats | undefined {
  return lstatSync(path, { throwIfNoEntry: false });
}

/** @napi-rs/xattr reports errno only in its message: "... (os error 95)". */
function osErrno(err: unknown): number | undefined {
  const m = /\(os error (\d+)\)/.exec(err instanceof Error ? err.message : "");
  return m ? Number(m[1]) : undefined;
}
