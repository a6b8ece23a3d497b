// berth kubelet on containerd 1.6.20 and on berth runtime: how long the kubelet takes from a
// manifest to running containers, against the runtime's own time for the same pod, and what the
// kubelet costs in memory and CPU with pods running:
//
//   npm run bench:kubelet [-- --rounds 3] [--pods 30] [--json] [--node-args="<flags for the kubelet's node>"]
//
// The pod: busybox `sleep 3600` with requests of 10m CPU and 16Mi (Burstable), imagePullPolicy
// IfNotPresent, the image pulled beforehand. Each round, for each runtime in alternating order:
// - runtime alone: the same pod driven straight through the CRI, with the very configs the kubelet
//   sends (worked out once by `berth explain` from the manifest, given each pod's own name, UID,
//   cgroup, log dir and files, plus the managed /etc/hosts the kubelet adds once the pod has an IP);
//   one pod (3 times), then --pods all at once. The pod cgroup, log dir and files are made before
//   the clock starts: making them is the kubelet's work.
// - then a fresh `berth kubelet` (src/testenv/kubelet.ts) with one untimed pod to warm it up: one
//   pod (3 times) and --pods at once, first PUT to its local API (all PUTs at once), then dropped
//   as static pod files into its staticPodPath.
// The time of a start runs from the first CRI call, PUT or file write to the last container's
// startedAt as the runtime reports it, so both paths end at the same event whatever the polling
// (the runtime is asked every 100 ms whether all are running). For API pods the time until the
// local API reports every pod Running with its container running is shown too, polled every 50 ms.
// Kubelet overhead = kubelet's start time (p50) / runtime's own (p50) - 1. With --pods API pods
// running and 5 s to settle, the kubelet's CPU time (utime + stime) is read over a 30 s window in
// which the benchmark asks it nothing, the runtime daemon's beside; at its end the kubelet's RSS
// (at rest, its peak too) and, as the floor, the RSS of a bare Node CRI client that relisted the
// runtime each second over the same window (bench/cri-client-floor.ts), and of a Node process that
// loads nothing.
// Pods go away through the kubelet (DELETE, or the manifest removed) until the runtime runs none of
// them; the stopped sandboxes are then removed through the CRI rather than waiting for the
// kubelet's container GC (a pass a minute). Whatever a failed or interrupted run started is removed: pods, kubelets, runtimes,
// cgroups, mounts, network namespaces.
import { execFile, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs, promisify } from "node:util";
import { clone, create, fromJson, type JsonValue } from "@bufbuild/protobuf";
import type { Pod } from "kubernetes-types/core/v1.js";
import {
  type ContainerConfig,
  ContainerConfigSchema,
  ContainerState,
  MountPropagation,
  MountSchema,
  type PodSandboxConfig,
  PodSandboxConfigSchema,
  PodSandboxMetadataSchema,
  PodSandboxState,
} from "../src/cri/gen/runtime/v1/api_pb.js";
import type { RuntimeServiceClient } from "../src/cri/remote-runtime.js";
import { messageOf } from "../src/lib/errdefs.js";
import { repoRoot } from "../src/testenv/images.js";
import { type BerthKubelet, startBerthKubelet } from "../src/testenv/kubelet.js";
import { startRegistryWithTestImages } from "../src/testenv/registry.js";
import { type Contender, removeAllPods, startPodContenders } from "./contenders.js";
import {
  type CriPod,
  createCgroup,
  forAll,
  removeCgroup,
  removeCgroupTree,
  removePod,
  runPod,
} from "./cri-pod.js";
import { cpuMsOf, type Memory, memoryOf, spawnIdleNode } from "./proc.js";
import { Cleanups, machine, positiveFlag, progress } from "./run.js";
import { mountScratchFs } from "./scratch-fs.js";
import { type Summary, summarize, table } from "./stats.js";

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    pods: { type: "string", default: "30" },
    json: { type: "boolean", default: false },
    "node-args": { type: "string", default: "" },
  },
});
/** Flags for the kubelet's node, e.g. --node-args="--cpu-prof --cpu-prof-dir=/tmp/prof". */
const nodeArgs = args["node-args"].split(" ").filter(Boolean);
const rounds = positiveFlag("rounds", args.rounds);
const burstPods = positiveFlag("pods", args.pods);
/** One-pod starts per path and round: more samples for the figure the overhead is most felt in. */
const singleRepeats = 3;
const settleMs = 5_000;
const idleWindowMs = 30_000;
const criPollMs = 100;
const statusPollMs = 50;
/** How long a start or a teardown of --pods pods may take. */
const waitTimeoutMs = 120_000;
const nodeName = "bench";
const requests = { cpu: "10m", memory: "16Mi" };
/** The issue's goals for berth's kubelet. */
const goals = { kubeletRssBytes: 50 * 1024 ** 2, overhead: 0.2 };

