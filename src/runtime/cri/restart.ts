// Restart recovery, after containerd's pkg/cri/server/restart.go: sandboxes and containers
// come back from their records, each with the state its task has now — a monitor that
// kept running is adopted, an exit that happened while the daemon was down is recorded
// with its real code — and whatever a crash left half-made (task bundles, network
// namespaces and CNI allocations, sandbox and container directories, temporary mounts)
// is removed.
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { dateNs } from "../../lib/clock.js";
import { messageOf } from "../../lib/errdefs.js";
import type { ProcessState } from "../../shim/process-state.js";
import { cachedAttachments } from "../cni/cache.js";
import type { Container } from "../core/containers/containers.js";
import { listNetNS, removeNetNS } from "../netns/netns.js";
import { CriNamespace } from "./image-store.js";
import { unmountSandboxFiles } from "./sandbox-files.js";
import { ContainerKindLabel, ContainerKindSandbox } from "./sandbox-run.js";
import type { CriService } from "./service.js";
import {
  ContainerMetadataExtension,
  ContainerStatusExtension,
  type CriContainer,
  decodeContainerMetadata,
  decodeContainerStatus,
  type StoredContainerMetadata,
  type StoredContainerStatus,
} from "./store/container.js";
import {
  decodeSandboxMetadata,
  type Sandbox,
  SandboxMetadataExtension,
  type StoredSandboxMetadata,
} from "./store/sandbox.js";

/** containerd's unknownExitCode and unknownExitReason: an exit no monitor saw. */
const unknownExitCode = 255;
const unknownExitReason = "Unknown";

export async function recover(c: CriService): Promise<void> {
  const records = await c.containers.list(CriNamespace);
  const isSandbox = (r: Container) => r.labels[ContainerKindLabel] === ContainerKindSandbox;
  for (const r of records.filter(isSandbox)) await recoverSandbox(c, r);
  for (const r of records.filter((r) => !isSandbox(r))) await recoverContainer(c, r);
  await cleanupLeftovers(c, new Set(records.map((r) => r.id)));
  c.log.info(
    { sandboxes: c.sandboxStore.list().length, containers: c.containerStore.list().length },
    "recovered CRI state",
  );
}

async function taskState(c: CriService, id: string): Promise<ProcessState | undefined> {
  try {
    return await c.tasks.recover(CriNamespace, id);
  } catch (err) {
    c.log.warn({ id, err: messageOf(err) }, "failed to recover task; treating it as gone");
    await c.tasks.delete(CriNamespace, id).catch(() => {});
    return undefined;
  }
}

async function recoverSandbox(c: CriService, r: Container): Promise<void> {
  const metadata = decodeSandboxMetadata(r.extensions[SandboxMetadataExtension] as StoredSandboxMetadata);
  const sandbox: Sandbox = { id: r.id, metadata, state: "notready", pid: 0 };
  const state = await taskState(c, r.id);
  if (state?.status === "running") {
    sandbox.state = "ready";
    sandbox.pid = state.pid;
    c.watchSandbox(sandbox);
  } else if (state) {
    // Exited while the daemon was down, or never started: the task goes, as after an exit.
    await c.tasks.delete(CriNamespace, r.id);
  }
  c.sandboxStore.add(sandbox);
  c.sandboxNames.reserve(metadata.name, r.id);
}

async function recoverContainer(c: CriService, r: Container): Promise<void> {
  const metadata = decodeContainerMetadata(
    r.extensions[ContainerMetadataExtension] as StoredContainerMetadata,
  );
  const saved = decodeContainerStatus(r.extensions[ContainerStatusExtension] as StoredContainerStatus);
  const ctr: CriContainer = { id: r.id, metadata, status: saved, spec: r.spec };
  const state = await taskState(c, r.id);
  // Created or running as far as the record knows: the task says what became of it.
  const live = saved.finishedAt === 0n;
  let status = saved;
  if (live && state?.status === "running") {
    // A crash after `runc start` but before the status was saved still started it.
    status = { ...saved, pid: state.pid, startedAt: saved.startedAt || dateNs(state.startedAt) };
  } else if (live && state?.status === "stopped") {
    status = {
      ...saved,
      pid: 0,
      startedAt: saved.startedAt || (state.startedAt ? dateNs(state.startedAt) : 0n),
      finishedAt: dateNs(state.exit.exitedAt),
      exitCode: state.exit.exitCode,
      reason: state.exit.oomKilled ? "OOMKilled" : saved.reason,
    };
  } else if (live && saved.startedAt !== 0n) {
    // Running, and no monitor left to say how it ended.
    status = {
      ...saved,
      pid: 0,
      finishedAt: saved.startedAt,
      exitCode: unknownExitCode,
      reason: unknownExitReason,
    };
  }
  if (status !== saved) await c.updateStatus(ctr, status);
  if (state?.status === "running" && live) c.watchContainer(ctr);
  else if (state) await c.tasks.delete(CriNamespace, r.id);
  c.containerStore.add(ctr);
  c.containerNames.reserve(metadata.name, r.id);
}

async function cleanupLeftovers(c: CriService, known: Set<string>): Promise<void> {
  const warn = (what: string) => (err: unknown) =>
    c.log.warn({ err: messageOf(err) }, `failed to clean up ${what}`);
  // Task bundles whose record never made it (a crash inside Run/Create/Start).
  const orphans = await c.tasks.cleanupOrphans(CriNamespace, known).catch(warn("task bundles"));
  if (orphans?.length) c.log.info({ ids: orphans }, "removed orphaned tasks");
  // Network namespaces and CNI allocations no sandbox owns.
  const owned = new Set(c.sandboxStore.list().map((s) => s.metadata.netnsPath));
  for (const path of await listNetNS(c.netnsDir)) {
    if (!owned.has(path)) await removeNetNS(path).catch(warn(`netns ${path}`));
  }
  for (const a of await cachedAttachments(c.cniCacheDir).catch(() => [])) {
    if (!known.has(a.containerId))
      await c.cni.remove(a.containerId, "").catch(warn(`CNI attachment of ${a.containerId}`));
  }
  // Sandbox and container directories of ids that have no record.
  for (const dir of [
    join(c.stateDir, "sandboxes"),
    join(c.rootDir, "sandboxes"),
    join(c.rootDir, "containers"),
  ]) {
    for (const id of await readdir(dir).catch(() => [] as string[])) {
      if (known.has(id)) continue;
      const path = join(dir, id);
      await unmountSandboxFiles({ hostname: "", hosts: "", resolvConf: "", shm: join(path, "shm") }).catch(
        warn(`mounts under ${path}`),
      );
      await rm(path, { recursive: true, force: true }).catch(warn(path));
    }
  }
}
