// berth vs containerd, side by side, running pods through the CRI calls the kubelet makes:
//
//   npm run bench:pods [-- --rounds 3] [--pods 20] [--json] [--node-args="<flags for berth's node>"]
//
// - pod start: RunPodSandbox, CreateContainer (busybox `sleep 3600`, image pulled before),
//   StartContainer, one pod after the other (--pods of them): p50 and p95 of the three together;
// - concurrent start: 16 pods, 4 at a time, in pods per second;
// - teardown of each of the sequential pods in the kubelet's order (killPod, then its GC):
//   StopContainer with no grace period, StopPodSandbox, RemoveContainer, RemovePodSandbox;
// - with 30 pods running: the runtime's memory per pod, that is the daemon's resident memory
//   plus that of its monitors (containerd's shims, berth's conmons), less the daemon's when
//   idle just before, over 30; and the p50 of ListPodSandbox, ListContainers,
//   PodSandboxStatus, ContainerStatus and ListContainerStats.
// Each pod gets what the kubelet gives a BestEffort pod: a pod cgroup made beforehand (as its
// pod container manager does), a log directory, seccomp Unconfined, the default masked and
// read-only paths. Both runtimes read the same CNI config (the reference containerd's bridge,
// host-local and portmap), so they do the same network work. Rounds alternate which runtime
// goes first; one untimed pod per runtime first warms its code and makes the bridge. Memory is
// RSS throughout, as the goal is put, which counts the pages monitors share (their binary)
// once per monitor; a second figure takes the monitors' PSS instead, which splits shared
// pages among their sharers. The daemon counts by RSS in both: its PSS would move with
// whatever else on the machine maps the same binary.
// Whatever a failed or interrupted run started is removed: pods through the CRI, then anything
// left under a runtime's dirs or in the benchmark's cgroups, by force.
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import {
  ContainerState,
  NamespaceMode,
  PodSandboxState,
  SecurityProfile_ProfileType,
} from "../src/cri/gen/runtime/v1/api_pb.js";
import {
  convertToRuntimeMaskedPaths,
  convertToRuntimeReadonlyPaths,
} from "../src/kubelet/kuberuntime/security-context.js";
import { messageOf } from "../src/lib/errdefs.js";
import { startRegistryWithTestImages } from "../src/testenv/registry.js";
import { type Contender, startPodContenders } from "./contenders.js";
import {
  type ContainerConfig,
  type CriPod,
  createCgroup,
  forAll,
  removeCgroup,
  removeCgroupTree,
  removePod,
  runPod,
  type SandboxConfig,
} from "./cri-pod.js";
import { type Memory, memoryOf } from "./proc.js";
import { Cleanups, machine, positiveFlag, progress } from "./run.js";
import { mountScratchFs } from "./scratch-fs.js";
import { ratio, type Summary, summarize, table } from "./stats.js";

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    pods: { type: "string", default: "20" },
    json: { type: "boolean", default: false },
    "node-args": { type: "string", default: "" },
  },
});
const rounds = positiveFlag("rounds", args.rounds);
const sequentialPods = positiveFlag("pods", args.pods);
const concurrentPods = 16;
const concurrency = 4;
const loadPods = 30;
/** Calls of each kind timed with loadPods running, after a few untimed ones. */
const callIterations = 200;
const callWarmup = 10;
/** Long enough for a daemon to finish what the last pods left running (GC, timers, exits). */
const settleMs = 5_000;
/** The goals for berth. */
const goals = { startP50Ratio: 0.8, memoryPerPodBytes: 5e6, listContainerStatsMs: 20 };

const callNames = [
  "ListPodSandbox",
  "ListContainers",
  "PodSandboxStatus",
  "ContainerStatus",
  "ListContainerStats",
] as const;
type CallName = (typeof callNames)[number];

interface PodSpec {
  name: string;
  uid: string;
  cgroupParent: string;
  logDirectory: string;
}

interface Pod extends CriPod {
  spec: PodSpec;
}

interface MemorySample {
  /** The daemon just before the pods started. */
  idle: Memory;
  /** The daemon with loadPods running. */
  loaded: Memory;
  monitors: { count: number; rss: number; pss: number };
}