/** How a start was driven: straight through the CRI, or through the kubelet from each source. */
const paths = ["cri", "api", "apiStatus", "file"] as const;
type Path = (typeof paths)[number];

interface Samples {
  /** ms from the first call, PUT or write to the last container started (apiStatus: to the API's Running). */
  single: Record<Path, number[]>;
  burst: Record<Path, number[]>;
  /** One per round, with burstPods API pods running. */
  kubelet: {
    memory: Memory;
    floor: Memory;
    bareNode: Memory;
    cpuPercent: number;
    runtimeCpuPercent: number;
  }[];
}

/** One runtime in the run: its samples so far, its kubelet while one runs, and what made it drop out. */
interface Entry {
  contender: Contender;
  samples: Samples;
  /** Pulled by PullImage: the image reference the kubelet passes to CreateContainer. */
  busyboxRef: string;
  kubelet?: BerthKubelet;
  /** Trials so far: each gets its own namespace, so that a static pod never comes back under an old UID. */
  trials: number;
  error?: string;
}

/** The kubelet's configs for the bench pod, as `berth explain` works them out. */
interface PodTemplate {
  sandbox: PodSandboxConfig;
  container: ContainerConfig;
}

const cleanups = new Cleanups();
const cgroupTop = `/berth-kbench-${process.pid}`;
let filesDir = "";
let busyboxName = "";
const errors: Partial<Record<Contender["name"], string>> = {};
const nowMs = () => performance.timeOrigin + performance.now();

try {
  const reg = await startRegistryWithTestImages();
  cleanups.push(() => reg.registry.stop());
  busyboxName = reg.busybox.ref;
  const scratch = await mountScratchFs(4 * 1024 ** 3);
  cleanups.push(() => scratch.remove());
  filesDir = join(scratch.dir, "cri-pods");
  await mkdir(filesDir);
  cleanups.push(() => removeCgroupTree(cgroupTop));
  const template = await explainBenchPod(scratch.dir);

  progress(`starting containerd and berth on ${scratch.dir}`);
  const contenders = await startPodContenders(
    scratch.dir,
    { registryHost: reg.registry.host, pauseRef: reg.pause.ref },
    [],
    cleanups,
    errors,
  );

  const entries: Entry[] = [];
  for (const c of contenders) {
    const entry: Entry = { contender: c, samples: emptySamples(), busyboxRef: "", trials: 0 };
    // Pushed after the runtime's: a kubelet left running stops (its pods removed) before its runtime.
    cleanups.push(() => stopKubelet(entry));
    await phase(entry, "pull and warm up", async () => {
      await c.images.pullImage({ image: { image: reg.pause.ref } }, { timeoutMs: 0 });
      const pulled = await c.images.pullImage({ image: { image: reg.busybox.ref } }, { timeoutMs: 0 });
      entry.busyboxRef = pulled.imageRef;
      await criTrial(entry, template, 1);
    });
    entries.push(entry);
  }

  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? entries : [...entries].reverse();
    for (const e of order) {
      await phase(e, "runtime alone", async () => {
        for (let i = 0; i < singleRepeats; i++) e.samples.single.cri.push(await criTrial(e, template, 1));
        e.samples.burst.cri.push(await criTrial(e, template, burstPods));
      });
      await phase(e, "kubelet", () => kubeletRound(e));
      if (!e.error) progress(`round ${r + 1}/${rounds}: ${e.contender.name} done`);
    }
  }

  cleanups.check();
  const report = buildReport(entries);
  process.stdout.write(args.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
} finally {
  await cleanups.run();
}

