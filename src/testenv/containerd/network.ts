// An instance's pod network outside its base dir: the bridge berthc<N>, the veths
// enslaved to it, and libcni's result cache in /var/lib/cni/results.
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { readdirSafe } from "./files.js";
import { type InstanceRecord, VAR_LIB_CNI } from "./instance.js";
import type { Inventory } from "./inventory.js";
import { run } from "./run.js";

export function linkExists(name: string): boolean {
  return fs.existsSync(`/sys/class/net/${name}`);
}

export function enslavedTo(bridge: string): string[] {
  return readdirSafe(`/sys/class/net/${bridge}/brif`);
}

/** libcni's result cache of our pods: <network>-<id>-<ifname>, and the CRI's loopback network's. */
export function cniCacheFiles(rec: InstanceRecord, inv: Inventory): string[] {
  const dir = `${VAR_LIB_CNI}/results`;
  return readdirSafe(dir)
    .filter((f) => {
      if (f.startsWith(`${rec.network}-`)) return true;
      const m = /^cni-loopback-(.+)-lo$/.exec(f);
      return m?.[1] !== undefined && inv.ids.has(m[1]);
    })
    .map((f) => path.join(dir, f));
}

export async function removeNetwork(rec: InstanceRecord, inv: Inventory): Promise<void> {
  const errs: string[] = [];
  for (const v of enslavedTo(rec.bridge)) inv.veths.add(v);
  // A veth dies with its netns once the last process and bind mount are gone; give
  // the kernel a moment, then delete what is left.
  const deadline = Date.now() + 3_000;
  while (Date.now() < deadline && [...inv.veths].some(linkExists)) await sleep(50);
  for (const v of [...inv.veths].filter(linkExists)) {
    const res = await run("ip", ["link", "del", v]);
    if (res.code !== 0 && linkExists(v)) errs.push(`ip link del ${v}: ${res.err.trim()}`);
  }
  if (linkExists(rec.bridge)) {
    const res = await run("ip", ["link", "del", rec.bridge]);
    if (res.code !== 0 && linkExists(rec.bridge)) errs.push(`ip link del ${rec.bridge}: ${res.err.trim()}`);
  }
  for (const f of cniCacheFiles(rec, inv)) await fsp.rm(f, { force: true, recursive: true });
  if (errs.length) throw new Error(errs.join("; "));
}