interface Samples {
  startMs: number[];
  teardownMs: number[];
  /** One per round. */
  podsPerSecond: number[];
  memory: MemorySample[];
  callMs: Record<CallName, number[]>;
}

/** One runtime in the run: its samples so far, and what made it drop out. */
interface Entry {
  contender: Contender;
  samples: Samples;
  /** Pods started and not yet torn down. */
  live: Set<Pod>;
  /** Pulled by PullImage: the image reference the kubelet passes to CreateContainer. */
  busyboxRef: string;
  podCount: number;
  error?: string;
}

const cleanups = new Cleanups();

const cgroupTop = `/berth-bench-${process.pid}`;
let logsDir = "";
const errors: Partial<Record<Contender["name"], string>> = {};

try {
  const reg = await startRegistryWithTestImages();
  cleanups.push(() => reg.registry.stop());
  const scratch = await mountScratchFs(4 * 1024 ** 3);
  cleanups.push(() => scratch.remove());
  logsDir = await mkdtemp(join(scratch.dir, "pod-logs-"));
  cleanups.push(() => removeCgroupTree(cgroupTop));

  progress(`starting containerd and berth on ${scratch.dir}`);
  const nodeArgs = args["node-args"].split(" ").filter(Boolean);
  const contenders = await startPodContenders(
    scratch.dir,
    { registryHost: reg.registry.host, pauseRef: reg.pause.ref },
    nodeArgs,
    cleanups,
    errors,
  );

  const entries: Entry[] = [];
  for (const c of contenders) {
    const entry: Entry = {
      contender: c,
      samples: emptySamples(),
      live: new Set(),
      busyboxRef: "",
      podCount: 0,
    };
    await phase(entry, "pull and warm up", async () => {
      await c.images.pullImage({ image: { image: reg.pause.ref } }, { timeoutMs: 0 });
      const pulled = await c.images.pullImage({ image: { image: reg.busybox.ref } }, { timeoutMs: 0 });
      entry.busyboxRef = pulled.imageRef;
      await teardownPod(entry, await startPod(entry, await newPodSpec(entry)));
    });
    entries.push(entry);
  }

  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? entries : [...entries].reverse();
    for (const e of order) {
      const name = e.contender.name;
      await phase(e, "sequential starts", () => sequentialRound(e));
      await phase(e, "concurrent starts", () => concurrentRound(e));
      await phase(e, `${loadPods} pods running`, () => loadRound(e));
      if (!e.error) progress(`round ${r + 1}/${rounds}: ${name} done`);
    }
  }

  cleanups.check();
  const report = buildReport(entries, reg.busybox.ref);
  process.stdout.write(args.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
} finally {
  await cleanups.run();
}

function emptySamples(): Samples {
  const callMs = Object.fromEntries(callNames.map((n) => [n, []])) as unknown as Record<CallName, number[]>;
  return { startMs: [], teardownMs: [], podsPerSecond: [], memory: [], callMs };
}