function emptySamples(): Samples {
  const byPath = () => Object.fromEntries(paths.map((p) => [p, []])) as unknown as Record<Path, number[]>;
  return { single: byPath(), burst: byPath(), kubelet: [] };
}

/**
 * Runs one phase of a runtime that has not failed yet. A failure drops the runtime from the rest
 * of the run: its kubelet and pods are removed and the error is reported beside the other's figures.
 */
async function phase(e: Entry, what: string, run: () => Promise<void>): Promise<void> {
  if (e.error) return;
  try {
    await run();
  } catch (err) {
    if (cleanups.interrupted) throw err;
    e.error = `${what}: ${messageOf(err)}`;
    errors[e.contender.name] = e.error;
    progress(`${e.contender.name}: ${e.error}`);
    await stopKubelet(e).catch((err2) =>
      progress(`${e.contender.name}: stopping its kubelet: ${messageOf(err2)}`),
    );
    await removeAllPods(e.contender.runtime).catch((err2) =>
      progress(`${e.contender.name}: removing its pods: ${messageOf(err2)}`),
    );
  }
}

function benchPod(namespace: string, name: string, image: string): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace },
    spec: {
      // The kubelet still gives a container its minimum of 2 s to stop.
      terminationGracePeriodSeconds: 0,
      containers: [
        {
          name: "sleep",
          image,
          imagePullPolicy: "IfNotPresent",
          command: ["sleep", "3600"],
          resources: { requests },
        },
      ],
    },
  };
}

/** `berth explain` on the bench pod: the sandbox and container configs berth's kubelet sends for it. */
async function explainBenchPod(dir: string): Promise<PodTemplate> {
  const manifest = join(dir, "bench-pod.json");
  await writeFile(manifest, JSON.stringify(benchPod("bench", "sleep", busyboxName)));
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [join(repoRoot(), "bin", "berth"), "explain", "-f", manifest, "--node-name", nodeName, "-o", "json"],
    { maxBuffer: 16 * 1024 ** 2 },
  );
  const plan = JSON.parse(stdout) as {
    podSandboxConfig: JsonValue;
    containers: { name: string; config?: JsonValue; error?: string }[];
  };
  const container = plan.containers[0];
  if (!container?.config) throw new Error(`berth explain gave no container config: ${container?.error}`);
  return {
    sandbox: fromJson(PodSandboxConfigSchema, plan.podSandboxConfig),
    container: fromJson(ContainerConfigSchema, container.config),
  };
}

// The runtime alone.

interface DirectPod extends CriPod {
  dir: string;
  cgroupParent: string;
  sandbox: PodSandboxConfig;
  container: ContainerConfig;
}

/**
 * n pods of the template started at once straight through the CRI; ms from the first call to the
 * last container's startedAt. The pods are removed after, as the kubelet's killPod and GC would.
 */
async function criTrial(e: Entry, t: PodTemplate, n: number): Promise<number> {
  cleanups.check();
  const { runtime } = e.contender;
  const namespace = `cri-${e.trials++}`;
  const pods: DirectPod[] = [];
  try {
    for (let i = 0; i < n; i++) pods.push(await directPod(e, t, namespace, `sleep-${i}`));
    const t0 = nowMs();
    await forAll(pods, n, (pod) => runPod(runtime, pod, pod.sandbox, pod.container));
    return (
      (await lastStartedAt(
        runtime,
        pods.map((p) => p.containerId ?? ""),
      )) - t0
    );
  } finally {
    await forAll(pods, n, async (pod) => {
      await removePod(runtime, pod);
      await removeCgroup(pod.cgroupParent);
      await rm(pod.dir, { recursive: true, force: true });
    });
  }
}

/**
 * The template as one pod of its own, with the cgroup, directories and files the kubelet would have
 * made for it.
 */
