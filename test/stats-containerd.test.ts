// What containerd 1.6.20 answers to ContainerStats, ListContainerStats, PodSandboxStats and
// ListPodSandboxStats, field by field, and berth's readers and builders
// (src/runtime/cri/cgroup-stats.ts, network-stats.ts, stats.ts) run on the very same
// cgroups and network namespace, which must give the same fields and the same numbers.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { create, type JsonValue, type MessageInitShape, toJson } from "@bufbuild/protobuf";
import {
  type ContainerStats,
  ContainerStatsSchema,
  type PodSandboxConfigSchema,
  type PodSandboxStats,
  PodSandboxStatsSchema,
} from "../src/cri/gen/runtime/v1/api_pb.js";
import { newRemoteImageService } from "../src/cri/remote-image.js";
import { newRemoteRuntimeService, type RuntimeServiceClient } from "../src/cri/remote-runtime.js";
import { type CriConnection, dialCri } from "../src/cri/transport.js";
import { kindOf } from "../src/lib/errdefs.js";
import { readCgroupStats } from "../src/runtime/cri/cgroup-stats.js";
import { readNetworkStats } from "../src/runtime/cri/network-stats.js";
import {
  type ContainerStatsInput,
  containerStatsOf,
  podSandboxStatsOf,
  UsageNanoCores,
} from "../src/runtime/cri/stats.js";
import { existingCgroups, removeCgroup } from "../src/testenv/cgroups.js";
import { type Containerd, startContainerd } from "../src/testenv/containerd/containerd.js";
import { type RegistryWithTestImages, startRegistryWithTestImages } from "../src/testenv/registry.js";

const skip = process.getuid?.() !== 0 ? "needs root" : false;
const MiB = 1024n * 1024n;

type Json = { [k: string]: JsonValue };
type PodConfig = MessageInitShape<typeof PodSandboxConfigSchema>;
/** The part of a container config these tests vary. */
interface ContainerConfig {
  metadata: { name: string };
  command: string[];
  labels?: Record<string, string>;
  linux?: { resources: { memoryLimitInBytes?: bigint; cpuQuota?: bigint; cpuPeriod?: bigint } };
}
const ctrJson = (s: ContainerStats | undefined) =>
  toJson(ContainerStatsSchema, s ?? create(ContainerStatsSchema)) as Json;
const podJson = (s: PodSandboxStats | undefined) =>
  toJson(PodSandboxStatsSchema, s ?? create(PodSandboxStatsSchema)) as Json;

/** Field names all the way down, with the values left out: which fields are set. */
function shape(v: JsonValue): JsonValue {
  if (Array.isArray(v)) return v.map(shape);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(
      Object.entries(v)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, x]) => [k, shape(x)]),
    );
  }
  return typeof v;
}
const byId = (a: Json, b: Json) =>
  String((a.attributes as Json).id).localeCompare(String((b.attributes as Json).id));
const value = (w: JsonValue | undefined) => BigInt(((w ?? {}) as Json).value?.toString() ?? "0");