/**
 * Runs one phase of a runtime that has not failed yet. A failure drops the runtime from the
 * rest of the run: its pods are removed and the error is reported beside the other's figures.
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
    await forAll([...e.live], concurrency, (p) => teardownPod(e, p)).catch((err2) =>
      progress(`${e.contender.name}: removing its pods: ${messageOf(err2)}`),
    );
  }
}

async function sequentialRound(e: Entry): Promise<void> {
  const pods: Pod[] = [];
  for (let i = 0; i < sequentialPods; i++) {
    const spec = await newPodSpec(e);
    const t0 = performance.now();
    pods.push(await startPod(e, spec));
    e.samples.startMs.push(performance.now() - t0);
  }
  for (const pod of pods) e.samples.teardownMs.push(await teardownPod(e, pod));
}

async function concurrentRound(e: Entry): Promise<void> {
  const specs: PodSpec[] = [];
  for (let i = 0; i < concurrentPods; i++) specs.push(await newPodSpec(e));
  const t0 = performance.now();
  const pods = await forAll(specs, concurrency, (spec) => startPod(e, spec));
  e.samples.podsPerSecond.push(concurrentPods / ((performance.now() - t0) / 1000));
  await forAll(pods, concurrency, (p) => teardownPod(e, p));
}

async function loadRound(e: Entry): Promise<void> {
  const c = e.contender;
  await sleep(settleMs);
  const idle = await memoryOf(c.pid);
  const specs: PodSpec[] = [];
  for (let i = 0; i < loadPods; i++) specs.push(await newPodSpec(e));
  const pods = await forAll(specs, concurrency, (spec) => startPod(e, spec));
  await sleep(settleMs);
  const loaded = await memoryOf(c.pid);
  const monitorMemory = await Promise.all((await c.monitorPids()).map(memoryOf));
  const sum = (of: "rss" | "pss") => monitorMemory.reduce((s, m) => s + m[of], 0);
  e.samples.memory.push({
    idle,
    loaded,
    monitors: { count: monitorMemory.length, rss: sum("rss"), pss: sum("pss") },
  });

  await checkListed(c, pods);
  const at = (i: number) => pods[i % pods.length] as Pod;
  const calls: Record<CallName, (i: number) => Promise<unknown>> = {
    ListPodSandbox: () => c.runtime.listPodSandbox({}),
    ListContainers: () => c.runtime.listContainers({}),
    PodSandboxStatus: (i) => c.runtime.podSandboxStatus({ podSandboxId: at(i).sandboxId ?? "" }),
    ContainerStatus: (i) => c.runtime.containerStatus({ containerId: at(i).containerId ?? "" }),
    ListContainerStats: () => c.runtime.listContainerStats({}),
  };
  for (const name of callNames) {
    for (let i = 0; i < callWarmup; i++) await calls[name](i);
    for (let i = 0; i < callIterations; i++) {
      const t0 = performance.now();
      await calls[name](i);
      e.samples.callMs[name].push(performance.now() - t0);
    }
  }
  await forAll(pods, concurrency, (p) => teardownPod(e, p));
}

/**
 * A fast answer only counts if it is the whole answer: every pod ready with an address,
 * every container running, a stats entry for each.
 */
async function checkListed(c: Contender, pods: Pod[]): Promise<void> {
  const want = new Set(pods.map((p) => p.containerId));
  const [sandboxes, containers, stats, statuses] = await Promise.all([
    c.runtime.listPodSandbox({}),
    c.runtime.listContainers({}),
    c.runtime.listContainerStats({}),
    Promise.all(pods.map((p) => c.runtime.podSandboxStatus({ podSandboxId: p.sandboxId ?? "" }))),
  ]);
  const found = {
    "ready sandboxes": sandboxes.items.filter(
      (s) => s.state === PodSandboxState.SANDBOX_READY && pods.some((p) => p.sandboxId === s.id),
    ).length,
    "pod IPs": statuses.filter((s) => s.status?.network?.ip).length,
    "running containers": containers.containers.filter(
      (x) => x.state === ContainerState.CONTAINER_RUNNING && want.has(x.id),
    ).length,
    "container stats": stats.stats.filter((s) => want.has(s.attributes?.id)).length,
  };
  for (const [what, n] of Object.entries(found)) {
    if (n !== pods.length)
      throw new Error(`${c.name} shows ${n} ${what} for the ${pods.length} pods running`);
  }
}

async function newPodSpec(e: Entry): Promise<PodSpec> {
  const uid = randomUUID();
  const name = `bench-${e.contender.name}-${e.podCount++}`;
  const spec: PodSpec = {
    name,
    uid,
    cgroupParent: `${cgroupTop}/${e.contender.name}/pod${uid}`,
    logDirectory: join(logsDir, `bench_${name}_${uid}`),
  };
  await createCgroup(spec.cgroupParent);
  await mkdir(spec.logDirectory);
  return spec;
}

/** What the kubelet's generatePodSandboxConfig makes of a BestEffort pod with one container. */
function sandboxConfig(spec: PodSpec): SandboxConfig {
  return {
    metadata: { name: spec.name, namespace: "bench", uid: spec.uid, attempt: 0 },
    hostname: spec.name,
    logDirectory: spec.logDirectory,
    labels: {
      "io.kubernetes.pod.name": spec.name,
      "io.kubernetes.pod.namespace": "bench",
      "io.kubernetes.pod.uid": spec.uid,
    },
    annotations: { "kubernetes.io/config.source": "api" },
    linux: {
      cgroupParent: spec.cgroupParent,
      securityContext: {
        namespaceOptions: {
          network: NamespaceMode.POD,
          pid: NamespaceMode.CONTAINER,
          ipc: NamespaceMode.POD,
        },
        seccomp: { profileType: SecurityProfile_ProfileType.Unconfined },
      },
    },
  };
}