async function directPod(e: Entry, t: PodTemplate, namespace: string, name: string): Promise<DirectPod> {
  const uid = randomUUID();
  const dir = join(filesDir, uid);
  const cgroupParent = `${cgroupTop}/${e.contender.name}/pod${uid}`;
  await createCgroup(cgroupParent);
  const logDirectory = join(dir, "logs");
  await mkdir(join(logDirectory, "sleep"), { recursive: true });
  const etcHosts = join(dir, "etc-hosts");
  const terminationLog = join(dir, "termination-log");
  await writeFile(etcHosts, "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n");
  await writeFile(terminationLog, "");
  const ids = {
    "io.kubernetes.pod.name": name,
    "io.kubernetes.pod.namespace": namespace,
    "io.kubernetes.pod.uid": uid,
  };

  const sandbox = clone(PodSandboxConfigSchema, t.sandbox);
  sandbox.metadata = create(PodSandboxMetadataSchema, { name, namespace, uid, attempt: 0 });
  sandbox.hostname = name;
  sandbox.logDirectory = logDirectory;
  sandbox.labels = { ...sandbox.labels, ...ids };
  sandbox.annotations = { ...sandbox.annotations, "kubernetes.io/config.hash": uid };
  if (sandbox.linux) sandbox.linux.cgroupParent = cgroupParent;

  const container = clone(ContainerConfigSchema, t.container);
  container.labels = { ...container.labels, ...ids };
  if (container.image) container.image.image = e.busyboxRef;
  container.mounts = [
    // The kubelet adds its managed /etc/hosts once the sandbox has an IP, which explain cannot know.
    create(MountSchema, {
      containerPath: "/etc/hosts",
      hostPath: etcHosts,
      propagation: MountPropagation.PROPAGATION_PRIVATE,
    }),
    ...container.mounts.map((m) =>
      m.containerPath === "/dev/termination-log" ? { ...m, hostPath: terminationLog } : m,
    ),
  ];
  return { dir, cgroupParent, sandbox, container };
}

/** The latest startedAt of the containers, in epoch ms (the runtime reports it in ns). */
async function lastStartedAt(runtime: RuntimeServiceClient, ids: string[]): Promise<number> {
  const statuses = await Promise.all(ids.map((containerId) => runtime.containerStatus({ containerId })));
  return Math.max(
    ...statuses.map((s, i) => {
      const ns = s.status?.startedAt ?? 0n;
      if (ns === 0n) throw new Error(`container ${ids[i]} has not started`);
      return Number(ns) / 1e6;
    }),
  );
}

// Through the kubelet.

/** A fresh kubelet on the runtime: a warm-up pod, then the timed starts, then it stops. */
async function kubeletRound(e: Entry): Promise<void> {
  const k = await startBerthKubelet({
    runtimeEndpoint: e.contender.endpoint,
    logLevel: "info",
    nodeName,
    nodeArgs,
  });
  e.kubelet = k;
  await kubeletTrial(e, k, "api", 1);
  const s = e.samples;
  for (const source of ["api", "file"] as const) {
    for (let i = 0; i < singleRepeats; i++) {
      const t = await kubeletTrial(e, k, source, 1);
      s.single[source].push(t.running);
      if (t.status !== undefined) s.single.apiStatus.push(t.status);
    }
    const t = await kubeletTrial(e, k, source, burstPods, source === "api");
    s.burst[source].push(t.running);
    if (t.status !== undefined) s.burst.apiStatus.push(t.status);
  }
  await stopKubelet(e);
}

/**
 * n pods given to the kubelet at once; ms to the last container's startedAt and, for API pods, to
 * the local API showing all Running. With `measure`, the kubelet's memory and idle CPU with the
 * pods running are sampled before they are taken down.
 */
