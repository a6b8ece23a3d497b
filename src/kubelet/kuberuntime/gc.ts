// pkg/kubelet/kuberuntime/kuberuntime_gc.go (kubelet 1.28): the runtime manager's collection of
// dead containers, sandboxes and pod log directories. What goes is decided by pure functions over
// the runtime's lists (evictableContainers, planContainerEvictions, planSandboxEvictions,
// planPodLogsDirectoryEvictions); the containerGC class lists, asks them, and removes through CRI.
// Upstream also removes dangling /var/log/containers symlinks; berth writes none, so there is
// nothing of that kind to collect.
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import {
  type Container as CriContainer,
  ContainerState as CriContainerState,
  type PodSandbox,
  PodSandboxState,
} from "../../cri/gen/runtime/v1/api_pb.js";
import { nowNs } from "../../lib/clock.js";
import { BerthError, messageOf, wrap } from "../../lib/errdefs.js";
import type { GarbageCollector, GCPolicy } from "../container/container-gc.js";
import { killContainer } from "./container.js";
import { getContainerInfoFromLabels } from "./labels.js";
import type { KubeGenericRuntimeManager } from "./manager.js";
import { reasonUnknown } from "./pod-actions.js";

/** podStateProvider: what the pod workers know of a pod's end. */
export interface PodStateProvider {
  /** The pod is deleted (or evicted) and has stopped: everything of it, logs included, may go. */
  shouldPodContentBeRemoved(uid: string): boolean;
  /** Nothing of the pod may run any more (terminated, or unknown to the workers). */
  shouldPodRuntimeBeRemoved(uid: string): boolean;
}

/** containerGCInfo: a dead container considered for removal. */
export interface ContainerGCInfo {
  id: string;
  /** The container's name in its pod. */
  name: string;
  /** CRI createdAt, in nanoseconds. */
  createTime: bigint;
  /** In an unknown state it may still run: it is stopped before it is removed. */
  unknown: boolean;
}

/** sandboxGCInfo: a sandbox considered for removal. */
interface SandboxGCInfo {
  id: string;
  createTime: bigint;
  /** Ready, or still has containers: never removed. */
  active: boolean;
}

/** evictUnit: containers are counted per (pod UID, container name). */
interface EvictUnit {
  uid: string;
  name: string;
  containers: ContainerGCInfo[];
}
export type ContainersByEvictUnit = Map<string, EvictUnit>;

function numContainers(units: ContainersByEvictUnit): number {
  let n = 0;
  for (const u of units.values()) n += u.containers.length;
  return n;
}

function newestFirst(a: { createTime: bigint }, b: { createTime: bigint }): number {
  return a.createTime > b.createTime ? -1 : a.createTime < b.createTime ? 1 : 0;
}

/**
 * removeOldestN: the oldest `toRemove` of `items` (at most all of them) are appended to `removed`,
 * oldest first, and the rest are returned, newest first, as if the removal had happened. When all
 * go, their order does not matter and they are not sorted.
 */
function removeOldestN<T extends { createTime: bigint }>(items: T[], toRemove: number, removed: T[]): T[] {
  const numToKeep = items.length - toRemove;
  if (numToKeep > 0) items.sort(newestFirst);
  for (let i = items.length - 1; i >= numToKeep; i--) removed.push(items[i] as T);
  return items.slice(0, numToKeep);
}

function enforceMaxContainersPerEvictUnit(
  units: ContainersByEvictUnit,
  max: number,
  removed: ContainerGCInfo[],
): void {
  for (const u of units.values()) {
    const toRemove = u.containers.length - max;
    if (toRemove > 0) u.containers = removeOldestN(u.containers, toRemove, removed);
  }
}

/**
 * evictableContainers: every container that is not running and was created at least `minAgeMs`
 * before `nowNanos`, grouped by pod UID and container name.
 */
