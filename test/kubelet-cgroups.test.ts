// The kubelet's container manager on this host's real cgroups: setupNode makes the node allocatable
// cgroup and the QoS tiers under a private --cgroup-root, pod cgroups are made for a Guaranteed, a
// Burstable and a BestEffort pod, the burstable tier's shares follow the pods as they come and go, and
// a pod cgroup with a process in it is destroyed. Every value is read back from the cgroup files, and
// nothing is left behind.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.js";
import { parseResourceList } from "../src/kubelet/api/resources.js";
import {
  type CgroupfsManager,
  type CgroupName,
  cgroupNameToCgroupfs,
  newCgroupManager,
  parseCgroupfsToCgroupName,
} from "../src/kubelet/cm/cgroup-manager.js";
import { milliCPUToShares } from "../src/kubelet/cm/helpers-linux.js";
import {
  DefaultEvictionHard,
  type NodeConfig,
  parseEvictionHard,
  setupNode,
} from "../src/kubelet/cm/node-allocatable.js";
import { detectNodeCapacity, detectNodeFacts, type NodeCapacity } from "../src/kubelet/cm/node-facts.js";
import { newPodContainerManager, type PodContainerManager } from "../src/kubelet/cm/pod-container-manager.js";
import type { QOSContainerManager } from "../src/kubelet/cm/qos-container-manager.js";
import { featureGates } from "../src/kubelet/features/features.js";
import type { NodeFacts } from "../src/kubelet/kuberuntime/settings.js";
import { kindOf } from "../src/lib/errdefs.js";
import { newLogger } from "../src/lib/log.js";
import { existingCgroups } from "../src/testenv/cgroups.js";

const cgroupRootPath = `/berth-cm-test-${process.pid}`;
const cgroupRoot = parseCgroupfsToCgroupName(cgroupRootPath);
const log = newLogger("error");
const gates = featureGates();
const stopRetries = new AbortController();
const activePods: Pod[] = [];

let facts: NodeFacts;
let machine: NodeCapacity;
let cm: CgroupfsManager;
let qos: QOSContainerManager;
let pcm: PodContainerManager;
let sleeper: ChildProcess | undefined;

const nodeConfig: NodeConfig = {
  cgroupRoot: cgroupRootPath,
  cgroupsPerQOS: true,
  nodeAllocatable: {
    kubeReservedCgroupName: "",
    systemReservedCgroupName: "",
    enforceNodeAllocatable: ["pods"],
    kubeReserved: parseResourceList({ cpu: "100m", memory: "256Mi", pid: "1000" }),
    systemReserved: parseResourceList({ memory: "256Mi" }),
    hardEvictionThresholds: parseEvictionHard(DefaultEvictionHard),
  },
};

/** A cgroup file of `name` in the hierarchy of `subsystem` ("" for the v2 tree). */
async function read(subsystem: string, name: CgroupName, file: string): Promise<string> {
  const mount = subsystem === "" ? cm.subsystems.unifiedMountpoint : cm.subsystems.mountPoints.get(subsystem);
  assert.ok(mount, `no ${subsystem} hierarchy`);
  return (await readFile(join(mount, cgroupNameToCgroupfs(name), file), "utf8")).trim();
}

/** What a v1 memory limit reads back as: the kernel rounds it down to whole pages. */
const pageRounded = (bytes: bigint) => (bytes / BigInt(facts.pageSizeBytes)) * BigInt(facts.pageSizeBytes);
/** memory.limit_in_bytes of a cgroup nobody limited. */
let unlimitedMemory: string;