async function kubeletTrial(
  e: Entry,
  k: BerthKubelet,
  source: "api" | "file",
  n: number,
  measure = false,
): Promise<{ running: number; status?: number }> {
  cleanups.check();
  const { runtime } = e.contender;
  const namespace = `${source}-${e.trials++}`;
  const pods = Array.from({ length: n }, (_, i) => benchPod(namespace, `sleep-${i}`, busyboxName));
  const fileOf = (p: Pod) => `${namespace}-${p.metadata?.name}.json`;
  try {
    const t0 = nowMs();
    if (source === "api") await Promise.all(pods.map((p) => k.apply(p)));
    else for (const p of pods) await k.writeStaticPod(fileOf(p), JSON.stringify(p));
    const [ids, status] = await Promise.all([
      runningContainers(runtime, namespace, n),
      source === "api" ? apiRunning(k, namespace, n).then((at) => at - t0) : undefined,
    ]);
    const running = (await lastStartedAt(runtime, ids)) - t0;
    if (measure) e.samples.kubelet.push(await idleCost(k.pid, e.contender));
    return { running, ...(status === undefined ? {} : { status }) };
  } finally {
    if (source === "api") {
      await Promise.all(pods.map((p) => k.delete(namespace, p.metadata?.name ?? "").catch(() => undefined)));
    } else {
      for (const p of pods) await k.removeStaticPod(fileOf(p));
    }
    await takeDown(e, k);
  }
}

/** Polls the runtime until n containers of the namespace run; their ids. */
async function runningContainers(
  runtime: RuntimeServiceClient,
  namespace: string,
  n: number,
): Promise<string[]> {
  const filter = {
    labelSelector: { "io.kubernetes.pod.namespace": namespace },
    state: { state: ContainerState.CONTAINER_RUNNING },
  };
  const deadline = Date.now() + waitTimeoutMs;
  for (;;) {
    cleanups.check();
    const { containers } = await runtime.listContainers({ filter });
    if (containers.length >= n) return containers.map((c) => c.id);
    if (Date.now() > deadline) throw new Error(`${containers.length} of ${n} containers of ${namespace} run`);
    await sleep(criPollMs);
  }
}

/** Polls the local API until it shows n pods of the namespace Running with their containers running. */
async function apiRunning(k: BerthKubelet, namespace: string, n: number): Promise<number> {
  const deadline = Date.now() + waitTimeoutMs;
  for (;;) {
    cleanups.check();
    const running = (await k.listPods()).filter(
      (p) =>
        p.metadata?.namespace === namespace &&
        p.status?.phase === "Running" &&
        (p.status.containerStatuses ?? []).length > 0 &&
        (p.status.containerStatuses ?? []).every((c) => c.state?.running),
    ).length;
    if (running >= n) return nowMs();
    if (Date.now() > deadline) {
      throw new Error(
        `the local API shows ${running} of ${n} pods of ${namespace} Running\n${k.logTail(10)}`,
      );
    }
    await sleep(statusPollMs);
  }
}

/**
 * The kubelet's CPU and the runtime daemon's over a window with no requests, then the kubelet's
 * memory at its end (at rest, not right after the burst) beside a bare CRI client's, the floor.
 */
async function idleCost(kubeletPid: number, runtime: Contender): Promise<Samples["kubelet"][number]> {
  const floor = spawn(
    process.execPath,
    [join(repoRoot(), "dist", "bench", "cri-client-floor.js"), runtime.endpoint],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  const idleNode = spawnIdleNode();
  try {
    await sleep(settleMs);
    const [k0, r0] = await Promise.all([cpuMsOf(kubeletPid), cpuMsOf(runtime.pid)]);
    await sleep(idleWindowMs);
    const [k1, r1] = await Promise.all([cpuMsOf(kubeletPid), cpuMsOf(runtime.pid)]);
    const percent = (ms: number) => (ms / idleWindowMs) * 100;
    return {
      memory: await memoryOf(kubeletPid),
      floor: await memoryOf(floor.pid ?? 0),
      bareNode: await memoryOf(idleNode.pid ?? 0),
      cpuPercent: percent(k1 - k0),
      runtimeCpuPercent: percent(r1 - r0),
    };
  } finally {
    floor.kill();
    idleNode.kill();
  }
}

/**
 * Waits until the kubelet has let go of every pod given to it (the local API holds none, the runtime
 * runs none), removes the stopped sandboxes through the CRI, and waits until the kubelet has removed
 * the pod cgroups, so that the next trial starts on a node at rest.
 */
async function takeDown(e: Entry, k: BerthKubelet): Promise<void> {
  const { runtime } = e.contender;
  await until("the local API holds no pod", async () => (await k.listPods()).length === 0);
  await until("the runtime runs no pod", async () => {
    const [sandboxes, containers] = await Promise.all([
      runtime.listPodSandbox({}),
      runtime.listContainers({}),
    ]);
    return (
      sandboxes.items.every((s) => s.state === PodSandboxState.SANDBOX_NOTREADY) &&
      containers.containers.every((c) => c.state !== ContainerState.CONTAINER_RUNNING)
    );
  });
  await removeAllPods(runtime);
  await until("the kubelet removed its pods' cgroups", async () => (await k.leftovers()).length === 0);
}

async function until(what: string, done: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + waitTimeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(100);
  }
}

