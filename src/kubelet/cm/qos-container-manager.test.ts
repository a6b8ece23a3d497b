import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.js";
import { featureGates } from "../features/features.js";
import { PodQOSBestEffort, PodQOSBurstable, type PodQOSClass, PodQOSGuaranteed } from "../qos/qos.js";
import { type CgroupConfig, newCgroupName, RootCgroupName } from "./cgroup-manager.js";
import {
  getQoSMemoryRequests,
  HugePagesUnbounded,
  qosContainersInfo,
  setCPUCgroupConfig,
  setHugePagesUnbounded,
  setMemoryQoS,
} from "./qos-container-manager.js";

const gates = featureGates();

function pod(uid: string, requests: Record<string, string>, limits: Record<string, string>): Pod {
  return {
    metadata: { uid, name: uid, namespace: "test" },
    spec: { containers: [{ name: "foo", image: "busybox", resources: { requests, limits } }] },
  };
}

// qos_container_manager_linux_test.go activeTestPods: one Guaranteed pod and two Burstable ones.
const activeTestPods: Pod[] = [
  pod("12345678", { memory: "128Mi", cpu: "1" }, { memory: "128Mi", cpu: "1" }),
  pod("87654321", { memory: "128Mi", cpu: "1" }, { memory: "256Mi", cpu: "2" }),
  pod("01234567", { memory: "256Mi", cpu: "2" }, {}),
];

/** testQosConfigs: what UpdateCgroups starts from. */
function testQosConfigs(): Record<PodQOSClass, CgroupConfig> {
  const info = qosContainersInfo(newCgroupName(RootCgroupName, "kubelet-test"));
  return {
    [PodQOSGuaranteed]: { name: info.guaranteed, resourceParameters: {} },
    [PodQOSBurstable]: { name: info.burstable, resourceParameters: {} },
    [PodQOSBestEffort]: { name: info.bestEffort, resourceParameters: {} },
  };
}

describe("qosContainersInfo", () => {
  it("puts Guaranteed pods in the node allocatable cgroup and the others in lower-case tiers below it", () => {
    assert.deepEqual(qosContainersInfo(["berth-root", "kubepods"]), {
      guaranteed: ["berth-root", "kubepods"],
      burstable: ["berth-root", "kubepods", "burstable"],
      bestEffort: ["berth-root", "kubepods", "besteffort"],
    });
  });
});

describe("setCPUCgroupConfig", () => {
  // Test_qosContainerManagerImpl_setCPUCgroupConfig, with the exact shares.
  it("gives best effort 2 shares and burstable the shares of its pods' summed CPU requests", () => {
    const configs = testQosConfigs();
    setCPUCgroupConfig(configs, activeTestPods, gates);
    assert.equal(configs[PodQOSBestEffort].resourceParameters.cpuShares, 2n);
    assert.equal(configs[PodQOSBurstable].resourceParameters.cpuShares, 3072n); // 1 + 2 CPUs
    assert.equal(configs[PodQOSGuaranteed].resourceParameters.cpuShares, undefined);
  });

  it("gives burstable the minimum when no burstable pod is left", () => {
    const configs = testQosConfigs();
    setCPUCgroupConfig(configs, activeTestPods.slice(0, 1), gates);
    assert.equal(configs[PodQOSBurstable].resourceParameters.cpuShares, 2n);
  });

  it("counts a burstable pod's init containers when they request more than its containers", () => {
    const configs = testQosConfigs();
    const withInit: Pod = {
      metadata: { uid: "init" },
      spec: {
        initContainers: [{ name: "i", resources: { requests: { cpu: "1500m" } } }],
        containers: [{ name: "c", resources: { requests: { cpu: "250m" } } }],
      },
    };
    setCPUCgroupConfig(configs, [withInit], gates);
    assert.equal(configs[PodQOSBurstable].resourceParameters.cpuShares, 1536n);
  });
});

describe("setHugePagesUnbounded", () => {
  // Test_qosContainerManagerImpl_setHugePagesConfig: every tier gets a limit for every page size.
  it("sets every page size of the node to 2^62 bytes", () => {
    for (const config of Object.values(testQosConfigs())) {
      setHugePagesUnbounded(config, ["2Mi", "1Gi"]);
      assert.deepEqual(
        config.resourceParameters.hugePageLimit,
        new Map([
          [2_097_152n, HugePagesUnbounded],
          [1_073_741_824n, HugePagesUnbounded],
        ]),
      );
    }
  });
});

describe("setMemoryQoS", () => {
  // TestQoSContainerCgroup: memory.min of burstable is 384Mi, of the node allocatable cgroup 384Mi + 128Mi.
  it("protects the burstable requests in the tier and all non-best-effort requests at the top", () => {
    const configs = testQosConfigs();
    setMemoryQoS(configs, activeTestPods, gates);
    assert.deepEqual(configs[PodQOSBurstable].resourceParameters.unified, {
      "memory.min": `${384 * 1024 * 1024}`,
    });
    assert.deepEqual(configs[PodQOSGuaranteed].resourceParameters.unified, {
      "memory.min": `${512 * 1024 * 1024}`,
    });
    assert.equal(configs[PodQOSBestEffort].resourceParameters.unified, undefined);
  });

  it("sets nothing when no pod requests memory", () => {
    const configs = testQosConfigs();
    setMemoryQoS(configs, [pod("be", {}, {})], gates);
    for (const config of Object.values(configs)) assert.equal(config.resourceParameters.unified, undefined);
    assert.deepEqual(getQoSMemoryRequests([pod("be", {}, {})], gates), { Guaranteed: 0n, Burstable: 0n });
  });
});