export function evictableContainers(
  containers: readonly CriContainer[],
  minAgeMs: number,
  nowNanos: bigint,
): ContainersByEvictUnit {
  const units: ContainersByEvictUnit = new Map();
  const newestGCTime = nowNanos - BigInt(minAgeMs) * 1_000_000n;
  for (const c of containers) {
    if (c.state === CriContainerState.CONTAINER_RUNNING) continue;
    if (c.createdAt > newestGCTime) continue;
    const uid = getContainerInfoFromLabels(c.labels).podUID;
    const name = c.metadata?.name ?? "";
    const key = JSON.stringify([uid, name]);
    let unit = units.get(key);
    if (!unit) {
      unit = { uid, name, containers: [] };
      units.set(key, unit);
    }
    unit.containers.push({
      id: c.id,
      name,
      createTime: c.createdAt,
      unknown: c.state === CriContainerState.CONTAINER_UNKNOWN,
    });
  }
  return units;
}

/**
 * evictContainers' decision: with every source seen, a deleted pod (or, when evicting non-deleted
 * pods, a terminated one) loses all its dead containers; the rest keep maxPerPodContainer per
 * container, then maxContainers in all, shared evenly across the units (at least one each) before
 * the oldest go regardless of unit. The containers to remove, in removal order.
 */
export function planContainerEvictions(
  units: ContainersByEvictUnit,
  policy: GCPolicy,
  allSourcesReady: boolean,
  evictNonDeletedPods: boolean,
  podState: PodStateProvider,
): ContainerGCInfo[] {
  const removed: ContainerGCInfo[] = [];
  if (allSourcesReady) {
    for (const [key, u] of units) {
      if (
        podState.shouldPodContentBeRemoved(u.uid) ||
        (evictNonDeletedPods && podState.shouldPodRuntimeBeRemoved(u.uid))
      ) {
        removeOldestN(u.containers, u.containers.length, removed);
        units.delete(key);
      }
    }
  }
  if (policy.maxPerPodContainer >= 0)
    enforceMaxContainersPerEvictUnit(units, policy.maxPerPodContainer, removed);
  if (policy.maxContainers >= 0 && numContainers(units) > policy.maxContainers) {
    const perUnit = Math.max(Math.floor(policy.maxContainers / units.size), 1);
    enforceMaxContainersPerEvictUnit(units, perUnit, removed);
    const n = numContainers(units);
    if (n > policy.maxContainers) {
      const flattened = [...units.values()].flatMap((u) => u.containers);
      removeOldestN(flattened, n - policy.maxContainers, removed);
    }
  }
  return removed;
}

/**
 * evictSandboxes' decision: a sandbox goes when it is not ready and has no containers, and its pod
 * is deleted (or terminated, when evicting non-deleted pods) or it is not the pod's newest. The ids
 * to remove, oldest first per pod.
 */
export function planSandboxEvictions(
  containers: readonly CriContainer[],
  sandboxes: readonly PodSandbox[],
  evictNonDeletedPods: boolean,
  podState: PodStateProvider,
): string[] {
  const withContainers = new Set(containers.map((c) => c.podSandboxId));
  const byPod = new Map<string, SandboxGCInfo[]>();
  for (const s of sandboxes) {
    const uid = s.metadata?.uid ?? "";
    const list = byPod.get(uid) ?? [];
    list.push({
      id: s.id,
      createTime: s.createdAt,
      active: s.state === PodSandboxState.SANDBOX_READY || withContainers.has(s.id),
    });
    byPod.set(uid, list);
  }
  const removed: SandboxGCInfo[] = [];
  for (const [uid, list] of byPod) {
    const removeAll =
      podState.shouldPodContentBeRemoved(uid) ||
      (evictNonDeletedPods && podState.shouldPodRuntimeBeRemoved(uid));
    // Of a pod that still exists the newest sandbox stays, dead or not: it holds the pod's last state.
    const candidates: SandboxGCInfo[] = [];
    removeOldestN(list, removeAll ? list.length : list.length - 1, candidates);
    removed.push(...candidates.filter((s) => !s.active));
  }
  return removed.map((s) => s.id);
}

/** parsePodUIDFromLogsDirectory: the UID is the last part of "<namespace>_<name>_<uid>". */
export function parsePodUIDFromLogsDirectory(name: string): string {
  const parts = name.split("_");
  return parts[parts.length - 1] ?? "";
}

/** evictPodLogsDirectories' decision: the directories whose pods are gone, once every source is seen. */
export function planPodLogsDirectoryEvictions(
  names: readonly string[],
  allSourcesReady: boolean,
  podState: PodStateProvider,
): string[] {
  if (!allSourcesReady) return [];
  return names.filter((n) => podState.shouldPodContentBeRemoved(parsePodUIDFromLogsDirectory(n)));
}

