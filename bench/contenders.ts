// The two runtimes the benchmark compares, each behind the same small interface: a CRI
// image client, the daemon's pid, and a way to get back to an empty store between rounds.
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type ImageServiceClient, newRemoteImageService } from "../src/cri/remote-image.js";
import { type CriConnection, dialCri } from "../src/cri/transport.js";
import { type BerthRuntime, startBerthRuntime } from "../src/testenv/berth-runtime.js";
import { type Containerd, startContainerd } from "../src/testenv/containerd/containerd.js";

export interface Contender {
  readonly name: "berth" | "containerd";
  /** The daemon's own process (containerd's shims do not exist without containers). */
  readonly pid: number;
  readonly images: ImageServiceClient;
  /** Removes the image and waits until no blob or snapshot of it is left. */
  reset(ref: string): Promise<void>;
  stop(): Promise<void>;
}

/** How long a store may take to empty after RemoveImage. */
const resetTimeoutMs = 60_000;

export async function startBerth(parentDir: string, nodeArgs: string[]): Promise<Contender> {
  const rt = await startBerthRuntime({ parentDir, logLevel: "info", nodeArgs });
  return contender(
    "berth",
    rt.pid,
    rt.endpoint,
    () => berthLeft(rt),
    () => rt.stop().then(() => undefined),
  );
}

export async function startReferenceContainerd(parentDir: string, registryHost: string): Promise<Contender> {
  const c = await startContainerd({
    parentDir,
    // Never pulled: the benchmark runs no pod.
    sandboxImage: `${registryHost}/berth/pause:3.9`,
    registryHosts: [registryHost],
  });
  return contender(
    "containerd",
    c.pid,
    c.endpoint,
    () => containerdLeft(c),
    () => c.stop(),
  );
}

function contender(
  name: Contender["name"],
  pid: number,
  endpoint: string,
  left: () => Promise<string[]>,
  stop: () => Promise<void>,
): Contender {
  const conn: CriConnection = dialCri(endpoint);
  const images = newRemoteImageService(conn);
  return {
    name,
    pid,
    images,
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
      conn.close();
      await stop();
    },
  };
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
