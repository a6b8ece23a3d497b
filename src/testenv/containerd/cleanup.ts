// stop(): removes everything an instance and its shims made, gracefully through the CRI
// and containerd while they answer, then by force; and cleanupStale() for instances
// whose owner died without calling it.
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { newRemoteRuntimeService } from "../../cri/remote-runtime.js";
import { dialCri } from "../../cri/transport.js";
import { messageOf } from "../../lib/errdefs.js";
import { removeCgroups } from "./cgroups.js";
import { runCtr } from "./ctr.js";
import { readdirSafe } from "./files.js";
import {
  INSTANCE_PREFIX,
  type InstanceRecord,
  RECORD_FILE,
  RUN_CONTAINERD,
  readRecord,
  VAR_LIB_CNI,
} from "./instance.js";
import { collectInventory, type Inventory, newInventory } from "./inventory.js";
import { mountsUnder, unmountUnder } from "./mounts.js";
import { removeNetwork } from "./network.js";
import { isAlive, isOurContainerd, killOurProcesses, waitGone } from "./processes.js";
import { run } from "./run.js";
import { removeRuncContainers } from "./runc.js";

/** Keeps going on errors and throws them aggregated. */
export async function cleanupInstance(
  rec: InstanceRecord,
  inv: Inventory,
  stopTimeoutMs = 10_000,
): Promise<void> {
  const errors: string[] = [];
  const step = async (name: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      errors.push(`${name}: ${messageOf(err)}`);
    }
  };
  const alive = () => isOurContainerd(rec);
  // The graceful steps talk to containerd; when it dies under them (crashed, killed by a
  // test) that is no error: the brute-force steps after them clean up instead.
  const apiStep = async (name: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      if (rec.containerdPid) await waitGone(rec.containerdPid, 500);
      if (alive()) errors.push(`${name}: ${messageOf(err)}`);
    }
  };

  await step("inventory", async () => collectInventory(rec, inv));

  // 1. CRI pods, through the CRI: StopPodSandbox runs CNI DEL and tears the netns down.
  if (alive() && fs.existsSync(rec.socket)) await apiStep("CRI pod cleanup", () => removeCriPods(rec, inv));

  // 2. Every task and container in every namespace, through containerd.
  if (alive() && fs.existsSync(rec.socket)) {
    await apiStep("containerd task cleanup", () => removeContainerdContainers(rec, inv));
  }
  await step("inventory", async () => collectInventory(rec, inv));

  // 3. Whatever runc still has (containerd wedged or dead): kill and delete directly.
  await step("runc cleanup", () => removeRuncContainers(rec));

  // 4. containerd itself.
  await step("containerd shutdown", async () => {
    const pid = rec.containerdPid;
    if (!pid || !alive()) return;
    process.kill(pid, "SIGTERM");
    if (await waitGone(pid, stopTimeoutMs)) return;
    process.kill(pid, "SIGKILL");
    if (!(await waitGone(pid, 5_000))) throw new Error(`containerd pid ${pid} survives SIGKILL`);
  });

  // 5. Shims (they outlive containerd), container processes, stray helpers.
  await step("processes", () => killOurProcesses(rec, inv));

  // 6. Mounts under the base dir (rootfs, shm, netns), deepest first.
  await step("unmount", () => unmountUnder(rec.base));

  // 7. Network: veths still on our bridge, the bridge, libcni's cache.
  await step("network", () => removeNetwork(rec, inv));

  // 8. Cgroups of our containers, and the namespace dirs above them we created.
  await step("cgroups", () => removeCgroups(rec, inv));

  // 9. Files outside the base dir, then the base dir itself.
  await step("files", async () => {
    for (const s of inv.shimSockets) await fsp.rm(s, { force: true });
    for (const d of [`${RUN_CONTAINERD}/s`, `${RUN_CONTAINERD}/fifo`]) rmdirIfCreated(rec, d);
    for (const ns of inv.namespaces) rmdirIfCreated(rec, `${RUN_CONTAINERD}/runc/${ns}`);
    rmdirIfCreated(rec, `${RUN_CONTAINERD}/runc`);
    rmdirIfCreated(rec, RUN_CONTAINERD);
    rmdirIfCreated(rec, `${VAR_LIB_CNI}/results`);
    rmdirIfCreated(rec, VAR_LIB_CNI);
  });
  await step("base dir", async () => {
    if (!fs.existsSync(rec.base)) return;
    const mounts = mountsUnder(rec.base);
    if (mounts.length) throw new Error(`not removing ${rec.base}: still mounted: ${mounts.join(", ")}`);
    // --one-file-system: never follow a mount we failed to see into someone else's data.
    const res = await run("rm", ["-rf", "--one-file-system", rec.base], { timeoutMs: 60_000 });
    if (res.code !== 0 || fs.existsSync(rec.base)) throw new Error(`rm -rf ${rec.base}: ${res.err.trim()}`);
  });

  if (errors.length) {
    throw new Error(`stopping containerd ${rec.base} left problems:\n  ${errors.join("\n  ")}`);
  }
}

