// After github.com/cyphar/filepath-securejoin (SecureJoin), which continuity's fs.RootPath
// wraps: resolves a path inside a root, following symlinks in its components as if the
// root were "/". Where securejoin clamps a step that would leave the root, this refuses it:
// a ".." above the root, or a symlink whose target is absolute or climbs above the root.
// A layer that tries either is hostile or broken, and no write may go through it.
import { lstatSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { invalidArgument } from "../../lib/errdefs.js";

/** securejoin's bound on symlink expansions. */
const maxSymlinks = 255;

/**
 * The components of a tar entry name, cleaned lexically as Go's filepath.Clean does.
 * Absolute names and names whose ".." climb above the root are refused.
 */
export function cleanEntryName(name: string): string[] {
  if (name.startsWith("/")) throw escapes();
  const parts: string[] = [];
  for (const p of name.split("/")) {
    if (p === "" || p === ".") continue;
    if (p === "..") {
      if (parts.length === 0) throw escapes();
      parts.pop();
    } else {
      parts.push(p);
    }
  }
  return parts;
}

/**
 * The components, relative to `root`, of the real path that `parts` name, every symlink
 * among them followed. Components that do not exist are kept as they are.
 */
export function resolveInRoot(root: string, parts: readonly string[]): string[] {
  const resolved: string[] = [];
  const pending = [...parts];
  let links = 0;
  for (let part = pending.shift(); part !== undefined; part = pending.shift()) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (resolved.length === 0) throw escapes();
      resolved.pop();
      continue;
    }
    resolved.push(part);
    const path = join(root, ...resolved);
    if (!isSymlink(path)) continue;
    if (++links > maxSymlinks) throw invalidArgument("too many levels of symbolic links");
    const target = readlinkSync(path);
    const link = resolved.join("/");
    resolved.pop();
    if (target.startsWith("/") || climbsAbove(resolved.length, target)) throw escapes(link, target);
    pending.unshift(...target.split("/"));
  }
  return resolved;
}

function isSymlink(path: string): boolean {
  try {
    return lstatSync(path, { throwIfNoEntry: false })?.isSymbolicLink() ?? false;
  } catch (err) {
    // A component that is a file: the write below it fails on its own, with ENOTDIR.
    if ((err as NodeJS.ErrnoException).code === "ENOTDIR") return false;
    throw err;
  }
}

/** Whether a relative symlink target, read in a directory `depth` below the root, leaves it. */
function climbsAbove(depth: number, target: string): boolean {
  for (const p of target.split("/")) {
    if (p === "..") {
      if (--depth < 0) return true;
    } else if (p !== "" && p !== ".") {
      depth++;
    }
  }
  return false;
}

function escapes(link?: string, target?: string) {
  return invalidArgument(
    link === undefined
      ? "path escapes the snapshot"
      : `path escapes the snapshot through symlink "${link}" -> "${target}"`,
  );
}