/**
 * Stops the entry's kubelet, if one runs: its pods taken down through it (through the CRI if that
 * fails), then the kubelet; throws what it left on the machine.
 */
async function stopKubelet(e: Entry): Promise<void> {
  const k = e.kubelet;
  if (!k) return;
  e.kubelet = undefined;
  try {
    for (const p of await k.listPods()) {
      await k.delete(p.metadata?.namespace ?? "default", p.metadata?.name ?? "").catch(() => undefined);
    }
    for (const f of await listStaticPods(k)) await k.removeStaticPod(f);
    await takeDown(e, k);
  } catch (err) {
    progress(
      `${e.contender.name}: kubelet did not take its pods down (${messageOf(err)}); removing them by CRI`,
    );
    await removeAllPods(e.contender.runtime);
  }
  await k.stop();
  const left = await k.leftovers();
  if (left.length > 0) {
    throw new Error(`the kubelet left behind: ${left.map((l) => `${l.kind} ${l.what}`).join(", ")}`);
  }
}

async function listStaticPods(k: BerthKubelet): Promise<string[]> {
  return (await readdir(k.staticPodDir)).filter((f) => !f.startsWith("."));
}

// The report.

function buildReport(entries: Entry[]) {
  const figures = (e: Entry) => {
    const s = e.samples;
    const sum = (xs: number[]) => (xs.length > 0 ? summarize(xs) : undefined);
    const start = (of: Record<Path, number[]>) =>
      Object.fromEntries(paths.map((p) => [p, sum(of[p])])) as Record<Path, Summary | undefined>;
    const single = start(s.single);
    const burst = start(s.burst);
    const overhead = (of: Record<Path, Summary | undefined>, path: Path) => {
      const k = of[path]?.median;
      const c = of.cri?.median;
      return k !== undefined && c !== undefined ? k / c - 1 : undefined;
    };
    const overheads = (of: Record<Path, Summary | undefined>) => ({
      api: overhead(of, "api"),
      apiStatus: overhead(of, "apiStatus"),
      file: overhead(of, "file"),
    });
    return {
      single,
      burst,
      overhead: { single: overheads(single), burst: overheads(burst) },
      kubelet: {
        rss: sum(s.kubelet.map((k) => k.memory.rss)),
        anon: sum(s.kubelet.map((k) => k.memory.anon)),
        peak: sum(s.kubelet.map((k) => k.memory.peak)),
        floor: sum(s.kubelet.map((k) => k.floor.rss)),
        bareNode: sum(s.kubelet.map((k) => k.bareNode.rss)),
        cpuPercent: sum(s.kubelet.map((k) => k.cpuPercent)),
        runtimeCpuPercent: sum(s.kubelet.map((k) => k.runtimeCpuPercent)),
      },
      samples: s,
    };
  };
  const runtimes = Object.fromEntries(entries.map((e) => [e.contender.name, figures(e)]));
  return {
    date: new Date().toISOString(),
    machine: machine(),
    rounds,
    pods: { single: 1, singleRepeats, burst: burstPods, requests, image: busyboxName },
    pollMs: { cri: criPollMs, status: statusPollMs },
    idleWindowMs,
    goals,
    runtimes: runtimes as Partial<Record<Contender["name"], ReturnType<typeof figures>>>,
    errors,
  };
}

type Report = ReturnType<typeof buildReport>;
type Figures = NonNullable<Report["runtimes"]["berth"]>;

