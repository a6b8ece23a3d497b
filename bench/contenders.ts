// The two runtimes the benchmarks compare, each behind the same small interface: CRI image
// and runtime clients, the daemon's pid and its monitors' pids, a way to get back to an
// empty store between rounds, and a stop() that leaves nothing of it on the machine.
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type ImageServiceClient, newRemoteImageService } from "../src/cri/remote-image.js";
import { newRemoteRuntimeService, type RuntimeServiceClient } from "../src/cri/remote-runtime.js";
import { type CriConnection, dialCri } from "../src/cri/transport.js";
import { kindOf, messageOf } from "../src/lib/errdefs.js";
import { type BerthRuntime, startBerthRuntime } from "../src/testenv/berth-runtime.js";
import { type Containerd, startContainerd } from "../src/testenv/containerd/containerd.js";
import { mountsUnder, unmountUnder } from "../src/testenv/containerd/mounts.js";
import { killAndWait, pidsMentioning, pidsOf } from "./proc.js";
import { type Cleanups, progress } from "./run.js";

export interface Contender {
  readonly name: "berth" | "containerd";
  /** The daemon's own process. */
  readonly pid: number;
  /** Its CRI socket, unix://<path>, for a kubelet to use. */
  readonly endpoint: string;
  readonly images: ImageServiceClient;
  readonly runtime: RuntimeServiceClient;
  /** The per-container monitors it runs now: containerd's shims, berth's conmons. */
  monitorPids(): Promise<number[]>;
  /** Removes the image and waits until no blob or snapshot of it is left. */
  reset(ref: string): Promise<void>;
  /** Removes its pods, stops it and removes what it made; throws what it had to remove by force. */
  stop(): Promise<void>;
}

export interface ReferenceContainerd extends Contender {
  /** Where it reads its pod network's CNI config. */
  readonly cniConfDir: string;
}

/** What berth needs to run pods like the reference containerd. */
export interface BerthPodConfig {
  sandboxImage: string;
  /** A CNI conf dir to read the pod network from: the reference containerd's, for the same network. */
  cniConfDir: string;
}

/** How long a store may take to empty after RemoveImage. */
const resetTimeoutMs = 60_000;
/** Deadline of each CRI call (PullImage of a large image takes its time). */
const callTimeoutMs = 10 * 60_000;

export async function startBerth(
  parentDir: string,
  nodeArgs: string[],
  pods?: BerthPodConfig,
): Promise<Contender> {
  const configToml = pods && [
    "[plugins.cri]",
    `sandbox_image = ${JSON.stringify(pods.sandboxImage)}`,
    "[plugins.cri.cni]",
    `conf_dir = ${JSON.stringify(pods.cniConfDir)}`,
    "",
  ];
  const rt = await startBerthRuntime({
    parentDir,
    logLevel: "info",
    nodeArgs,
    ...(configToml ? { configToml: configToml.join("\n") } : {}),
  });
  return contender(
    "berth",
    rt.pid,
    rt.endpoint,
    () => pidsOf("conmon", rt.dir),
    () => berthLeft(rt),
    (runtime) => stopBerth(rt, runtime),
  );
}

export async function startReferenceContainerd(
  parentDir: string,
  registryHost: string,
  // The name startRegistryWithTestImages pushes pause under; pulled only when a pod runs.
  sandboxImage = `${registryHost}/berth/pause:3.9`,
): Promise<ReferenceContainerd> {
  const c = await startContainerd({ parentDir, sandboxImage, registryHosts: [registryHost] });
  const self = contender(
    "containerd",
    c.pid,
    c.endpoint,
    // Each shim gets the socket, under the instance's dir, as -address.
    () => pidsOf("containerd-shim-runc-v2", c.baseDir),
    () => containerdLeft(c),
    // The harness removes the CRI pods first, then whatever they left.
    () => c.stop(),
  );
  return { ...self, cniConfDir: c.cniConfDir };
}

function contender(
  name: Contender["name"],
  pid: number,
  endpoint: string,
  monitorPids: () => Promise<number[]>,
  left: () => Promise<string[]>,
  stop: (runtime: RuntimeServiceClient) => Promise<void>,
): Contender {
  const conn: CriConnection = dialCri(endpoint, { timeoutMs: callTimeoutMs });
  const images = newRemoteImageService(conn);
  const runtime = newRemoteRuntimeService(conn);
  return {
    name,
    pid,
    endpoint,
    images,
    runtime,
    monitorPids,
    reset: async (ref) => {
      await images.removeImage({ image: { image: ref } });
      const deadline = Date.now() + resetTimeoutMs;
      for (let rest = await left(); rest.length > 0; rest = await left()) {
        if (Date.now() > deadline)
          throw new Error(`${name}: still holds after RemoveImage: ${rest.join(", ")}`);
        await sleep(100);
      }
    },
    stop: async () => {
      try {
        await stop(runtime);
      } finally {
        conn.close();
      }
    },
  };
}

