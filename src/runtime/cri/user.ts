// After containerd 1.6 oci/spec_opts.go (WithUser, WithUserID, WithUsername, WithAdditionalGIDs),
// pkg/cri/opts/spec_linux.go (WithAdditionalGIDs, WithSupplementalGroups, mergeGids) and
// pkg/cri/server/container_create_linux.go (generateUserString). Users and groups come from the
// image's /etc/passwd and /etc/group, read inside the rootfs the way runc's libcontainer/user
// parses them; the rootfs is untrusted, so its symlinks are resolved within it.
import { lstat, readFile, readlink } from "node:fs/promises";
import { join, posix } from "node:path";
import type { Int64Value } from "../../cri/gen/runtime/v1/api_pb.js";
import { BerthError } from "../../lib/errdefs.js";
import type { Process, Spec } from "../../runc/oci-spec.js";

/** Runs `fn` with the container's rootfs available (read-only) at the directory it is given. */
export type WithRootfs = <T>(fn: (root: string) => Promise<T>) => Promise<T>;

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/**
 * The CRI user fields as an image-spec USER string (uid, name, uid:gid or name:gid); ""
 * when none is set. A group alone is an error, as CRI defines no meaning for it.
 */
export function generateUserString(
  username: string,
  uid: Int64Value | undefined,
  gid: Int64Value | undefined,
): string {
  const user = username !== "" ? username : uid ? String(uid.value) : "";
  const group = gid ? String(gid.value) : "";
  if (user === "") {
    if (group !== "") throw unknown(`user group "${group}" is specified without user`);
    return "";
  }
  return group !== "" ? `${user}:${group}` : user;
}

// Go's strconv.Atoi: an optional sign and decimal digits, nothing else.
function atoi(s: string): number | undefined {
  return /^[+-]?\d+$/.test(s) ? Number.parseInt(s, 10) : undefined;
}

// libcontainer/user reads a numeric field with Atoi and keeps 0 when it does not parse.
function intField(s: string | undefined): number {
  return atoi(s ?? "") ?? 0;
}

function lines(text: string): string[][] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => l.split(":"));
}

export function parsePasswd(text: string): PasswdEntry[] {
  return lines(text).map(([name = "", , uid, gid]) => ({ name, uid: intField(uid), gid: intField(gid) }));
}

export function parseGroup(text: string): GroupEntry[] {
  return lines(text).map(([name = "", , gid, list = ""]) => ({
    name,
    gid: intField(gid),
    members: list === "" ? [] : list.split(","),
  }));
}

/**
 * `path` inside `root` with every symlink resolved as if `root` were "/", so that a link in
 * the image can never lead outside it (continuity's fs.RootPath).
 */
export async function rootPath(root: string, path: string): Promise<string> {
  let resolved = "/";
  const pending = posix.normalize(`/${path}`).split("/").filter(Boolean);
  for (let links = 0; pending.length > 0; ) {
    const part = pending.shift() as string;
    if (part === "..") {
      resolved = posix.dirname(resolved);
      continue;
    }
    const next = posix.join(resolved, part);
    const st = await lstat(join(root, next)).catch(() => undefined);
    if (!st?.isSymbolicLink()) {
      resolved = next;
      continue;
    }
    if (++links > 255) throw unknown(`too many links resolving "${path}" in "${root}"`);
    const target = await readlink(join(root, next));
    if (target.startsWith("/")) resolved = "/";
    pending.unshift(...target.split("/").filter(Boolean));
  }
  return join(root, resolved);
}