describe("stats RPCs of containerd 1.6.20, and berth's on the same cgroups", { skip }, () => {
  let reg: RegistryWithTestImages;
  let ctrd: Containerd;
  let conn: CriConnection;
  let rt: RuntimeServiceClient;
  const parent = `/berth-stats-ctrd-${process.pid}`;
  const busyParent = `${parent}-busy`;
  let fsRoot: string;
  let idlePod: string;
  let busyPod: string;
  let sleeper: string; // running: sh -c "sleep & sleep", 64 MiB limit
  let created: string; // created, never started
  let spinner: string; // running a busy loop capped at a fifth of a core
  let idleConfig: PodConfig;
  const nano = new UsageNanoCores();

  const podConfig = (name: string, cgroupParent: string): PodConfig => ({
    metadata: { name, uid: `uid-${name}`, namespace: "default" },
    labels: { app: name },
    annotations: { note: "stats" },
    linux: { cgroupParent },
  });

  async function runContainer(pod: string, sandboxConfig: PodConfig, config: ContainerConfig, start = true) {
    const { containerId } = await rt.createContainer({
      podSandboxId: pod,
      sandboxConfig,
      config: { image: { image: reg.busybox.ref }, ...config },
    });
    if (start) await rt.startContainer({ containerId });
    return containerId;
  }

  /** berth's ContainerStats for a container of containerd's, from its cgroup under the pod's parent. */
  async function berthContainer(
    cgroupParent: string,
    c: Json,
    processes = false,
  ): Promise<ContainerStatsInput> {
    const attrs = c.attributes as Json;
    const layer = c.writableLayer as Json;
    return {
      attributes: {
        id: String(attrs.id),
        metadata: attrs.metadata as { name: string },
        labels: (attrs.labels ?? {}) as Record<string, string>,
        annotations: (attrs.annotations ?? {}) as Record<string, string>,
      },
      cgroup: c.cpu ? await readCgroupStats(`${cgroupParent}/${attrs.id}`, { processes }) : undefined,
      // The layer's size is the snapshotter's business; only containerd's choice of fields is at stake.
      writableLayer: layer.timestamp
        ? {
            timestamp: BigInt(String(layer.timestamp)),
            usedBytes: value(layer.usedBytes),
            inodesUsed: value(layer.inodesUsed),
          }
        : undefined,
    };
  }

  before(async () => {
    reg = await startRegistryWithTestImages();
    ctrd = await startContainerd({ sandboxImage: reg.pause.ref, registryHosts: [reg.registry.host] });
    conn = dialCri(ctrd.endpoint);
    rt = newRemoteRuntimeService(conn);
    await newRemoteImageService(conn).pullImage({ image: { image: reg.busybox.ref } });
    fsRoot = `${ctrd.root}/io.containerd.snapshotter.v1.overlayfs`;

    idleConfig = podConfig("idle", parent);
    idlePod = (await rt.runPodSandbox({ config: idleConfig })).podSandboxId;
    sleeper = await runContainer(idlePod, idleConfig, {
      metadata: { name: "sleeper" },
      labels: { role: "sleeper" },
      command: ["sh", "-c", "sleep 3600 & sleep 3600"],
      linux: { resources: { memoryLimitInBytes: 64n * MiB } },
    });
    created = await runContainer(
      idlePod,
      idleConfig,
      { metadata: { name: "created" }, command: ["sleep", "1"] },
      false,
    );

    const busyConfig = podConfig("busy", busyParent);
    busyPod = (await rt.runPodSandbox({ config: busyConfig })).podSandboxId;
    spinner = await runContainer(busyPod, busyConfig, {
      metadata: { name: "spinner" },
      command: ["sh", "-c", "while :; do :; done"],
      linux: { resources: { cpuQuota: 20_000n, cpuPeriod: 100_000n } },
    });
    await sleep(200); // let the sleeper's shell start its sleeps
  });

  after(async () => {
    for (const pod of [idlePod, busyPod].filter(Boolean)) {
      await rt.stopPodSandbox({ podSandboxId: pod }).catch(() => {});
      await rt.removePodSandbox({ podSandboxId: pod }).catch(() => {});
    }
    conn?.close();
    await ctrd?.stop();
    assert.deepEqual(await ctrd?.leftovers(), []);
    await reg?.registry.stop();
    for (const p of [parent, busyParent]) {
      await removeCgroup(p);
      assert.deepEqual(await existingCgroups(p), []);
    }
  });

  test("ListContainerStats: cpu and memory only with a task, a writable layer for every container", async () => {
    const { stats } = await rt.listContainerStats({ filter: { podSandboxId: idlePod } });
    const got = stats.map(ctrJson).sort(byId);
    const sleeping = got.find((s) => (s.attributes as Json).id === sleeper);
    const idle = got.find((s) => (s.attributes as Json).id === created);
    assert.ok(sleeping && idle);

    // Attributes carry the config's metadata, labels and annotations (none given here).
    assert.deepEqual(sleeping.attributes, {
      id: sleeper,
      metadata: { name: "sleeper" },
      labels: { role: "sleeper" },
    });
    // The writable layer is reported on the snapshotter's root, zero until its periodic sync.
    assert.deepEqual((sleeping.writableLayer as Json).fsId, { mountpoint: fsRoot });
    // A container without a task gets no cpu or memory at all.
    assert.deepEqual(Object.keys(idle).sort(), ["attributes", "writableLayer"]);

    const cpu = sleeping.cpu as Json;
    const mem = sleeping.memory as Json;
    assert.equal(cpu.timestamp, mem.timestamp, "one sample time for cpu and memory");
    assert.deepEqual(cpu.usageNanoCores, {}, "first sample: 0, but set");
    // Every memory field is set, available being the limit less the working set.
    assert.deepEqual(Object.keys(mem).sort(), [
      "availableBytes",
      "majorPageFaults",
      "pageFaults",
      "rssBytes",
      "timestamp",
      "usageBytes",
      "workingSetBytes",
    ]);
    assert.equal(value(mem.availableBytes), 64n * MiB - value(mem.workingSetBytes));
    assert.ok(value(mem.usageBytes) > 0n && value(mem.rssBytes) > 0n && value(mem.pageFaults) > 0n);

    // berth, on the same cgroups: the same fields, and for these idle processes the same numbers.
    const mine = await Promise.all(
      got.map(async (c) =>
        ctrJson(
          create(ContainerStatsSchema, containerStatsOf(await berthContainer(parent, c), fsRoot, nano)),
        ),
      ),
    );
    assert.deepEqual(mine.map(shape), got.map(shape));
    const mySleeping = mine.find((s) => (s.attributes as Json).id === sleeper);
    assert.ok(mySleeping);
    const myMem = mySleeping.memory as Json;
    for (const k of ["usageBytes", "workingSetBytes", "availableBytes", "rssBytes", "majorPageFaults"]) {
      assert.equal(value(myMem[k]), value(mem[k]), k);
    }
    assert.equal(value((mySleeping.cpu as Json).usageCoreNanoSeconds), value(cpu.usageCoreNanoSeconds));
  });

  test("usageNanoCores: 0 on the first sample, then the rate since the previous call of any stats RPC", async () => {
    const sample = async () => {
      const s = (await rt.listContainerStats({ filter: { id: spinner } })).stats[0];
      const mine = await readCgroupStats(`${busyParent}/${spinner}`);
      assert.ok(mine);
      return { theirs: s?.cpu?.usageNanoCores?.value ?? -1n, mine: nano.compute(spinner, mine) };
    };
    assert.deepEqual(await sample(), { theirs: 0n, mine: 0n });
    await sleep(1000);
    const second = await sample();
    // ContainerStats shares the baseline that ListContainerStats moved.
    await sleep(1000);
    const one = (await rt.containerStats({ containerId: spinner })).stats?.cpu?.usageNanoCores?.value ?? 0n;
    for (const [what, v] of [
      ["list", second.theirs],
      ["one", one],
      ["berth", second.mine],
    ] as const) {
      assert.ok(v > 150_000_000n && v < 250_000_000n, `${what}: ${v} nanocores for a fifth of a core`);
    }
  });

  test("PodSandboxStats: the pod's cgroup, eth0 alone, its containers' processes, and its containers", async () => {
    const theirs = podJson((await rt.podSandboxStats({ podSandboxId: idlePod })).stats);
    const linux = theirs.linux as Json;
    assert.deepEqual(theirs.attributes, {
      id: idlePod,
      metadata: { name: "idle", uid: "uid-idle", namespace: "default" },
      labels: { app: "idle" },
      annotations: { note: "stats" },
    });
    assert.deepEqual(Object.keys(linux), ["cpu", "memory", "network", "process", "containers"]);
    // The pod's parent cgroup has no limit: available is 0, set.
    assert.deepEqual((linux.memory as Json).availableBytes, {});
    // Only the default interface, without a timestamp or an interface list.
    const net = linux.network as Json;
    assert.deepEqual(Object.keys(net), ["defaultInterface"]);
    assert.equal((net.defaultInterface as Json).name, "eth0");
    // The sleeper's two sleeps; the pause process is not counted.
    assert.deepEqual((linux.process as Json).processCount, { value: "2" });
    assert.deepEqual(
      (linux.containers as Json[]).map((c) => (c.attributes as Json).id).sort(),
      [sleeper, created].sort(),
    );

    // berth: the pod's cgroup parent, eth0 read through the pause process, containers with process counts.
    const verbose = await rt.podSandboxStatus({ podSandboxId: idlePod, verbose: true });
    const info = JSON.parse(verbose.info.info ?? "{}") as {
      pid: number;
      runtimeSpec: { linux: { namespaces: { type: string; path?: string }[] } };
    };
    const netns = info.runtimeSpec.linux.namespaces.find((n) => n.type === "network")?.path ?? "";
    const before = await readNetworkStats(netns, info.pid);
    const podCgroup = await readCgroupStats(parent);
    assert.ok(before && podCgroup);
    const mine = podJson(
      create(
        PodSandboxStatsSchema,
        podSandboxStatsOf(
          {
            attributes: {
              id: idlePod,
              metadata: idleConfig.metadata,
              labels: idleConfig.labels,
              annotations: idleConfig.annotations,
            },
            cgroup: podCgroup,
            network: before,
            containers: await Promise.all(
              (linux.containers as Json[]).map((c) => berthContainer(parent, c, true)),
            ),
          },
          fsRoot,
          nano,
        ),
      ),
    );
    (mine.linux as Json).containers = ((mine.linux as Json).containers as Json[]).sort(byId);
    linux.containers = (linux.containers as Json[]).sort(byId);
    assert.deepEqual(shape(mine), shape(theirs));
    const myLinux = mine.linux as Json;
    assert.deepEqual(myLinux.process && (myLinux.process as Json).processCount, { value: "2" });
    assert.equal(
      value((myLinux.cpu as Json).usageCoreNanoSeconds),
      value((linux.cpu as Json).usageCoreNanoSeconds),
      "pod cpu",
    );
    assert.equal(
      value((myLinux.memory as Json).usageBytes),
      value((linux.memory as Json).usageBytes),
      "pod memory",
    );
    // eth0 may see a stray broadcast between the two reads, never less than containerd saw.
    const theirEth0 = net.defaultInterface as Json;
    const myEth0 = (myLinux.network as Json).defaultInterface as Json;
    const rx = value(myEth0.rxBytes) - value(theirEth0.rxBytes);
    assert.ok(rx >= 0n && rx < 2048n, `rx differs by ${rx}`);
    assert.ok(value(myEth0.rxBytes) > 0n, "the pod's eth0 received its ARP and CNI traffic");
  });

  test("errors: ContainerStats without a task, PodSandboxStats of a stopped pod, an unfiltered list with one", async () => {
    await assert.rejects(rt.containerStats({ containerId: created }), (e: Error) => {
      assert.equal(kindOf(e), "Unknown");
      assert.match(e.message, /unexpected metrics response: \[\]/);
      return true;
    });
    await rt.stopPodSandbox({ podSandboxId: idlePod });
    await assert.rejects(rt.podSandboxStats({ podSandboxId: idlePod }), (e: Error) => {
      assert.equal(kindOf(e), "Unknown");
      assert.match(e.message, /is not in ready state/);
      return true;
    });
    // Unfiltered, containerd 1.6 tries every pod and fails on the stopped one; any filter
    // (even an empty one) skips pods that are not ready.
    await assert.rejects(rt.listPodSandboxStats({}), /is not in ready state/);
    const filtered = await rt.listPodSandboxStats({ filter: {} });
    assert.deepEqual(
      filtered.stats.map((s) => s.attributes?.id),
      [busyPod],
    );
    // Stopped containers stay listed, without cpu or memory.
    const listed = (await rt.listContainerStats({ filter: { podSandboxId: idlePod } })).stats.map(ctrJson);
    assert.deepEqual(
      listed.map((s) => Object.keys(s).sort()),
      [
        ["attributes", "writableLayer"],
        ["attributes", "writableLayer"],
      ],
    );
  });
});
