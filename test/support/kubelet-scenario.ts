// What the kubelet's end-to-end tests share: waiting for a condition, taking every pod down through
// the kubelet, and running a scenario with a kubelet that must stop cleanly and leave nothing of
// itself or its pods behind.
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import type { Container } from "kubernetes-types/core/v1.js";
import { ContainerState, PodSandboxState } from "../../src/cri/gen/runtime/v1/api_pb.js";
import type { RuntimeServiceClient } from "../../src/cri/remote-runtime.js";
import type { Leftover } from "../../src/testenv/containerd/leftovers.js";
import {
  type BerthKubelet,
  type BerthKubeletOptions,
  type KubeletExit,
  startBerthKubelet,
} from "../../src/testenv/kubelet.js";

/**
 * Polls `check` every 200 ms until it gives something other than false/undefined; that value. `what`
 * names the condition, or tells what still stands in its way when the time is up.
 */
export async function until<T>(
  what: string | (() => Promise<string>),
  timeoutMs: number,
  check: () => Promise<T | false | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== false && v !== undefined) return v;
    if (Date.now() > deadline) {
      throw new Error(`${typeof what === "string" ? what : await what()}: not within ${timeoutMs} ms`);
    }
    await sleep(200);
  }
}

/**
 * Every pod deleted through the kubelet (static pods by removing their manifests, API pods gracefully)
 * until the local API holds none and the runtime runs nothing, waiting up to `timeoutMs` for each.
 */
export async function takeDown(
  k: BerthKubelet,
  cri: RuntimeServiceClient,
  timeoutMs = 30_000,
): Promise<void> {
  for (const f of await readdir(k.staticPodDir)) await k.removeStaticPod(f);
  for (const p of await k.listPods()) {
    if (!p.metadata?.deletionTimestamp)
      await k.delete(p.metadata?.namespace ?? "default", p.metadata?.name ?? "");
  }
  await until(
    async () => `the local API still holds ${(await k.listPods()).map((p) => p.metadata?.name)}`,
    timeoutMs,
    async () => (await k.listPods()).length === 0,
  );
  // Stopped sandboxes and exited containers may stay: removing them is container GC's work.
  const running = async () => [
    ...(await cri.listPodSandbox({})).items
      .filter((s) => s.state !== PodSandboxState.SANDBOX_NOTREADY)
      .map((s) => `sandbox ${s.metadata?.name}`),
    ...(await cri.listContainers({})).containers
      .filter((c) => c.state === ContainerState.CONTAINER_RUNNING)
      .map((c) => `container ${c.metadata?.name} of ${c.labels["io.kubernetes.pod.name"]}`),
  ];
  await until(
    async () => `the runtime still runs ${await running()}`,
    timeoutMs,
    async () => (await running()).length === 0,
  );
}

/** Runs `f`; a failure comes back with the kubelet's last words, which tell what it was doing. */
export async function withKubeletLog<T>(k: BerthKubelet, f: (k: BerthKubelet) => Promise<T>): Promise<T> {
  try {
    return await f(k);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- kubelet log (${k.logPath}) ---\n${k.logTail(25)}`, {
      cause: err,
    });
  }
}

/**
 * Runs a scenario with a kubelet (started here from `kubelet` options, or one already running), then
 * takes every pod down through it: nothing of the pods may remain, and the kubelet must exit cleanly
 * on SIGTERM. Whatever a failure left is removed through CRI with the kubelet stopped (a running one
 * would start it again), so the next scenario starts on an empty runtime.
 */
export async function withKubelet(
  cri: RuntimeServiceClient,
  kubelet: BerthKubelet | BerthKubeletOptions,
  scenario: (k: BerthKubelet) => Promise<void>,
  { takeDownMs = 30_000 } = {},
): Promise<void> {
  const k = "runtimeEndpoint" in kubelet ? await startBerthKubelet(kubelet) : kubelet;
  let podsLeft: Leftover[] = [];
  let exit: KubeletExit | undefined;
  try {
    await withKubeletLog(k, async () => {
      await scenario(k);
      await takeDown(k, cri, takeDownMs);
      // A static pod's cgroup goes in its last stage, after its containers: given a moment.
      const deadline = Date.now() + 10_000;
      do {
        podsLeft = await k.leftovers();
        if (podsLeft.length > 0) await sleep(200);
      } while (podsLeft.length > 0 && Date.now() < deadline);
    });
  } finally {
    exit = await k.terminate();
    // Stopped pods stay in the runtime until container GC removes them, which may be held off.
    for (const s of (await cri.listPodSandbox({})).items) {
      await cri.stopPodSandbox({ podSandboxId: s.id });
      await cri.removePodSandbox({ podSandboxId: s.id });
    }
    await k.stop();
  }
  assert.deepEqual(exit, { code: 0, signal: null }, "the kubelet's exit on SIGTERM");
  assert.deepEqual(podsLeft, [], "pods of the kubelet left behind");
  assert.deepEqual(await k.leftovers(), [], "kubelet left behind");
}

/** A container of `image` running `script` under sh, pulled only when missing. */
export function shellContainer(
  image: string,
  name: string,
  script: string,
  extra: Partial<Container> = {},
): Container {
  return { name, image, imagePullPolicy: "IfNotPresent", command: ["sh", "-c", script], ...extra };
}