/** The file's text, or undefined when the image has no such file. */
async function readImageFile(root: string, path: string): Promise<string | undefined> {
  try {
    return await readFile(await rootPath(root, path), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

function missing(path: string, root: string): BerthError {
  return unknown(`open ${join(root, path)}: no such file or directory`);
}

function unknown(message: string): BerthError {
  return new BerthError("Unknown", message);
}

function processOf(s: Spec): Process {
  if (!s.process) throw new BerthError("Internal", "spec has no process");
  return s.process;
}

const userOf = (s: Spec) => processOf(s).user;

function setUser(s: Spec, uid: number, gid: number): void {
  processOf(s).user = { uid, gid };
}

/** The primary gid always belongs to the additional gids (containerd's ensureAdditionalGids). */
function ensureAdditionalGids(s: Spec): void {
  const user = userOf(s);
  const gids = user.additionalGids ?? [];
  if (!gids.includes(user.gid)) user.additionalGids = [user.gid, ...gids];
}

/**
 * Sets uid and gid from an image-spec USER string: uid, name, uid:gid, name:group … Names are
 * looked up in the rootfs; a uid alone takes its gid from /etc/passwd (0 if absent there).
 * Clears the additional gids, leaving the primary gid alone in them.
 */
export async function withUser(s: Spec, userstr: string, withRootfs: WithRootfs): Promise<void> {
  const parts = userstr.split(":");
  if (parts.length === 1) {
    const uid = atoi(userstr);
    return uid === undefined ? withUsername(s, userstr, withRootfs) : withUserId(s, uid, withRootfs);
  }
  if (parts.length !== 2) throw unknown(`invalid USER value ${userstr}`);
  const [user = "", group = ""] = parts;
  let uid = atoi(user) ?? 0;
  let gid = atoi(group) ?? 0;
  const username = atoi(user) === undefined ? user : "";
  const groupname = atoi(group) === undefined ? group : "";
  if (username !== "" || groupname !== "") {
    await withRootfs(async (root) => {
      if (username !== "") {
        const text = await readImageFile(root, "/etc/passwd");
        if (text === undefined) throw missing("/etc/passwd", root);
        const found = parsePasswd(text).find((u) => u.name === username);
        if (!found) throw unknown("no users found");
        uid = found.uid;
      }
      if (groupname !== "") {
        const text = await readImageFile(root, "/etc/group");
        if (text === undefined) throw missing("/etc/group", root);
        const found = parseGroup(text).find((g) => g.name === groupname);
        if (!found) throw unknown("no groups found");
        gid = found.gid;
      }
    });
  }
  setUser(s, uid, gid);
  ensureAdditionalGids(s);
}

async function withUserId(s: Spec, uid: number, withRootfs: WithRootfs): Promise<void> {
  const found = await withRootfs(async (root) => {
    const text = await readImageFile(root, "/etc/passwd");
    return text === undefined ? undefined : parsePasswd(text).find((u) => u.uid === uid);
  });
  setUser(s, uid, found?.gid ?? 0);
  ensureAdditionalGids(s);
}

async function withUsername(s: Spec, username: string, withRootfs: WithRootfs): Promise<void> {
  const found = await withRootfs(async (root) => {
    const text = await readImageFile(root, "/etc/passwd");
    if (text === undefined) throw missing("/etc/passwd", root);
    return parsePasswd(text).find((u) => u.name === username);
  });
  if (!found) throw unknown("no users found");
  setUser(s, found.uid, found.gid);
  ensureAdditionalGids(s);
}

/**
 * Adds the groups of /etc/group that list the user (a name or a uid) as a member, besides
 * its own group, to what the additional gids already hold.
 */
export async function withAdditionalGids(s: Spec, userstr: string, withRootfs: WithRootfs): Promise<void> {
  const user = userOf(s);
  const before = user.additionalGids ?? [];
  const gids = await withRootfs(async (root) => {
    let username = userstr;
    const uid = atoi(userstr);
    if (uid !== undefined) {
      const passwd = await readImageFile(root, "/etc/passwd");
      const found = passwd === undefined ? undefined : parsePasswd(passwd).find((u) => u.uid === uid);
      if (!found) return [];
      username = found.name;
    }
    const group = await readImageFile(root, "/etc/group");
    if (group === undefined) return [];
    return parseGroup(group)
      .filter((g) => g.name !== username && g.members.includes(username))
      .map((g) => g.gid);
  });
  user.additionalGids = gids;
  ensureAdditionalGids(s);
  user.additionalGids = mergeGids(user.additionalGids, before);
}

/** CRI supplemental groups join the additional gids. */
export function withSupplementalGroups(s: Spec, groups: bigint[]): void {
  const user = userOf(s);
  const merged = mergeGids(user.additionalGids ?? [], groups.map(Number));
  if (merged.length > 0) user.additionalGids = merged;
}

/** The union of both lists, sorted. */
export function mergeGids(a: number[], b: number[]): number[] {
  return [...new Set([...a, ...b])].sort((x, y) => x - y);
}
