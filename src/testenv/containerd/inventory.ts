// What stop() learned about an instance's containers, accumulated so that leftovers()
// can still check it after containerd and its state are gone.
import * as path from "node:path";
import { cgroupHierarchies } from "./cgroups.js";
import { readdirSafe, readFileSafe, readJsonSafe } from "./files.js";
import type { InstanceRecord } from "./instance.js";
import { runcStates } from "./runc.js";

export interface Inventory {
  namespaces: Set<string>;
  cgroupDirs: Set<string>;
  shimSockets: Set<string>;
  veths: Set<string>;
  /** Container and sandbox ids (libcni's cache files are named after them). */
  ids: Set<string>;
}

export function newInventory(): Inventory {
  return {
    namespaces: new Set(),
    cgroupDirs: new Set(),
    shimSockets: new Set(),
    veths: new Set(),
    ids: new Set(),
  };
}

/** Reads bundles and runc state to learn namespaces, cgroups and shim sockets. */
export function collectInventory(rec: InstanceRecord, inv: Inventory): void {
  const hierarchies = cgroupHierarchies();
  // Never adopt a hierarchy root or a cgroup we ourselves live in (we would kill ourselves).
  const addCgroupDir = (dir: string) => {
    const h = hierarchies.find((x) => dir.startsWith(`${x.mount}/`));
    if (!h) return;
    const rel = dir.slice(h.mount.length);
    if (h.ownPath === rel || h.ownPath.startsWith(`${rel}/`)) return;
    inv.cgroupDirs.add(dir);
  };
  const addCgroupsPath = (cgPath: string | undefined) => {
    if (!cgPath || cgPath.includes(":")) return; // systemd-style paths are not used here
    for (const h of hierarchies) {
      const rel = cgPath.startsWith("/") ? cgPath : path.join(h.ownPath, cgPath);
      addCgroupDir(path.join(h.mount, rel));
    }
  };
  const bundles = path.join(rec.state, "io.containerd.runtime.v2.task");
  for (const ns of readdirSafe(bundles)) {
    inv.namespaces.add(ns);
    for (const id of readdirSafe(path.join(bundles, ns))) {
      inv.ids.add(id);
      const dir = path.join(bundles, ns, id);
      const spec = readJsonSafe(path.join(dir, "config.json")) as
        | { linux?: { cgroupsPath?: string } }
        | undefined;
      addCgroupsPath(spec?.linux?.cgroupsPath);
      // The shim socket is in /run/containerd/s whatever our config says.
      const addr = readFileSafe(path.join(dir, "address"))?.trim();
      if (addr?.startsWith("unix://")) inv.shimSockets.add(addr.slice("unix://".length));
    }
  }
  for (const { id, state } of runcStates(rec)) {
    inv.ids.add(id);
    for (const p of Object.values(state.cgroup_paths ?? {})) if (p) addCgroupDir(p);
  }
  for (const ns of readdirSafe(rec.runcRoot)) inv.namespaces.add(ns);
}
