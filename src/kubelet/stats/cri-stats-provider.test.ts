import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createRouterTransport } from "@connectrpc/connect";
import type { Pod } from "kubernetes-types/core/v1.js";
import { pino } from "pino";
import {
  ContainerSchema,
  ContainerState,
  type ContainerStatsSchema,
  ImageService,
  PodSandboxSchema,
  PodSandboxState,
  PodSandboxStatsSchema,
  RuntimeService,
} from "../../cri/gen/runtime/v1/api_pb.js";
import { newCriClient } from "../../cri/transport.js";
import {
  addCRIPodStats,
  buildPodStats,
  CriStatsProvider,
  calcEphemeralStorage,
  removeTerminatedContainers,
  removeTerminatedPods,
} from "./cri-stats-provider.js";
import { type FsInfo, getDirFsInfo } from "./fs-info.js";
import { HostStatsProvider } from "./host-stats-provider.js";
import { type ContainerStats, type FsStats, formatStatsTime } from "./types.js";

const log = pino({ level: "silent" });
const sec = 1_000_000_000n;
/** A whole second shortly before now, in ns: the CPU samples must be recent to stay cached. */
const t0 = BigInt(Math.floor(Date.now() / 1000) - 60) * sec;
/** The stats time of t0 + s seconds. */
const at = (s: number) => formatStatsTime(Number(t0 / 1_000_000n) + s * 1000);

type SandboxInit = MessageInitShape<typeof PodSandboxSchema>;
type ContainerInit = MessageInitShape<typeof ContainerSchema>;
type ContainerStatsInit = MessageInitShape<typeof ContainerStatsSchema>;
type PodSandboxStatsInit = MessageInitShape<typeof PodSandboxStatsSchema>;

const u64 = (value: bigint) => ({ value });

function sandbox(id: string, name: string, state: PodSandboxState, createdAt: bigint): SandboxInit {
  return { id, metadata: { name, namespace: "default", uid: `uid-${name}`, attempt: 0 }, state, createdAt };
}

function container(id: string, sandboxId: string, name: string, state: ContainerState): ContainerInit {
  return { id, podSandboxId: sandboxId, metadata: { name, attempt: 0 }, state, createdAt: t0 };
}

/** A container's stats as a runtime gives them, with the CPU rate left to the kubelet. */
function containerStats(
  id: string,
  name: string,
  at: bigint,
  cpuNs: bigint,
  mountpoint: string,
): ContainerStatsInit {
  return {
    attributes: { id, metadata: { name, attempt: 0 } },
    cpu: { timestamp: at, usageCoreNanoSeconds: u64(cpuNs) },
    memory: {
      timestamp: at,
      workingSetBytes: u64(4096n),
      usageBytes: u64(8192n),
      rssBytes: u64(2048n),
      availableBytes: u64(1024n),
      pageFaults: u64(10n),
      majorPageFaults: u64(1n),
    },
    writableLayer: { timestamp: at, fsId: { mountpoint }, usedBytes: u64(12288n), inodesUsed: u64(3n) },
  };
}

function podSandboxStats(sandboxId: string, name: string, at: bigint, containers: ContainerStatsInit[]) {
  return {
    attributes: { id: sandboxId, metadata: { name, namespace: "default", uid: `uid-${name}`, attempt: 0 } },
    linux: {
      cpu: { timestamp: at, usageCoreNanoSeconds: u64(5n * sec), usageNanoCores: u64(250_000_000n) },
      memory: { timestamp: at, workingSetBytes: u64(65536n), usageBytes: u64(131072n) },
      network: {
        timestamp: at,
        defaultInterface: {
          name: "eth0",
          rxBytes: u64(100n),
          rxErrors: u64(0n),
          txBytes: u64(200n),
          txErrors: u64(0n),
        },
        interfaces: [],
      },
      process: { timestamp: at, processCount: u64(2n) },
      containers,
    },
  } satisfies PodSandboxStatsInit;
}

/** The JSON the summary serves: undefined fields are not there. */
const json = <T>(v: T): T => JSON.parse(JSON.stringify(v));

