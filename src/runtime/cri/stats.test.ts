// The builders against the answers containerd 1.6.20 gave for the same kind of pod
// (recorded by test/stats-containerd.test.ts), compared as the proto3 JSON crictl prints.
import assert from "node:assert/strict";
import { test } from "node:test";
import { create, toJson } from "@bufbuild/protobuf";
import { ContainerStatsSchema, PodSandboxStatsSchema } from "../../cri/gen/runtime/v1/api_pb.js";
import type { CgroupStats } from "./cgroup-stats.js";
import { containerStatsOf, podSandboxStatsOf, UsageNanoCores } from "./stats.js";

const fsRoot = "/var/lib/berth/io.containerd.snapshotter.v1.overlayfs";
const t0 = 1795728093528606285n;

function cgroup(at: bigint, cpu: bigint, processCount?: bigint): CgroupStats {
  return {
    timestamp: at,
    cpuUsageCoreNanoSeconds: cpu,
    memory: {
      usageBytes: 675840n,
      workingSetBytes: 675840n,
      availableBytes: 66433024n,
      rssBytes: 106496n,
      pageFaults: 943n,
      majorPageFaults: 0n,
    },
    processCount,
  };
}

const containerJson = (s: Parameters<typeof containerStatsOf>[0], nano = new UsageNanoCores()) =>
  toJson(ContainerStatsSchema, create(ContainerStatsSchema, containerStatsOf(s, fsRoot, nano)));

test("a running container: cpu, all memory fields, and the writable layer on the snapshotter root", () => {
  const json = containerJson({
    attributes: { id: "c1", metadata: { name: "c" }, labels: { x: "y" } },
    cgroup: cgroup(t0, 10510263n),
    writableLayer: { timestamp: t0 - 5n, usedBytes: 8192n, inodesUsed: 5n },
  });
  // Zero-valued wrappers are set (an empty object), as containerd sends them.
  assert.deepEqual(json, {
    attributes: { id: "c1", metadata: { name: "c" }, labels: { x: "y" } },
    cpu: { timestamp: String(t0), usageCoreNanoSeconds: { value: "10510263" }, usageNanoCores: {} },
    memory: {
      timestamp: String(t0),
      workingSetBytes: { value: "675840" },
      availableBytes: { value: "66433024" },
      usageBytes: { value: "675840" },
      rssBytes: { value: "106496" },
      pageFaults: { value: "943" },
      majorPageFaults: {},
    },
    writableLayer: {
      timestamp: String(t0 - 5n),
      fsId: { mountpoint: fsRoot },
      usedBytes: { value: "8192" },
      inodesUsed: { value: "5" },
    },
  });
});

test("a container without a task, layer not yet measured: attributes and a zero writable layer only", () => {
  assert.deepEqual(containerJson({ attributes: { id: "c2", metadata: { name: "c2" } } }), {
    attributes: { id: "c2", metadata: { name: "c2" } },
    writableLayer: { fsId: { mountpoint: fsRoot }, usedBytes: {}, inodesUsed: {} },
  });
});

test("UsageNanoCores: rate between the last two samples, containerd's edge cases", () => {
  const nano = new UsageNanoCores();
  const s = (id: string, at: bigint, cpu: bigint) =>
    nano.compute(id, { timestamp: at, cpuUsageCoreNanoSeconds: cpu });
  const sec = 1_000_000_000n;
  const steps: [string, bigint, bigint, bigint, string][] = [
    ["a", t0, 1000n, 0n, "first sample"],
    ["a", t0 + sec, 1000n + sec / 5n, 200_000_000n, "a fifth of a core for a second"],
    ["b", t0 + sec, 5n, 0n, "ids are apart"],
    ["a", t0 + sec, 1000n + sec, 0n, "no time passed: 0, baseline kept"],
    ["a", t0 + 2n * sec, 1000n + sec / 5n + sec / 2n, 500_000_000n, "measured from the kept baseline"],
    ["a", t0 + 3n * sec, 7n, 0n, "counter went back: start over"],
    ["a", t0 + 3n * sec + 3n, 8n, 333_333_333n, "truncated like a uint64 conversion"],
  ];
  for (const [id, at, cpu, want, why] of steps) assert.equal(s(id, at, cpu), want, why);
  nano.forget("a");
  assert.equal(s("a", t0 + 9n * sec, 9n * sec), 0n, "forgotten: first sample again");
});

