// berth vs containerd, side by side: CRI PullImage of a small image (busybox) and of a large
// one (large-image.ts) from one local registry, and the daemons' idle resident memory beside the
// floor of a Node CRI server (cri-server-floor.ts) and of a Node process that loads nothing.
//
//   npm run bench [-- --rounds 5] [--json] [--node-args="<flags for berth's node>"]
//
// Every round pulls into an empty store: the image is removed and the bench waits until
// no blob or snapshot of it is left. Rounds alternate which runtime goes first, and dirty
// pages are synced before each pull, so neither pays for the other's writeback. One
// untimed busybox pull per runtime first opens its registry connections and warms its code.
// Beside the wall time, each pull's CPU time in the daemon is shown: it varies less when
// other work shares the machine. --node-args tries the daemon with other V8 settings, or
// profiles it: --node-args="--cpu-prof --cpu-prof-dir=/tmp/prof" writes a profile as it stops.
import { execFile, spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs, promisify } from "node:util";
import { buildImageBlobs, writeImage } from "../src/local-images/oci-image-builder.js";
import { buildTestImages, defaultImagesDir, repoRoot } from "../src/testenv/images.js";
import { startRegistry } from "../src/testenv/registry.js";
import { type Contender, startBerth, startReferenceContainerd } from "./contenders.js";
import { largeImageSpec } from "./large-image.js";
import { cpuMsOf, type Memory, memoryOf, spawnIdleNode } from "./proc.js";
import { mountScratchFs } from "./scratch-fs.js";
import { ratio, type Summary, summarize, table } from "./stats.js";

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    json: { type: "boolean", default: false },
    "node-args": { type: "string", default: "" },
  },
});
const rounds = Number(args.rounds);
if (!Number.isInteger(rounds) || rounds < 1) {
  throw new Error(`--rounds: want a positive integer, got ${args.rounds}`);
}
/** Long enough for a daemon to finish what a pull or a start left running (GC, timers). */
const settleMs = 5_000;

interface BenchImage {
  name: string;
  ref: string;
  layers: number;
  /** Bytes of manifest, config and compressed layers. */
  size: number;
  unpackedSize: number;
}

interface PullSamples {
  image: string;
  runtime: Contender["name"];
  wallMs: number[];
  cpuMs: number[];
}

const progress = (line: string) => process.stderr.write(`${line}\n`);
const cleanups: (() => Promise<void>)[] = [];
const cleanup = async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch((err) => progress(`cleanup: ${err}`));
};
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => void cleanup().finally(() => process.exit(130)));
}

try {
  progress("building images");
  const busybox = (await buildTestImages(defaultImagesDir())).find((i) => i.name === "busybox");
  if (!busybox) throw new Error("busybox was not built");
  const large = await writeImage(await buildImageBlobs(largeImageSpec()), join(repoRoot(), "build", "bench"));

  const registry = await startRegistry();
  cleanups.push(() => registry.stop());
  progress(`pushing to ${registry.host}`);
  const images: BenchImage[] = [];
  for (const [img, repo] of [
    [busybox, "library/busybox"],
    [large, "bench/large"],
  ] as const) {
    const { ref } = await registry.push(img, repo, img.tag);
    const { name, size, unpackedSize } = img;
    images.push({ name, ref, layers: img.layerDigests.length, size, unpackedSize });
  }

  const scratch = await mountScratchFs(8 * 1024 ** 3);
  cleanups.push(() => scratch.remove());
  progress(`starting containerd and berth on ${scratch.dir}`);
  const nodeArgs = args["node-args"].split(" ").filter(Boolean);
  const contenders: Contender[] = [];
  for (const start of [
    () => startBerth(scratch.dir, nodeArgs),
    () => startReferenceContainerd(scratch.dir, registry.host),
  ]) {
    const c = await start();
    cleanups.push(() => c.stop());
    contenders.push(c);
  }
  const floorDir = join(scratch.dir, "floor");
  await mkdir(floorDir);
  const floorProc = spawn(
    process.execPath,
    [join(repoRoot(), "dist", "bench", "cri-server-floor.js"), floorDir],
    {
      stdio: ["ignore", "ignore", "inherit"],
    },
  );
  const idleNode = spawnIdleNode();
  cleanups.push(async () => {
    floorProc.kill();
    idleNode.kill();
  });
  await sleep(settleMs);
  const atStart = await Promise.all(contenders.map((c) => memoryOf(c.pid)));
  const floor = await memoryOf(floorProc.pid ?? 0);
  const bareNode = await memoryOf(idleNode.pid ?? 0);
  floorProc.kill();
  idleNode.kill();

  const warmup = images[0] as BenchImage;
  for (const c of contenders) {
    await pullOnce(c, warmup.ref);
    await c.reset(warmup.ref);
  }
  const pulls: PullSamples[] = [];
  for (const img of images) {
    const of = new Map<Contender, PullSamples>(
      contenders.map((c) => [c, { image: img.name, runtime: c.name, wallMs: [], cpuMs: [] }]),
    );
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? contenders : [...contenders].reverse();
      for (const c of order) {
        const { wallMs, cpuMs } = await pullOnce(c, img.ref);
        of.get(c)?.wallMs.push(wallMs);
        of.get(c)?.cpuMs.push(cpuMs);
        progress(
          `${img.name} round ${r + 1}/${rounds}: ${c.name} ${seconds(wallMs)} (CPU ${seconds(cpuMs)})`,
        );
        await c.reset(img.ref);
      }
    }
    pulls.push(...of.values());
  }
  await sleep(settleMs);
  const afterPulls = await Promise.all(contenders.map((c) => memoryOf(c.pid)));

  const report = buildReport(images, pulls, contenders, atStart, afterPulls, { floor, bareNode }, nodeArgs);
  process.stdout.write(args.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
} finally {
  await cleanup();
}