/**
 * Pods go through the CRI, as the kubelet removes them, so that CNI DEL runs; then the
 * daemon stops, and monitors still naming its dir and mounts under it are removed by force
 * and reported. Container processes a dead monitor left are in the pods' cgroups, which
 * belong to the caller.
 */
async function stopBerth(rt: BerthRuntime, runtime: RuntimeServiceClient): Promise<void> {
  const problems: string[] = [];
  await removeAllPods(runtime).catch((err) => problems.push(messageOf(err)));
  await rt.terminate().catch(() => undefined); // already exited: nothing to stop
  const pids = await pidsMentioning(rt.dir);
  if (pids.length > 0) {
    problems.push(`processes ${pids.join(", ")} still ran`);
    const alive = await killAndWait(pids);
    if (alive.length > 0) problems.push(`processes ${alive.join(", ")} survive SIGKILL`);
  }
  const mounts = mountsUnder(rt.dir);
  if (mounts.length > 0) {
    problems.push(`still mounted: ${mounts.join(", ")}`);
    await unmountUnder(rt.dir);
  }
  await rt.stop();
  if (problems.length > 0) throw new Error(`berth left behind: ${problems.join("; ")}`);
}

/** Stops and removes every container and pod sandbox, as the kubelet's killPod and GC do. */
/**
 * The two runtimes set up to run pods on one network: the reference containerd, then berth with
 * containerd's CNI config and the registry's pause image. Each is stopped by `cleanups`; a berth
 * that fails to start is left out with its error in `errors`, so containerd's figures still come.
 */
export async function startPodContenders(
  scratchDir: string,
  reg: { registryHost: string; pauseRef: string },
  nodeArgs: string[],
  cleanups: Cleanups,
  errors: Partial<Record<Contender["name"], string>>,
): Promise<Contender[]> {
  const containerd = await startReferenceContainerd(scratchDir, reg.registryHost, reg.pauseRef);
  cleanups.push(() => containerd.stop());
  const contenders: Contender[] = [containerd];
  try {
    const berth = await startBerth(scratchDir, nodeArgs, {
      sandboxImage: reg.pauseRef,
      cniConfDir: containerd.cniConfDir,
    });
    cleanups.push(() => berth.stop());
    contenders.push(berth);
  } catch (err) {
    errors.berth = `start: ${messageOf(err)}`;
    progress(`berth: ${errors.berth}`);
  }
  return contenders;
}

export async function removeAllPods(runtime: RuntimeServiceClient): Promise<void> {
  const errs: string[] = [];
  const attempt = (what: string, call: () => Promise<unknown>) =>
    call().catch((err) => {
      if (kindOf(err) !== "NotFound") errs.push(`${what}: ${messageOf(err)}`);
    });
  let containers: { id: string }[];
  let sandboxes: { id: string }[];
  try {
    containers = (await runtime.listContainers({})).containers;
    sandboxes = (await runtime.listPodSandbox({})).items;
  } catch (err) {
    // A runtime without pods (berth before it ran any) has nothing to remove.
    if (kindOf(err) === "NotImplemented") return;
    throw err;
  }
  for (const { id } of containers) {
    await attempt(`StopContainer ${id}`, () => runtime.stopContainer({ containerId: id, timeout: 0n }));
    await attempt(`RemoveContainer ${id}`, () => runtime.removeContainer({ containerId: id }));
  }
  for (const { id } of sandboxes) {
    await attempt(`StopPodSandbox ${id}`, () => runtime.stopPodSandbox({ podSandboxId: id }));
    await attempt(`RemovePodSandbox ${id}`, () => runtime.removePodSandbox({ podSandboxId: id }));
  }
  if (errs.length > 0) throw new Error(errs.join("; "));
}

/** Blob files and snapshot directories on berth's disk (plugin dirs are <root>/<type>.<id>). */
async function berthLeft(rt: BerthRuntime): Promise<string[]> {
  const blobs = await readdir(join(rt.root, "content.local", "blobs", "sha256"));
  const snapshots = await readdir(join(rt.root, "snapshotter.overlayfs", "snapshots"));
  return [...blobs.map((b) => `blob ${b}`), ...snapshots.map((s) => `snapshot ${s}`)];
}

/** Content and snapshots containerd lists in the CRI namespace, and snapshot dirs on its disk. */
async function containerdLeft(c: Containerd): Promise<string[]> {
  const content = (await c.ctr(["-n", "k8s.io", "content", "ls", "-q"])).split("\n").filter(Boolean);
  const dir = join(c.root, "io.containerd.snapshotter.v1.overlayfs", "snapshots");
  const snapshots = await readdir(dir).catch(() => []);
  return [...content.map((d) => `content ${d}`), ...snapshots.map((s) => `snapshot ${s}`)];
}
