// Our containers' cgroups. Without a cgroup parent (ctr run, or a CRI pod whose
// PodSandboxConfig has none) runc puts a container at /<containerd namespace>/<id> in
// every hierarchy, v1 controllers and the v2 unified one alike.
import * as fs from "node:fs";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { messageOf } from "../../lib/errdefs.js";
import { readdirEntriesSafe, readFileSafe } from "./files.js";
import type { InstanceRecord } from "./instance.js";
import type { Inventory } from "./inventory.js";
import { signal } from "./processes.js";

interface Hierarchy {
  mount: string;
  /** This process's cgroup in that hierarchy (where relative cgroupsPaths are rooted). */
  ownPath: string;
}

export function cgroupHierarchies(): Hierarchy[] {
  const info = readFileSafe("/proc/self/mountinfo") ?? "";
  const own = (readFileSafe("/proc/self/cgroup") ?? "").split("\n").filter(Boolean);
  const out: Hierarchy[] = [];
  for (const line of info.split("\n")) {
    const [pre, post] = line.split(" - ");
    if (!pre || !post) continue;
    const mount = pre.split(" ")[4];
    const [fstype, , superOpts = ""] = post.split(" ");
    if (!mount || (fstype !== "cgroup" && fstype !== "cgroup2")) continue;
    let ownPath = "/";
    if (fstype === "cgroup2") {
      ownPath = own.find((l) => l.startsWith("0::"))?.slice(3) ?? "/";
    } else {
      const ctrls = superOpts.split(",").filter((o) => o !== "rw" && o !== "ro" && !o.startsWith("relatime"));
      for (const l of own) {
        const [, names = "", p = "/"] = l.split(/:(.*?):/);
        const set = names.split(",");
        if (set.length && set.every((n) => ctrls.includes(n)) && ctrls.some((c) => set.includes(c)))
          ownPath = p;
      }
    }
    out.push({ mount, ownPath });
  }
  return out;
}

/** Top-level dirs in every cgroup hierarchy, to know later which ones we created. */
export function listCgroupTops(): string[] {
  return cgroupHierarchies().flatMap((h) => subdirs(h.mount, 1));
}

export function subdirs(dir: string, depth = Number.POSITIVE_INFINITY): string[] {
  const out: string[] = [];
  if (depth <= 0) return out;
  for (const e of readdirEntriesSafe(dir)) {
    if (!e.isDirectory()) continue;
    const p = path.join(dir, e.name);
    out.push(p, ...subdirs(p, depth - 1));
  }
  return out;
}

/** Pids in dir and below, never our own. */
export function cgroupProcs(dir: string): number[] {
  const pids: number[] = [];
  for (const d of [dir, ...subdirs(dir)]) {
    const raw = readFileSafe(path.join(d, "cgroup.procs"));
    if (raw) pids.push(...raw.split("\n").filter(Boolean).map(Number));
  }
  return pids.filter((p) => p !== process.pid);
}

export async function removeCgroups(rec: InstanceRecord, inv: Inventory): Promise<void> {
  const errs: string[] = [];
  // Deepest first, so a pod's children go before it.
  const dirs = [...inv.cgroupDirs].sort((a, b) => b.length - a.length);
  for (const dir of dirs) {
    if (!fs.existsSync(dir)) continue;
    let lastErr: unknown;
    for (let attempt = 0; attempt < 40 && fs.existsSync(dir); attempt++) {
      try {
        for (const sub of subdirs(dir).sort((a, b) => b.length - a.length)) fs.rmdirSync(sub);
        fs.rmdirSync(dir);
      } catch (err) {
        lastErr = err;
        for (const pid of cgroupProcs(dir)) signal(pid, "SIGKILL");
        await sleep(50); // a dead task leaves its cgroup a moment later
      }
    }
    if (fs.existsSync(dir)) errs.push(`rmdir ${dir}: ${messageOf(lastErr)}`);
  }
  for (const dir of createdCgroupAncestors(rec, inv)) {
    try {
      fs.rmdirSync(dir); // fails while another instance still has containers there
    } catch {}
  }
  if (errs.length) throw new Error(errs.join("; "));
}

/** Ancestors of our cgroups (e.g. /sys/fs/cgroup/memory/k8s.io) under a top-level dir that did not exist at start, and CRI's default parent if we made it. */
export function createdCgroupAncestors(rec: InstanceRecord, inv: Inventory): string[] {
  const pre = new Set(rec.preexisting.cgroupTops);
  const out = new Set<string>();
  for (const h of cgroupHierarchies()) {
    // CRI's default parent for pods that name none: made even when no container is left to show it.
    const criDefault = `${h.mount}/k8s.io`;
    if (!pre.has(criDefault) && fs.existsSync(criDefault)) out.add(criDefault);
    for (const dir of inv.cgroupDirs) {
      if (!dir.startsWith(`${h.mount}/`)) continue;
      const parts = dir.slice(h.mount.length + 1).split("/");
      const top = `${h.mount}/${parts[0]}`;
      if (pre.has(top)) continue;
      for (let n = parts.length - 1; n >= 1; n--) out.add(`${h.mount}/${parts.slice(0, n).join("/")}`);
    }
  }
  return [...out].sort((a, b) => b.length - a.length);
}
