import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.js";
import { kindOf } from "../../lib/errdefs.js";
import { newLogger } from "../../lib/log.js";
import { featureGates } from "../features/features.js";
import {
  CgroupfsManager,
  type CgroupName,
  cgroupNameToCgroupfs,
  newCgroupName,
  RootCgroupName,
} from "./cgroup-manager.js";
import {
  getPodCgroupNameSuffix,
  isPodCgroupName,
  newPodContainerManager,
  podCgroupName,
} from "./pod-container-manager.js";
import { qosContainersInfo } from "./qos-container-manager.js";

const log = newLogger("error");

describe("isPodCgroupName", () => {
  // pod_container_manager_linux_test.go TestIsCgroupPod, cgroupfs driver.
  const info = qosContainersInfo(RootCgroupName);
  const uid = "123";
  const cases: [CgroupName, boolean, string][] = [
    [RootCgroupName, false, ""],
    [newCgroupName(info.guaranteed), false, ""],
    [newCgroupName(info.guaranteed, getPodCgroupNameSuffix(uid)), true, uid],
    [newCgroupName(info.guaranteed, getPodCgroupNameSuffix(uid), "container.scope"), false, ""],
    [newCgroupName(info.burstable), false, ""],
    [newCgroupName(info.burstable, getPodCgroupNameSuffix(uid)), true, uid],
    [newCgroupName(info.burstable, getPodCgroupNameSuffix(uid), "container.scope"), false, ""],
    [newCgroupName(info.bestEffort), false, ""],
    [newCgroupName(info.bestEffort, getPodCgroupNameSuffix(uid)), true, uid],
    [newCgroupName(info.bestEffort, getPodCgroupNameSuffix(uid), "container.scope"), false, ""],
    [newCgroupName(RootCgroupName, "system"), false, ""],
    [newCgroupName(RootCgroupName, "system", "kubelet"), false, ""],
  ];
  for (const [name, isPod, expectedUID] of cases) {
    it(`${cgroupNameToCgroupfs(name)} → ${isPod}`, () => {
      assert.deepEqual(isPodCgroupName(name, info), { isPod, uid: expectedUID });
    });
  }
});

describe("podCgroupName", () => {
  const info = qosContainersInfo(["kubepods"]);
  const pod = (uid: string, resources: Record<string, string>): Pod => ({
    metadata: { uid, name: "p" },
    spec: { containers: [{ name: "c", resources: { requests: resources, limits: resources } }] },
  });

  it("puts each QoS class in its tier", () => {
    const cases: [Pod, string][] = [
      [pod("g-1", { cpu: "1", memory: "1Gi" }), "/kubepods/podg-1"],
      [pod("b-1", { cpu: "1" }), "/kubepods/burstable/podb-1"],
      [pod("e-1", {}), "/kubepods/besteffort/pode-1"],
    ];
    for (const [p, path] of cases) assert.equal(cgroupNameToCgroupfs(podCgroupName(p, info)), path);
  });

  it("needs a UID", () => {
    assert.throws(
      () => podCgroupName({ metadata: { name: "x" }, spec: { containers: [] } }, info),
      (err) => kindOf(err) === "InvalidArgument",
    );
  });
});

describe("newPodContainerManager", () => {
  const subsystems = { mode: "hybrid" as const, mountPoints: new Map<string, string>() };
  const base = {
    cgroupRoot: ["kubepods"],
    qosContainersInfo: qosContainersInfo(["kubepods"]),
    cgroupManager: new CgroupfsManager(subsystems, [], log),
    subsystems,
    podPidsLimit: -1n,
    enforceCPULimits: true,
    cpuCFSQuotaPeriod: 100_000n,
    featureGates: featureGates(),
    log,
  };
  const besteffort: Pod = { metadata: { uid: "u1" }, spec: { containers: [{ name: "c" }] } };

  it("names the pod cgroup the sandbox's cgroup parent", () => {
    const pcm = newPodContainerManager({ ...base, cgroupsPerQOS: true });
    assert.deepEqual(pcm.getPodContainerName(besteffort), {
      name: ["kubepods", "besteffort", "podu1"],
      cgroupfs: "/kubepods/besteffort/podu1",
    });
    assert.deepEqual(pcm.isPodCgroup("/kubepods/besteffort/podu1"), { isPod: true, uid: "u1" });
  });

  it("without QoS cgroups gives the cgroup root and no cgroup parent, and finds no pod cgroups", async () => {
    const pcm = newPodContainerManager({ ...base, cgroupsPerQOS: false });
    assert.deepEqual(pcm.getPodContainerName(besteffort), { name: ["kubepods"], cgroupfs: "" });
    assert.equal(await pcm.exists(besteffort), true);
    assert.deepEqual(await pcm.getAllPodsFromCgroups(), new Map());
    assert.deepEqual(pcm.isPodCgroup("/kubepods/besteffort/podu1"), { isPod: false, uid: "" });
  });
});