function pod(uid: string, requests: Record<string, string>, limits: Record<string, string>): Pod {
  return {
    metadata: { uid, name: uid, namespace: "default" },
    spec: { containers: [{ name: "c", image: "busybox", resources: { requests, limits } }] },
  };
}
const guaranteed = pod(
  "g0000000-0000-0000-0000-000000000001",
  { cpu: "500m", memory: "128Mi" },
  { cpu: "500m", memory: "128Mi" },
);
// Only a CPU limit: the pod cgroup gets a CFS quota but no memory limit.
const burstable = pod("b0000000-0000-0000-0000-000000000002", { cpu: "250m", memory: "64Mi" }, { cpu: "1" });
const burstable2 = pod("b0000000-0000-0000-0000-000000000003", { cpu: "1500m" }, {});
const bestEffort = pod("e0000000-0000-0000-0000-000000000004", {}, {});

/** What the kubelet's syncPod does before it creates a sandbox: update the tiers, then make the pod cgroup. */
async function admit(p: Pod): Promise<string> {
  activePods.push(p);
  if (!(await pcm.exists(p))) {
    await qos.updateCgroups();
    await pcm.ensureExists(p);
  }
  return pcm.getPodContainerName(p).cgroupfs;
}

/** What the kubelet does once a pod is gone: its cgroup is removed and the tiers follow the pods left. */
async function remove(p: Pod): Promise<void> {
  activePods.splice(activePods.indexOf(p), 1);
  await pcm.destroy(pcm.getPodContainerName(p).name);
  await qos.updateCgroups();
}

before(async () => {
  facts = await detectNodeFacts();
  machine = await detectNodeCapacity();
  cm = await newCgroupManager(facts.hugePageSizes, log);
  // --cgroup-root must exist before the kubelet starts; the admin (here the test) makes it.
  await cm.create({ name: cgroupRoot, resourceParameters: {} });
  unlimitedMemory = await read("memory", cgroupRoot, "memory.limit_in_bytes");
});

after(async () => {
  stopRetries.abort();
  qos?.stop();
  if (sleeper?.exitCode === null && sleeper.signalCode === null && sleeper.pid)
    process.kill(sleeper.pid, "SIGKILL");
  await cm.destroy(cgroupRoot);
  assert.deepEqual(await existingCgroups(cgroupRootPath), []);
});