describe("CriStatsProvider on given CRI answers", () => {
  let dir: string;
  let rootDir: string;
  let podLogsDir: string;
  let rootFs: FsInfo;
  /** What the runtime answers to ListPodSandboxStats next (an Error fails the call). */
  let listAnswer: PodSandboxStatsInit[] | Error;
  /** What PodSandboxStats answers, and the sandboxes it was asked for. */
  let sandboxAnswer: PodSandboxStatsInit | undefined;
  let perSandbox: string[];
  let provider: CriStatsProvider;
  const sandboxes = [
    sandbox("s-web", "web", PodSandboxState.SANDBOX_READY, t0),
    sandbox("s-done", "done", PodSandboxState.SANDBOX_NOTREADY, t0),
  ];
  const containers = [
    container("c-app", "s-web", "app", ContainerState.CONTAINER_RUNNING),
    container("c-old", "s-web", "app", ContainerState.CONTAINER_EXITED),
  ];
  const webPod: Pod = {
    metadata: { name: "web", namespace: "default", uid: "uid-web" },
    spec: {
      containers: [{ name: "app" }],
      volumes: [
        { name: "scratch", emptyDir: {} },
        { name: "host", hostPath: { path: "/" } },
      ],
    },
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-cri-stats-"));
    rootDir = join(dir, "root");
    podLogsDir = join(dir, "logs");
    const logDir = join(podLogsDir, "default_web_uid-web", "app");
    await mkdir(logDir, { recursive: true });
    await writeFile(join(logDir, "0.log"), "x".repeat(10_000));
    await writeFile(join(logDir, "0.log.20240102-030405.gz"), "y".repeat(5000));
    const podDir = join(rootDir, "pods", "uid-web");
    const scratch = join(podDir, "volumes", "kubernetes.io~empty-dir", "scratch");
    await mkdir(scratch, { recursive: true });
    await writeFile(join(scratch, "data"), "z".repeat(20_000));
    await writeFile(join(podDir, "etc-hosts"), "127.0.0.1 localhost\n");
    rootFs = await getDirFsInfo(dir);

    const transport = createRouterTransport(({ service }) => {
      service(RuntimeService, {
        listContainers: () => ({ containers }),
        listPodSandbox: () => ({ items: sandboxes }),
        listPodSandboxStats: () => {
          if (listAnswer instanceof Error) throw listAnswer;
          return { stats: listAnswer };
        },
        podSandboxStats: (req) => {
          perSandbox.push(req.podSandboxId);
          return { stats: sandboxAnswer };
        },
      });
      service(ImageService, {});
    });
    const conn = { endpoint: "memory", transport, close: () => {} };
    provider = new CriStatsProvider({
      runtime: newCriClient(RuntimeService, conn),
      images: newCriClient(ImageService, conn),
      host: new HostStatsProvider({ rootDir, podLogsDir }),
      getPodByUID: (uid) => (uid === "uid-web" ? webPod : undefined),
      log,
    });
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("pods and their running containers, with usageNanoCores from two samples", async () => {
    perSandbox = [];
    listAnswer = [podSandboxStats("s-web", "web", t0, [containerStats("c-app", "app", t0, 10n * sec, dir)])];
    const first = json(await provider.listPodStats(rootFs));
    assert.equal(first.length, 1, "the stopped pod has no stats");
    assert.equal(first[0]?.containers[0]?.cpu?.usageNanoCores, undefined, "one sample: no rate yet");

    // One second and half a core-second later.
    listAnswer = [
      podSandboxStats("s-web", "web", t0 + sec, [
        containerStats("c-app", "app", t0 + sec, 10n * sec + sec / 2n, dir),
      ]),
    ];
    const [web] = json(await provider.listPodStats(rootFs));
    assert.ok(web);
    assert.deepEqual(web.podRef, { name: "web", namespace: "default", uid: "uid-web" });
    assert.equal(web.startTime, at(0));
    assert.deepEqual(web.cpu, {
      time: at(1),
      usageNanoCores: 250_000_000,
      usageCoreNanoSeconds: 5_000_000_000,
    });
    assert.deepEqual(web.memory, {
      time: at(1),
      workingSetBytes: 65536,
      usageBytes: 131072,
    });
    assert.deepEqual(web.network, {
      time: at(1),
      name: "eth0",
      rxBytes: 100,
      rxErrors: 0,
      txBytes: 200,
      txErrors: 0,
      interfaces: [],
    });
    assert.deepEqual(web.process_stats, { process_count: 2 });

    assert.equal(web.containers.length, 1, "only the running instance of app");
    const app = web.containers[0] as ContainerStats;
    assert.equal(app.name, "app");
    assert.equal(app.startTime, at(0));
    assert.deepEqual(app.cpu, {
      time: at(1),
      usageNanoCores: 500_000_000,
      usageCoreNanoSeconds: 10_500_000_000,
    });
    assert.deepEqual(app.memory, {
      time: at(1),
      availableBytes: 1024,
      usageBytes: 8192,
      workingSetBytes: 4096,
      rssBytes: 2048,
      pageFaults: 10,
      majorPageFaults: 1,
    });
    assert.equal(app.rootfs?.usedBytes, 12288);
    assert.equal(app.rootfs?.inodesUsed, 3);
    assert.equal(app.rootfs?.capacityBytes, rootFs.capacity, "sized by the writable layer's filesystem");
    assert.equal(app.logs?.inodesUsed, 2, "the log and the rotated one");
    assert.ok((app.logs?.usedBytes ?? 0) >= 15_000, `logs: ${app.logs?.usedBytes}`);

    assert.deepEqual(
      web.volume?.map((v) => v.name),
      ["scratch"],
      "hostPath has no metrics",
    );
    const scratch = web.volume?.[0] as FsStats;
    assert.ok((scratch.usedBytes ?? 0) >= 20_000);
    const eph = web["ephemeral-storage"] as FsStats;
    // Writable layer, logs, the emptyDir and /etc/hosts (4096 bytes of one block, one inode).
    assert.equal(eph.usedBytes, 12288 + (app.logs?.usedBytes ?? 0) + (scratch.usedBytes ?? 0) + 4096);
    assert.equal(eph.inodesUsed, 3 + 2 + (scratch.inodesUsed ?? 0) + 1);
    assert.equal(eph.capacityBytes, rootFs.capacity);
    assert.deepEqual(perSandbox, [], "the list answered");
  });

  test("when ListPodSandboxStats fails (containerd 1.6 with a stopped pod), each ready sandbox is asked", async () => {
    perSandbox = [];
    sandboxAnswer = podSandboxStats("s-web", "web", t0 + 2n * sec, [
      containerStats("c-app", "app", t0 + 2n * sec, 11n * sec, dir),
    ]);
    listAnswer = new ConnectError(
      'failed to decode sandbox container metrics for sandbox "s-done": sandbox is not in ready state',
      Code.Unknown,
    );
    const pods = json(await provider.listPodStats(rootFs));
    assert.deepEqual(perSandbox, ["s-web"], "not the stopped one");
    assert.equal(pods[0]?.containers[0]?.cpu?.usageNanoCores, 500_000_000, "0.5 s more in 1 s");
  });

  test("CPU and memory alone: no disk, no network, and the last rate without a new sample", async () => {
    listAnswer = [
      podSandboxStats("s-web", "web", t0 + 3n * sec, [
        containerStats("c-app", "app", t0 + 3n * sec, 99n * sec, dir),
      ]),
    ];
    const [web] = json(await provider.listPodCPUAndMemoryStats());
    assert.deepEqual(Object.keys(web ?? {}).sort(), ["containers", "cpu", "memory", "podRef", "startTime"]);
    assert.deepEqual(Object.keys(web?.containers[0] ?? {}).sort(), ["cpu", "memory", "name", "startTime"]);
    assert.equal(web?.containers[0]?.cpu?.usageNanoCores, 500_000_000, "the cached rate, not a new one");
  });
});

// The pure steps, each against what upstream computes.
describe("building pod stats", () => {
  test("addCRIPodStats: CPU and memory only when asked for them alone", () => {
    const ps = buildPodStats(create(PodSandboxSchema, sandbox("s", "p", PodSandboxState.SANDBOX_READY, t0)));
    addCRIPodStats(ps, create(PodSandboxStatsSchema, podSandboxStats("s", "p", t0, [])), true);
    assert.deepEqual(Object.keys(json(ps)).sort(), ["containers", "cpu", "memory", "podRef", "startTime"]);
  });

  test("calcEphemeralStorage: logs count only with a writable layer; volumes, pod logs and /etc/hosts add up", () => {
    const fs: FsInfo = {
      timestamp: 0,
      capacity: 1000,
      available: 600,
      usage: 400,
      inodes: 50,
      inodesFree: 20,
    };
    const containers: ContainerStats[] = [
      {
        name: "a",
        startTime: at(0),
        rootfs: { time: at(1), usedBytes: 10, inodesUsed: 1 },
        logs: { time: at(2), usedBytes: 5, inodesUsed: 2 },
      },
      { name: "b", startTime: at(0), logs: { time: at(9), usedBytes: 100, inodesUsed: 100 } },
    ];
    const got = calcEphemeralStorage(
      containers,
      [{ name: "v", time: at(3), usedBytes: 7, inodesUsed: 1 }],
      fs,
      { time: at(4), usedBytes: 1, inodesUsed: 1 },
      undefined,
    );
    assert.deepEqual(got, {
      time: at(4),
      availableBytes: 600,
      capacityBytes: 1000,
      inodesFree: 20,
      inodes: 50,
      usedBytes: 23,
      inodesUsed: 5,
    });
  });

  // TestRemoveTerminatedPods / TestRemoveTerminatedContainers.
  test("removeTerminatedPods keeps the ready sandboxes of a pod, else its newest", () => {
    const msg = (id: string, name: string, state: PodSandboxState, at: bigint) =>
      create(PodSandboxSchema, sandbox(id, name, state, at));
    const { SANDBOX_READY: ready, SANDBOX_NOTREADY: notReady } = PodSandboxState;
    const got = removeTerminatedPods([
      msg("1", "pod1", notReady, 2n),
      msg("2", "pod1", ready, 1n),
      msg("3", "pod2", notReady, 3n),
      msg("4", "pod2", notReady, 4n),
      msg("5", "pod3", notReady, 1n),
    ]);
    assert.deepEqual(got.map((s) => s.id).sort(), ["2", "4", "5"]);
  });

  test("removeTerminatedContainers keeps running containers only", () => {
    const got = removeTerminatedContainers(
      [
        ContainerState.CONTAINER_RUNNING,
        ContainerState.CONTAINER_EXITED,
        ContainerState.CONTAINER_CREATED,
      ].map((state, i) => create(ContainerSchema, container(String(i), "s", "c", state))),
    );
    assert.deepEqual(
      got.map((c) => c.id),
      ["0"],
    );
  });
});