async function removeCriPods(rec: InstanceRecord, inv: Inventory): Promise<void> {
  const conn = dialCri(`unix://${rec.socket}`, { timeoutMs: 30_000 });
  try {
    const runtime = newRemoteRuntimeService(conn);
    const { items } = await runtime.listPodSandbox({}, { timeoutMs: 15_000 });
    for (const { id } of items) inv.ids.add(id);
    const errs: string[] = [];
    for (const { id: podSandboxId } of items) {
      await runtime
        .stopPodSandbox({ podSandboxId })
        .catch((err) => errs.push(`StopPodSandbox ${podSandboxId}: ${messageOf(err)}`));
      await runtime
        .removePodSandbox({ podSandboxId })
        .catch((err) => errs.push(`RemovePodSandbox ${podSandboxId}: ${messageOf(err)}`));
    }
    if (errs.length) throw new Error(errs.join("; "));
  } finally {
    conn.close();
  }
}

async function removeContainerdContainers(rec: InstanceRecord, inv: Inventory): Promise<void> {
  const errs: string[] = [];
  const lines = (s: string) =>
    s
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean);
  for (const ns of lines(await runCtr(rec, ["namespaces", "ls", "-q"], { timeoutMs: 10_000 }))) {
    inv.namespaces.add(ns);
    const tasks = await runCtr(rec, ["-n", ns, "tasks", "ls", "-q"], { timeoutMs: 10_000 });
    for (const id of lines(tasks)) {
      await runCtr(rec, ["-n", ns, "tasks", "delete", "-f", id], { timeoutMs: 20_000 }).catch((e) =>
        errs.push(messageOf(e)),
      );
    }
    const ctrs = await runCtr(rec, ["-n", ns, "containers", "ls", "-q"], { timeoutMs: 10_000 });
    for (const id of lines(ctrs)) {
      inv.ids.add(id);
      await runCtr(rec, ["-n", ns, "containers", "delete", id], { timeoutMs: 20_000 }).catch((e) =>
        errs.push(messageOf(e)),
      );
    }
  }
  if (errs.length) throw new Error(errs.join("; "));
}

function rmdirIfCreated(rec: InstanceRecord, dir: string) {
  if (rec.preexisting.paths.includes(dir)) return;
  try {
    fs.rmdirSync(dir); // only when empty: a parallel instance may still use it
  } catch {}
}

/**
 * Cleans instance dirs under parentDir whose owning process is gone (a test run that
 * crashed or never called stop()). Returns the dirs it cleaned.
 */
export async function cleanupStale(parentDir: string = os.tmpdir()): Promise<string[]> {
  const cleaned: string[] = [];
  const errs: string[] = [];
  for (const name of readdirSafe(parentDir)) {
    if (!name.startsWith(INSTANCE_PREFIX)) continue;
    const base = path.join(parentDir, name);
    const rec = readRecord(base);
    if (!rec) {
      // Being claimed right now, or unusable: leave young ones alone.
      const age = Date.now() - (fs.statSync(base, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age < 10 * 60_000) continue;
      errs.push(`${base}: no ${RECORD_FILE}; remove it by hand`);
      continue;
    }
    if (rec.base !== base || isAlive(rec.ownerPid)) continue;
    try {
      await cleanupInstance(rec, newInventory());
      cleaned.push(base);
    } catch (err) {
      errs.push(messageOf(err));
    }
  }
  if (errs.length) throw new Error(errs.join("\n"));
  return cleaned;
}