/** One CRI PullImage, which returns once the image is unpacked: its wall time and the daemon's CPU time. */
async function pullOnce(c: Contender, ref: string): Promise<{ wallMs: number; cpuMs: number }> {
  await promisify(execFile)("sync");
  const cpu0 = await cpuMsOf(c.pid);
  const t0 = performance.now();
  await c.images.pullImage({ image: { image: ref } }, { timeoutMs: 0 });
  const wallMs = performance.now() - t0;
  return { wallMs, cpuMs: (await cpuMsOf(c.pid)) - cpu0 };
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

function buildReport(
  images: BenchImage[],
  samples: PullSamples[],
  contenders: Contender[],
  atStart: Memory[],
  afterPulls: Memory[],
  floors: { floor: Memory; bareNode: Memory },
  berthNodeArgs: string[],
) {
  const pulls = samples.map((s) => ({ ...s, wall: summarize(s.wallMs), cpu: summarize(s.cpuMs) }));
  const median = (image: string, runtime: string, of: "wall" | "cpu") =>
    pulls.find((p) => p.image === image && p.runtime === runtime)?.[of].median ?? Number.NaN;
  const pullRatio = (of: "wall" | "cpu") =>
    Object.fromEntries(
      images.map((i) => [i.name, ratio(median(i.name, "berth", of), median(i.name, "containerd", of))]),
    );
  const memory = Object.fromEntries(
    contenders.map((c, i) => [
      c.name,
      { atStart: atStart[i] as Memory, afterPulls: afterPulls[i] as Memory },
    ]),
  );
  const memRatio = (when: "atStart" | "afterPulls", of: "rss" | "anon") =>
    ratio(memory.berth?.[when][of] ?? Number.NaN, memory.containerd?.[when][of] ?? Number.NaN);
  return {
    date: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      memoryBytes: totalmem(),
      node: process.version,
    },
    rounds,
    berthNodeArgs,
    images,
    pulls,
    /** berth over containerd, of the medians. */
    pullRatio: { wall: pullRatio("wall"), cpu: pullRatio("cpu") },
    memory,
    /** A bare Node CRI server with LMDB open (bench/cri-server-floor.ts): what berth cannot go below. */
    floor: floors.floor,
    /** A Node process that loads nothing: under every Node program. */
    bareNode: floors.bareNode,
    memoryRatio: {
      rss: { atStart: memRatio("atStart", "rss"), afterPulls: memRatio("afterPulls", "rss") },
      anon: { atStart: memRatio("atStart", "anon"), afterPulls: memRatio("afterPulls", "anon") },
    },
  };
}

function formatReport(r: ReturnType<typeof buildReport>): string {
  const mb = (b: number | undefined) => `${((b ?? Number.NaN) / 1e6).toFixed(1)} MB`;
  const summary = (s: Summary) => [seconds(s.min), seconds(s.median), seconds(s.max)];
  const pullRows = r.pulls.map((p) => {
    const img = r.images.find((i) => i.name === p.image);
    return [
      p.image,
      `${img?.layers} / ${mb(img?.size)}`,
      p.runtime,
      ...summary(p.wall),
      seconds(p.cpu.median),
    ];
  });
  const ratios = (of: Record<string, number>) =>
    Object.entries(of)
      .map(([image, x]) => `${image} ${x}`)
      .join(", ");
  const memRows = Object.entries(r.memory).map(([name, m]) => [
    name,
    `${mb(m.atStart.rss)} (${mb(m.atStart.anon)})`,
    `${mb(m.afterPulls.rss)} (${mb(m.afterPulls.anon)})`,
    mb(m.afterPulls.peak),
  ]);
  const { rss, anon } = r.memoryRatio;
  return [
    `CRI PullImage into an empty store, ${r.rounds} rounds (${r.machine.cpus} CPUs, Node ${r.machine.node}` +
      `${r.berthNodeArgs.length > 0 ? `, berth with ${r.berthNodeArgs.join(" ")}` : ""})`,
    table([["image", "layers / size", "runtime", "min", "median", "max", "CPU (median)"], ...pullRows]),
    `berth/containerd of the medians: wall ${ratios(r.pullRatio.wall)}; CPU ${ratios(r.pullRatio.cpu)}`,
    "",
    "daemon memory when idle: VmRSS (RssAnon, its own pages without those of its binary)",
    table([["runtime", "after start", "after pulls", "peak"], ...memRows]),
    `berth/containerd: VmRSS after start ${rss.atStart}, after pulls ${rss.afterPulls}; ` +
      `RssAnon after start ${anon.atStart}, after pulls ${anon.afterPulls}`,
    `floor, a bare Node CRI server with LMDB open (bench/cri-server-floor.ts): ${mb(r.floor.rss)} (${mb(r.floor.anon)}); ` +
      `a Node process that loads nothing: ${mb(r.bareNode.rss)} (${mb(r.bareNode.anon)})`,
    "",
  ].join("\n");
}