test("a pod: its cgroup, eth0 alone, running containers' processes, and its containers", () => {
  const nano = new UsageNanoCores();
  const build = (
    at: bigint,
    network?: { name: string; rxBytes: bigint; rxErrors: bigint; txBytes: bigint; txErrors: bigint }[],
  ) =>
    toJson(
      PodSandboxStatsSchema,
      create(
        PodSandboxStatsSchema,
        podSandboxStatsOf(
          {
            attributes: {
              id: "p1",
              metadata: { name: "p", uid: "u1", namespace: "default" },
              labels: { a: "b" },
            },
            cgroup: cgroup(at, 18052856n + (at - t0) / 5n),
            network,
            containers: [
              { attributes: { id: "c1", metadata: { name: "c" } }, cgroup: cgroup(at, 10510263n, 2n) },
              {
                attributes: { id: "c3", metadata: { name: "spin" } },
                cgroup: cgroup(at, (at - t0) / 5n, 1n),
              },
              { attributes: { id: "c2", metadata: { name: "c2" } } },
            ],
          },
          fsRoot,
          nano,
        ),
      ),
    ) as { attributes: unknown; linux: Record<string, unknown> & { containers: Record<string, unknown>[] } };

  const eth0 = { name: "eth0", rxBytes: 1310n, rxErrors: 0n, txBytes: 472n, txErrors: 0n };
  const first = build(t0, [{ name: "lo", rxBytes: 9n, rxErrors: 9n, txBytes: 9n, txErrors: 9n }, eth0]);
  assert.deepEqual(first.attributes, {
    id: "p1",
    metadata: { name: "p", uid: "u1", namespace: "default" },
    labels: { a: "b" },
  });
  assert.deepEqual(Object.keys(first.linux), ["cpu", "memory", "network", "process", "containers"]);
  assert.deepEqual(first.linux.cpu, {
    timestamp: String(t0),
    usageCoreNanoSeconds: { value: "18052856" },
    usageNanoCores: {},
  });
  // No timestamp and no interface list: containerd 1.6 fills the default interface only.
  assert.deepEqual(first.linux.network, {
    defaultInterface: {
      name: "eth0",
      rxBytes: { value: "1310" },
      rxErrors: {},
      txBytes: { value: "472" },
      txErrors: {},
    },
  });
  // The infra process is not counted; containers without a task add nothing.
  assert.deepEqual(first.linux.process, { timestamp: String(t0), processCount: { value: "3" } });
  assert.deepEqual(
    first.linux.containers.map((c) => Object.keys(c)),
    [
      ["attributes", "cpu", "memory", "writableLayer"],
      ["attributes", "cpu", "memory", "writableLayer"],
      ["attributes", "writableLayer"],
    ],
  );

  const sec = 1_000_000_000n;
  const second = build(t0 + sec, []);
  assert.deepEqual((second.linux.cpu as { usageNanoCores: unknown }).usageNanoCores, { value: "200000000" });
  assert.deepEqual(
    second.linux.containers.map((c) => (c.cpu as { usageNanoCores: unknown } | undefined)?.usageNanoCores),
    [{}, { value: "200000000" }, undefined],
    "the containers' baselines moved with the pod's call",
  );
  assert.deepEqual(second.linux.network, {
    defaultInterface: { name: "eth0", rxBytes: {}, rxErrors: {}, txBytes: {}, txErrors: {} },
  });

  const hostNetwork = build(t0 + 2n * sec);
  assert.equal(hostNetwork.linux.network, undefined, "a pod on the host network has no network stats");
});