function containerConfig(spec: PodSpec, image: string): ContainerConfig {
  return {
    metadata: { name: "sleep", attempt: 0 },
    image: { image },
    command: ["sleep", "3600"],
    labels: {
      "io.kubernetes.container.name": "sleep",
      "io.kubernetes.pod.name": spec.name,
      "io.kubernetes.pod.namespace": "bench",
      "io.kubernetes.pod.uid": spec.uid,
    },
    annotations: { "io.kubernetes.container.restartCount": "0" },
    logPath: "sleep/0.log",
    linux: {
      // BestEffort: the least CPU weight, the first to go when memory runs out.
      resources: { cpuPeriod: 100_000n, cpuShares: 2n, oomScoreAdj: 1000n },
      securityContext: {
        namespaceOptions: {
          network: NamespaceMode.POD,
          pid: NamespaceMode.CONTAINER,
          ipc: NamespaceMode.POD,
        },
        seccomp: { profileType: SecurityProfile_ProfileType.Unconfined },
        // The kubelet's defaults (securitycontext.defaultMaskedPaths and defaultReadonlyPaths).
        maskedPaths: convertToRuntimeMaskedPaths(undefined),
        readonlyPaths: convertToRuntimeReadonlyPaths(undefined),
      },
    },
  };
}

/** RunPodSandbox, CreateContainer, StartContainer: the pod counts as live from its sandbox on. */
async function startPod(e: Entry, spec: PodSpec): Promise<Pod> {
  cleanups.check();
  const pod: Pod = { spec };
  e.live.add(pod);
  await runPod(e.contender.runtime, pod, sandboxConfig(spec), containerConfig(spec, e.busyboxRef));
  return pod;
}

/**
 * Returns the time of the kubelet's teardown calls; the pod cgroup and log directory go after,
 * as the kubelet removes them later.
 */
async function teardownPod(e: Entry, pod: Pod): Promise<number> {
  cleanups.check();
  const t0 = performance.now();
  await removePod(e.contender.runtime, pod);
  const ms = performance.now() - t0;
  e.live.delete(pod);
  await removeCgroup(pod.spec.cgroupParent);
  await rm(pod.spec.logDirectory, { recursive: true, force: true });
  return ms;
}

function buildReport(entries: Entry[], image: string) {
  const runtimes = Object.fromEntries(
    entries
      .filter((e) => e.samples.startMs.length > 0)
      .map((e) => {
        const s = e.samples;
        const perPod = (monitors: "rss" | "pss") =>
          median(s.memory.map((m) => (m.loaded.rss - m.idle.rss + m.monitors[monitors]) / loadPods));
        return [
          e.contender.name,
          {
            start: summarize(s.startMs),
            teardown: s.teardownMs.length > 0 ? summarize(s.teardownMs) : undefined,
            podsPerSecond: s.podsPerSecond.length > 0 ? median(s.podsPerSecond) : undefined,
            memory:
              s.memory.length > 0
                ? { perPodRss: perPod("rss"), perPodPss: perPod("pss"), rounds: s.memory }
                : undefined,
            calls: Object.fromEntries(
              callNames.filter((n) => s.callMs[n].length > 0).map((n) => [n, summarize(s.callMs[n])]),
            ) as Partial<Record<CallName, Summary>>,
          },
        ];
      }),
  );
  return {
    date: new Date().toISOString(),
    machine: machine(),
    rounds,
    pods: { sequential: sequentialPods, concurrent: concurrentPods, concurrency, load: loadPods },
    callIterations,
    image,
    goals,
    runtimes: runtimes as Partial<Record<Contender["name"], (typeof runtimes)[string]>>,
    errors,
  };
}

function median(xs: number[]): number {
  return summarize(xs).median;
}