function formatReport(r: Report): string {
  const ms = (s: Summary | undefined) =>
    s === undefined ? "-" : `${s.median.toFixed(0)} ms (${s.min.toFixed(0)}–${s.max.toFixed(0)})`;
  const pct = (x: number | undefined) =>
    x === undefined ? "-" : `${x >= 0 ? "+" : ""}${(x * 100).toFixed(0)} %`;
  const mib = (s: Summary | undefined) =>
    s === undefined ? "-" : `${(s.median / 1024 ** 2).toFixed(1)} MiB`;
  const cpu = (s: Summary | undefined) => (s === undefined ? "-" : `${s.median.toFixed(2)} %`);
  const names = ["containerd", "berth"] as const;
  const row = <T>(
    metric: string,
    of: (f: Figures) => T,
    show: (x: T) => string,
    goal?: { text: string; met: (x: T) => boolean | undefined },
  ) => {
    const cells = names.map((n) => {
      const f = r.runtimes[n];
      if (!f) return "-";
      const x = of(f);
      const met = goal?.met(x);
      return `${show(x)}${met === undefined ? "" : met ? " (met)" : " (not met)"}`;
    });
    return [metric, ...cells, goal?.text ?? ""];
  };
  const overheadGoal = {
    text: `≤ +${r.goals.overhead * 100} %`,
    met: (x: number | undefined) => (x === undefined ? undefined : x <= r.goals.overhead),
  };
  const startRows = (
    label: string,
    of: (f: Figures) => Figures["single"],
    ov: (f: Figures) => Figures["overhead"]["single"],
  ) => [
    row(`${label}: runtime alone (CRI)`, (f) => of(f).cri, ms),
    row(`${label}: kubelet, local API → running`, (f) => of(f).api, ms),
    row(`${label}: kubelet overhead, local API`, (f) => ov(f).api, pct, overheadGoal),
    row(`${label}: kubelet, local API → status Running`, (f) => of(f).apiStatus, ms),
    row(`${label}: kubelet, static file → running`, (f) => of(f).file, ms),
    row(`${label}: kubelet overhead, static file`, (f) => ov(f).file, pct, overheadGoal),
  ];
  const rows = [
    ["metric (p50, min–max)", ...names, "goal"],
    ...startRows(
      "1 pod",
      (f) => f.single,
      (f) => f.overhead.single,
    ),
    ...startRows(
      `${r.pods.burst} pods at once`,
      (f) => f.burst,
      (f) => f.overhead.burst,
    ),
    row(`kubelet RSS, ${r.pods.burst} pods running`, (f) => f.kubelet.rss, mib, {
      text: `≤ ${r.goals.kubeletRssBytes / 1024 ** 2} MiB`,
      met: (x) => (x === undefined ? undefined : x.median <= r.goals.kubeletRssBytes),
    }),
    row(`kubelet RssAnon, ${r.pods.burst} pods running`, (f) => f.kubelet.anon, mib),
    row("kubelet peak RSS (VmHWM)", (f) => f.kubelet.peak, mib),
    row("floor: a bare Node CRI client's RSS", (f) => f.kubelet.floor, mib),
    row("a Node process that loads nothing, RSS", (f) => f.kubelet.bareNode, mib),
    row(
      `kubelet CPU, ${r.pods.burst} pods, ${r.idleWindowMs / 1000} s idle`,
      (f) => f.kubelet.cpuPercent,
      cpu,
    ),
    row("runtime daemon CPU, same window", (f) => f.kubelet.runtimeCpuPercent, cpu),
  ];
  const errorLines = Object.entries(r.errors).map(([name, err]) => `${name} failed: ${err}`);
  return [
    `berth kubelet: ${r.pods.image} (sleep 3600, requests ${r.pods.requests.cpu} CPU ${r.pods.requests.memory}), ` +
      `${r.rounds} rounds of 1 pod ×${r.pods.singleRepeats} and ${r.pods.burst} pods at once per path ` +
      `(${r.machine.cpus} CPUs, Node ${r.machine.node})`,
    "running = the last container's startedAt in the runtime; status Running polled every " +
      `${r.pollMs.status} ms; overhead = kubelet p50 / runtime alone p50 - 1`,
    table(rows),
    ...(errorLines.length > 0 ? ["", ...errorLines] : []),
    "",
  ].join("\n");
}
