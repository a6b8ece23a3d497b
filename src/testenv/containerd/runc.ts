// runc's view of an instance's containers, for when containerd is wedged or dead.
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import { readdirSafe, readJsonSafe } from "./files.js";
import { type InstanceRecord, RUN_CONTAINERD } from "./instance.js";
import { isAlive, signal } from "./processes.js";
import { run } from "./run.js";

/** The parts of runc's state.json we read. */
interface RuncState {
  init_process_pid?: number;
  cgroup_paths?: Record<string, string>;
  config?: { labels?: string[] };
}

/** runc containers of this instance: all in our runc root, and those in the default root with our bundles. */
export function runcStates(rec: InstanceRecord): { root: string; id: string; state: RuncState }[] {
  const out: { root: string; id: string; state: RuncState }[] = [];
  const roots = [
    { dir: rec.runcRoot, mine: true },
    { dir: `${RUN_CONTAINERD}/runc`, mine: false },
  ];
  for (const r of roots) {
    for (const ns of readdirSafe(r.dir)) {
      const root = path.join(r.dir, ns);
      for (const id of readdirSafe(root)) {
        const state = readJsonSafe(path.join(root, id, "state.json")) as RuncState | undefined;
        if (!state) continue;
        const bundle = state.config?.labels?.find((l) => l.startsWith("bundle="))?.slice("bundle=".length);
        if (r.mine || bundle?.startsWith(`${rec.state}/`)) out.push({ root, id, state });
      }
    }
  }
  return out;
}

/** runc delete --force each; where runc cannot, kill the init by pid and drop its state dir. */
export async function removeRuncContainers(rec: InstanceRecord): Promise<void> {
  const errs: string[] = [];
  for (const { root, id, state } of runcStates(rec)) {
    const res = await run("runc", ["--root", root, "delete", "--force", id], { timeoutMs: 20_000 });
    if (res.code !== 0 && fs.existsSync(path.join(root, id))) {
      const pid = state.init_process_pid;
      if (pid && isAlive(pid)) signal(pid, "SIGKILL");
      await fsp.rm(path.join(root, id), { recursive: true, force: true });
      errs.push(`runc delete ${id}: ${res.err.trim()}`);
    }
  }
  if (errs.length) throw new Error(errs.join("; "));
}
