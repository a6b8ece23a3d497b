// A pod run straight through the CRI with the calls the kubelet makes, and the pod cgroups the
// kubelet's pod container manager makes around it: the runtime's own share of a pod start.
import { mkdir, readFile, rmdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { MessageInitShape } from "@bufbuild/protobuf";
import pLimit from "p-limit";
import type { ContainerConfigSchema, PodSandboxConfigSchema } from "../src/cri/gen/runtime/v1/api_pb.js";
import type { RuntimeServiceClient } from "../src/cri/remote-runtime.js";
import { cgroupHierarchies, cgroupProcs, subdirs } from "../src/testenv/containerd/cgroups.js";
import { killAndWait } from "./proc.js";

export type SandboxConfig = MessageInitShape<typeof PodSandboxConfigSchema>;
export type ContainerConfig = MessageInitShape<typeof ContainerConfigSchema>;

/** A pod as far as it got: a failed start leaves what removePod must still remove. */
export interface CriPod {
  sandboxId?: string;
  containerId?: string;
}

/** RunPodSandbox, CreateContainer, StartContainer, filling in the pod's ids as they come. */
export async function runPod(
  runtime: RuntimeServiceClient,
  pod: CriPod,
  sandbox: SandboxConfig,
  container: ContainerConfig,
): Promise<void> {
  pod.sandboxId = (await runtime.runPodSandbox({ config: sandbox })).podSandboxId;
  pod.containerId = (
    await runtime.createContainer({ podSandboxId: pod.sandboxId, config: container, sandboxConfig: sandbox })
  ).containerId;
  await runtime.startContainer({ containerId: pod.containerId });
}

/**
 * The kubelet's order: killPod stops the containers (grace period 0 here) and then the sandbox;
 * its GC removes the containers and then the sandbox.
 */
export async function removePod(runtime: RuntimeServiceClient, pod: CriPod): Promise<void> {
  const { containerId, sandboxId } = pod;
  if (containerId) await runtime.stopContainer({ containerId, timeout: 0n });
  if (sandboxId) await runtime.stopPodSandbox({ podSandboxId: sandboxId });
  if (containerId) await runtime.removeContainer({ containerId });
  if (sandboxId) await runtime.removePodSandbox({ podSandboxId: sandboxId });
}

/** Runs fn on every item, `limit` at a time; waits for all before throwing the first error. */
export async function forAll<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const run = pLimit(limit);
  const settled = await Promise.allSettled(items.map((item) => run(() => fn(item))));
  const failed = settled.find((s) => s.status === "rejected");
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<R>).value);
}

// Pod cgroups, made in every hierarchy before the pod as the kubelet's pod container
// manager makes them, and removed after it.

export async function createCgroup(path: string): Promise<void> {
  for (const { mount } of cgroupHierarchies()) {
    let dir = mount;
    for (const part of path.split("/").filter(Boolean)) {
      const parent = dir;
      dir = join(dir, part);
      const made = await mkdir(dir).then(
        () => true,
        (err: NodeJS.ErrnoException) => {
          if (err.code !== "EEXIST") throw err;
          return false;
        },
      );
      if (made) await inheritCpuset(parent, dir);
    }
  }
}

/** A new cgroup v1 cpuset has no CPUs and no memory nodes, and takes no process until given some. */
async function inheritCpuset(parent: string, dir: string): Promise<void> {
  for (const file of ["cpuset.cpus", "cpuset.mems"]) {
    const value = await readFile(join(parent, file), "utf8").catch(() => undefined);
    if (value !== undefined) await writeFile(join(dir, file), value);
  }
}

/** Removes an emptied pod cgroup; a monitor may take a moment to exit after its container. */
export async function removeCgroup(path: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  for (const { mount } of cgroupHierarchies()) {
    const dir = join(mount, path);
    for (;;) {
      const err = await rmdir(dir).then(
        () => undefined,
        (e: NodeJS.ErrnoException) => e,
      );
      if (!err || err.code === "ENOENT") break;
      if (err.code !== "EBUSY" || Date.now() > deadline) {
        throw new Error(`failed to remove pod cgroup "${dir}": ${err.message}`);
      }
      await sleep(50);
    }
  }
}

/** Kills whatever still runs in the benchmark's cgroups, then removes them, deepest first. */
export async function removeCgroupTree(top: string): Promise<void> {
  const dirs = cgroupHierarchies().flatMap(({ mount }) => {
    const dir = join(mount, top);
    return [dir, ...subdirs(dir)];
  });
  const pids = [...new Set(dirs.flatMap(cgroupProcs))];
  const survivors = await killAndWait(pids);
  for (const dir of dirs.sort((a, b) => b.length - a.length)) {
    await rmdir(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "ENOENT") throw err;
    });
  }
  if (pids.length > 0) {
    throw new Error(
      `processes ${pids.join(", ")} still ran in ${top}${survivors.length ? "; some survive" : ""}`,
    );
  }
}
