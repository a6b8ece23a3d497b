// What of an instance still exists on the machine: empty after a successful stop().
import * as fs from "node:fs";
import { createdCgroupAncestors, subdirs } from "./cgroups.js";
import type { InstanceRecord } from "./instance.js";
import { collectInventory, type Inventory } from "./inventory.js";
import { mountsUnder } from "./mounts.js";
import { cniCacheFiles, enslavedTo, linkExists } from "./network.js";
import { isOurContainerd, ourProcesses } from "./processes.js";

export type LeftoverKind = "process" | "mount" | "netns" | "link" | "cgroup" | "file";
export interface Leftover {
  kind: LeftoverKind;
  what: string;
}

export function findLeftovers(rec: InstanceRecord, inv: Inventory): Leftover[] {
  if (fs.existsSync(rec.base)) {
    try {
      collectInventory(rec, inv);
    } catch {} // best effort: what stop() learned is still there
  }
  const out: Leftover[] = [];
  for (const p of ourProcesses(rec, inv)) out.push({ kind: "process", what: `${p.pid} ${p.cmd}` });
  if (rec.containerdPid && isOurContainerd(rec)) {
    if (!out.some((l) => l.what.startsWith(`${rec.containerdPid} `)))
      out.push({ kind: "process", what: `${rec.containerdPid} containerd` });
  }
  for (const m of mountsUnder(rec.base)) {
    out.push({ kind: m.includes("/netns/") ? "netns" : "mount", what: m });
  }
  for (const l of new Set([rec.bridge, ...inv.veths, ...enslavedTo(rec.bridge)])) {
    if (linkExists(l)) out.push({ kind: "link", what: l });
  }
  for (const d of inv.cgroupDirs) if (fs.existsSync(d)) out.push({ kind: "cgroup", what: d });
  for (const d of createdCgroupAncestors(rec, inv)) {
    if (fs.existsSync(d) && subdirs(d).length === 0) out.push({ kind: "cgroup", what: d });
  }
  if (fs.existsSync(rec.base)) out.push({ kind: "file", what: rec.base });
  for (const s of inv.shimSockets) if (fs.existsSync(s)) out.push({ kind: "file", what: s });
  for (const f of cniCacheFiles(rec, inv)) out.push({ kind: "file", what: f });
  return out;
}