/** containerGC: removes what the plans above pick, through the runtime manager and CRI. */
export class ContainerGC implements GarbageCollector {
  constructor(
    private readonly manager: KubeGenericRuntimeManager,
    private readonly podStateProvider: PodStateProvider,
  ) {}

  private get log() {
    return this.manager.log;
  }

  /**
   * GarbageCollect: dead containers by the policy, then sandboxes left with no containers, then
   * the log directories of pods that are gone. Every step runs; their errors come back together.
   */
  async garbageCollect(
    policy: GCPolicy,
    allSourcesReady: boolean,
    evictNonDeletedPods: boolean,
  ): Promise<void> {
    const errors: unknown[] = [];
    await this.evictContainers(policy, allSourcesReady, evictNonDeletedPods).catch((e) => errors.push(e));
    await this.evictSandboxes(evictNonDeletedPods).catch((e) => errors.push(e));
    await this.evictPodLogsDirectories(allSourcesReady).catch((e) => errors.push(e));
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new BerthError("Unknown", `[${errors.map(messageOf).join(", ")}]`);
  }

  async evictContainers(
    policy: GCPolicy,
    allSourcesReady: boolean,
    evictNonDeletedPods: boolean,
  ): Promise<void> {
    const { containers } = await this.manager.deps.runtime.listContainers({});
    const units = evictableContainers(containers, policy.minAgeMs, nowNs());
    const plan = planContainerEvictions(
      units,
      policy,
      allSourcesReady,
      evictNonDeletedPods,
      this.podStateProvider,
    );
    const type = this.manager.deps.runtimeName;
    for (const c of plan) {
      const id = { type, id: c.id };
      if (c.unknown) {
        // It might still run: stopped first, and left for the next pass when that fails.
        try {
          await killContainer(
            this.manager,
            undefined,
            id,
            c.name,
            "Container is in unknown state, try killing it before removal",
            reasonUnknown,
          );
        } catch (err) {
          this.log.error({ containerID: c.id, err: messageOf(err) }, "Failed to stop container");
          continue;
        }
      }
      this.log.debug({ containerID: c.id, container: c.name }, "Removing container");
      await this.manager.removeContainer(id);
    }
  }

  async evictSandboxes(evictNonDeletedPods: boolean): Promise<void> {
    const runtime = this.manager.deps.runtime;
    const [{ containers }, { items: sandboxes }] = await Promise.all([
      runtime.listContainers({}),
      runtime.listPodSandbox({}),
    ]);
    for (const id of planSandboxEvictions(
      containers,
      sandboxes,
      evictNonDeletedPods,
      this.podStateProvider,
    )) {
      this.log.debug({ sandboxID: id }, "Removing sandbox");
      // It should be stopped already; stopping again guards against the rare case it is not.
      try {
        await runtime.stopPodSandbox({ podSandboxId: id });
      } catch (err) {
        this.log.error({ sandboxID: id, err: messageOf(err) }, "Failed to stop sandbox before removing");
        continue;
      }
      await runtime
        .removePodSandbox({ podSandboxId: id })
        .catch((err) => this.log.error({ sandboxID: id, err: messageOf(err) }, "Failed to remove sandbox"));
    }
  }

  async evictPodLogsDirectories(allSourcesReady: boolean): Promise<void> {
    if (!allSourcesReady) return;
    const root = this.manager.deps.settings.podLogsRootDirectory;
    let names: string[];
    try {
      names = await readdir(root);
    } catch (err) {
      // No pod has run here yet: nothing to collect.
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw wrap(err, `failed to read podLogsRootDirectory ${JSON.stringify(root)}`);
    }
    for (const name of planPodLogsDirectoryEvictions(names, allSourcesReady, this.podStateProvider)) {
      this.log.debug({ podUID: parsePodUIDFromLogsDirectory(name) }, "Removing pod logs");
      await rm(join(root, name), { recursive: true, force: true }).catch((err) =>
        this.log.error({ path: name, err: messageOf(err) }, "Failed to remove pod logs directory"),
      );
    }
  }
}