describe("container manager on real cgroups", () => {
  it("refuses a cgroup root that does not exist", async () => {
    await assert.rejects(
      setupNode({
        cgroupManager: cm,
        nodeConfig: { ...nodeConfig, cgroupRoot: `${cgroupRootPath}-missing` },
        machine,
        hugePageSizes: facts.hugePageSizes,
        unified: cm.subsystems.mode === "unified",
        featureGates: gates,
        activePods: () => activePods,
        log,
      }),
      (err) =>
        kindOf(err) === "InvalidArgument" &&
        /invalid configuration: cgroup .* has some missing/.test(String(err)),
    );
  });

  it("sets up kubepods from node allocatable and the QoS tiers below it", async () => {
    const setup = await setupNode({
      cgroupManager: cm,
      nodeConfig,
      machine,
      hugePageSizes: facts.hugePageSizes,
      unified: cm.subsystems.mode === "unified",
      featureGates: gates,
      activePods: () => activePods,
      log,
      signal: stopRetries.signal,
    });
    qos = setup.qosContainerManager;
    assert.equal(cgroupNameToCgroupfs(setup.cgroupRoot), `${cgroupRootPath}/kubepods`);
    pcm = newPodContainerManager({
      cgroupsPerQOS: true,
      cgroupRoot: setup.cgroupRoot,
      qosContainersInfo: qos.getQOSContainersInfo(),
      cgroupManager: cm,
      subsystems: cm.subsystems,
      podPidsLimit: 1024n,
      enforceCPULimits: true,
      cpuCFSQuotaPeriod: 100_000n,
      featureGates: gates,
      log,
    });

    const kubepods = setup.cgroupRoot;
    // Capacity minus kube- and system-reserved; the 100Mi eviction threshold is not taken off here.
    assert.equal(
      await read("cpu", kubepods, "cpu.shares"),
      `${milliCPUToShares(BigInt(machine.cpuCores) * 1000n - 100n)}`,
    );
    assert.equal(
      await read("memory", kubepods, "memory.limit_in_bytes"),
      `${pageRounded(machine.memoryBytes - 512n * 1024n * 1024n)}`,
    );
    assert.equal(await read("pids", kubepods, "pids.max"), `${(machine.maxPids ?? 0n) - 1000n}`);
    // A new cpuset cgroup starts empty; runc's rule copies the parent's CPUs and memory nodes.
    assert.equal(
      await read("cpuset", kubepods, "cpuset.cpus"),
      await read("cpuset", cgroupRoot, "cpuset.cpus"),
    );
    assert.equal(
      await read("cpuset", kubepods, "cpuset.mems"),
      await read("cpuset", cgroupRoot, "cpuset.mems"),
    );

    await qos.updateCgroups();
    const { burstable: burstableTier, bestEffort: bestEffortTier } = qos.getQOSContainersInfo();
    assert.equal(cgroupNameToCgroupfs(burstableTier), `${cgroupRootPath}/kubepods/burstable`);
    assert.equal(await read("cpu", bestEffortTier, "cpu.shares"), "2");
    assert.equal(await read("cpu", burstableTier, "cpu.shares"), "2"); // no burstable pods yet
    // QOSReserved is off: the tiers get no memory limit.
    assert.equal(await read("memory", burstableTier, "memory.limit_in_bytes"), unlimitedMemory);
    assert.equal(await read("memory", bestEffortTier, "memory.limit_in_bytes"), unlimitedMemory);

    // The tiers exist wherever runc would make them: each v1 hierarchy but devices, and the v2 tree of a hybrid host.
    for (const [subsystem, mount] of cm.subsystems.mountPoints) {
      const present = await stat(join(mount, cgroupNameToCgroupfs(burstableTier))).then(
        () => true,
        () => false,
      );
      assert.equal(present, subsystem !== "devices" || cm.subsystems.mode === "unified", subsystem);
    }
    if (cm.subsystems.unifiedMountpoint) {
      await stat(join(cm.subsystems.unifiedMountpoint, cgroupNameToCgroupfs(burstableTier)));
    }
    assert.equal(await cm.exists(burstableTier), true);
    await assert.rejects(cm.validate([...burstableTier, "nothing"]), (err) => kindOf(err) === "NotFound");
  });

  it("makes pod cgroups with each QoS class's values and the cgroup parent CRI gets", async () => {
    assert.equal(await admit(guaranteed), `${cgroupRootPath}/kubepods/pod${guaranteed.metadata?.uid}`);
    assert.equal(
      await admit(burstable),
      `${cgroupRootPath}/kubepods/burstable/pod${burstable.metadata?.uid}`,
    );
    assert.equal(
      await admit(bestEffort),
      `${cgroupRootPath}/kubepods/besteffort/pod${bestEffort.metadata?.uid}`,
    );

    const g = pcm.getPodContainerName(guaranteed).name;
    assert.deepEqual(
      {
        shares: await read("cpu", g, "cpu.shares"),
        quota: await read("cpu", g, "cpu.cfs_quota_us"),
        period: await read("cpu", g, "cpu.cfs_period_us"),
        memory: await read("memory", g, "memory.limit_in_bytes"),
        pids: await read("pids", g, "pids.max"),
      },
      { shares: "512", quota: "50000", period: "100000", memory: "134217728", pids: "1024" },
    );
    assert.deepEqual(await cm.getCgroupConfig(g, "cpu"), {
      cpuShares: 512n,
      cpuQuota: 50_000n,
      cpuPeriod: 100_000n,
    });
    assert.deepEqual(await cm.getCgroupConfig(g, "memory"), { memory: 134_217_728n });

    const b = pcm.getPodContainerName(burstable).name;
    assert.deepEqual(
      {
        shares: await read("cpu", b, "cpu.shares"),
        quota: await read("cpu", b, "cpu.cfs_quota_us"),
        memory: await read("memory", b, "memory.limit_in_bytes"),
        pids: await read("pids", b, "pids.max"),
      },
      { shares: "256", quota: "100000", memory: unlimitedMemory, pids: "1024" },
    );

    const e = pcm.getPodContainerName(bestEffort).name;
    assert.deepEqual(await cm.getCgroupConfig(e, "cpu"), {
      cpuShares: 2n,
      cpuQuota: -1n,
      cpuPeriod: 100_000n,
    });
    assert.equal(await read("pids", e, "pids.max"), "1024");

    // The burstable tier weighs as much as its one pod's request.
    const tier = qos.getQOSContainersInfo().burstable;
    assert.equal(await read("cpu", tier, "cpu.shares"), "256");

    const found = await pcm.getAllPodsFromCgroups();
    assert.deepEqual(
      new Map([...found].map(([uid, name]) => [uid, cgroupNameToCgroupfs(name)])),
      new Map(
        [guaranteed, burstable, bestEffort].map((p) => [
          p.metadata?.uid,
          pcm.getPodContainerName(p).cgroupfs,
        ]),
      ),
    );
    assert.deepEqual(pcm.isPodCgroup(pcm.getPodContainerName(burstable).cgroupfs), {
      isPod: true,
      uid: burstable.metadata?.uid,
    });
  });

  it("moves the burstable tier's shares as burstable pods come and go", async () => {
    const tier = qos.getQOSContainersInfo().burstable;
    await admit(burstable2);
    assert.equal(await read("cpu", tier, "cpu.shares"), "1792"); // 250m + 1500m
    await remove(burstable2);
    assert.equal(await read("cpu", tier, "cpu.shares"), "256");
    assert.equal(await pcm.exists(burstable2), false);
    await remove(burstable);
    assert.equal(await read("cpu", tier, "cpu.shares"), "2");
  });

  it("reduces an orphan's CPU to the minimum", async () => {
    const g = pcm.getPodContainerName(guaranteed).name;
    await pcm.reduceCPULimits(g);
    assert.equal(await read("cpu", g, "cpu.shares"), "2");
    assert.equal(await read("cpu", g, "cpu.cfs_quota_us"), "50000");
    await remove(guaranteed);
  });

  it("lists the processes in a pod cgroup, keeps a busy cgroup, and kills them on destroy", async () => {
    const e = pcm.getPodContainerName(bestEffort).name;
    sleeper = spawn("sleep", ["1000"], { stdio: "ignore" });
    await once(sleeper, "spawn");
    const pid = sleeper.pid ?? 0;
    // Join the pod cgroup in every hierarchy, as runc does for a container process.
    const dirs = [...new Set(cm.subsystems.mountPoints.values()), cm.subsystems.unifiedMountpoint ?? ""]
      .filter(Boolean)
      .map((mount) => join(mount, cgroupNameToCgroupfs(e)));
    for (const dir of dirs) {
      if (
        await stat(dir).then(
          () => true,
          () => false,
        )
      )
        await writeFile(join(dir, "cgroup.procs"), `${pid}`);
    }
    assert.deepEqual(await cm.pids(e), [pid]);

    // The cgroup manager kills nothing: with a process inside, the cgroup stays.
    await assert.rejects(cm.destroy(e), (err) => kindOf(err) === "FailedPrecondition");
    assert.equal(await cm.exists(e), true);

    const exited = once(sleeper, "exit");
    await pcm.destroy(e);
    assert.deepEqual(await exited, [null, "SIGKILL"]);
    assert.deepEqual(await existingCgroups(cgroupNameToCgroupfs(e)), []);
    assert.deepEqual(await pcm.getAllPodsFromCgroups(), new Map());
  });

  it("removes the tiers and kubepods with the cgroup manager", async () => {
    const kubepods = qos.getQOSContainersInfo().guaranteed;
    qos.stop();
    await cm.destroy(kubepods);
    assert.deepEqual(await existingCgroups(cgroupNameToCgroupfs(kubepods)), []);
    assert.equal(await cm.exists(kubepods), false);
  });
});