type Report = ReturnType<typeof buildReport>;
type RuntimeFigures = NonNullable<Report["runtimes"]["berth"]>;

function formatReport(r: Report): string {
  const ms = (x: number | undefined) => (x === undefined ? "-" : `${x.toFixed(x < 10 ? 2 : 0)} ms`);
  const mb = (x: number | undefined) => (x === undefined ? "-" : `${(x / 1e6).toFixed(1)} MB`);
  const rate = (x: number | undefined) => (x === undefined ? "-" : `${x.toFixed(1)}/s`);
  const { containerd, berth } = r.runtimes;
  const row = (
    metric: string,
    of: (f: RuntimeFigures) => number | undefined,
    show: (x: number | undefined) => string,
    goal = "",
    met?: (berth: number, containerd: number) => boolean,
  ) => {
    const c = containerd && of(containerd);
    const b = berth && of(berth);
    const x = b !== undefined && c !== undefined ? ratio(b, c) : undefined;
    const verdict = met && b !== undefined && c !== undefined ? (met(b, c) ? " (met)" : " (not met)") : "";
    return [metric, show(c), show(b), x === undefined ? "-" : String(x), goal && `${goal}${verdict}`];
  };
  const g = r.goals;
  const call = (n: CallName) => (f: RuntimeFigures) => f.calls[n]?.median;
  const rows = [
    ["metric", "containerd", "berth", "berth/containerd", "goal"],
    row(
      "pod start p50",
      (f) => f.start.median,
      ms,
      `≤ ${g.startP50Ratio} × containerd`,
      (b, c) => b <= g.startP50Ratio * c,
    ),
    row("pod start p95", (f) => f.start.p95, ms),
    row(
      `pods/s, ${r.pods.concurrent} at ${r.pods.concurrency} at a time (higher is better)`,
      (f) => f.podsPerSecond,
      rate,
    ),
    row("teardown p50", (f) => f.teardown?.median, ms),
    row(
      `memory per pod, RSS (${r.pods.load} pods)`,
      (f) => f.memory?.perPodRss,
      mb,
      `≤ ${mb(g.memoryPerPodBytes)}`,
      (b) => b <= g.memoryPerPodBytes,
    ),
    row(`memory per pod, monitors by PSS (${r.pods.load} pods)`, (f) => f.memory?.perPodPss, mb),
    ...callNames.map((n) =>
      n === "ListContainerStats"
        ? row(
            `${n} p50 (${r.pods.load} pods)`,
            call(n),
            ms,
            `≤ ${ms(g.listContainerStatsMs)}`,
            (b) => b <= g.listContainerStatsMs,
          )
        : row(`${n} p50 (${r.pods.load} pods)`, call(n), ms),
    ),
  ];
  const memoryRows = Object.entries(r.runtimes).map(([name, f]) => {
    const last = f?.memory?.rounds.at(-1);
    if (!last) return [name, "-", "-", "-", "-", "-"];
    return [
      name,
      mb(last.idle.rss),
      mb(last.loaded.rss),
      String(last.monitors.count),
      `${mb(last.monitors.rss)} (${mb(last.monitors.pss)})`,
      `${mb(last.loaded.rss - last.idle.rss + last.monitors.rss)} (${mb(last.loaded.rss - last.idle.rss + last.monitors.pss)})`,
    ];
  });
  const errorLines = Object.entries(r.errors).map(([name, err]) => `${name} failed: ${err}`);
  return [
    `CRI pods of ${r.image} (sleep 3600), ${r.rounds} rounds: ${r.pods.sequential} started one by one, ` +
      `${r.pods.concurrent} ${r.pods.concurrency} at a time, ${r.pods.load} running for memory and ` +
      `${r.callIterations} calls of each kind (${r.machine.cpus} CPUs, Node ${r.machine.node})`,
    table(rows),
    "",
    `runtime memory with ${r.pods.load} pods, last round: RSS (monitors by PSS)`,
    table([
      ["runtime", "daemon idle", "daemon loaded", "monitors", "monitors' memory", "runtime's growth"],
      ...memoryRows,
    ]),
    ...(errorLines.length > 0 ? ["", ...errorLines] : []),
    "",
  ].join("\n");
}
