import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.js";
import { getContainerOOMScoreAdjust, isCriticalPod, isNodeCriticalPod } from "./policy.js";

const standardMemoryAmount = 8_000_000_000n;
const gates = { InPlacePodVerticalScaling: false };

function pod(resources: { requests?: Record<string, string>; limits?: Record<string, string> }): Pod {
  return { spec: { containers: [{ name: "c", resources }] } };
}

const systemCritical = 2_000_000_000;

describe("getContainerOOMScoreAdjust", () => {
  // pkg/kubelet/qos TestGetContainerOOMScoreAdjust (1.28): [pod, memory capacity, lowest, highest].
  const cases: [string, Pod, bigint, number, number][] = [
    ["cpuLimit", pod({ limits: { cpu: "10" } }), 4_000_000_000n, 999, 999],
    [
      "memoryLimitCPURequest",
      pod({ requests: { cpu: "0" }, limits: { memory: "10G" } }),
      8_000_000_000n,
      999,
      999,
    ],
    ["zeroMemoryLimit", pod({ limits: { memory: "0" } }), 7_230_457_451n, 1000, 1000],
    ["noRequestLimit", pod({}), 4_000_000_000n, 1000, 1000],
    [
      "equalRequestLimitCPUMemory",
      pod({ requests: { memory: "10G", cpu: "5m" }, limits: { cpu: "5m", memory: "10G" } }),
      123_456_789n,
      -997,
      -997,
    ],
    [
      "cpuUnlimitedMemoryLimitedWithRequests",
      pod({ requests: { memory: String(standardMemoryAmount / 2n), cpu: "5m" }, limits: { memory: "10G" } }),
      standardMemoryAmount,
      495,
      505,
    ],
    [
      "requestNoLimit",
      pod({ requests: { memory: String(standardMemoryAmount - 1n), cpu: "5m" } }),
      standardMemoryAmount,
      3,
      3,
    ],
    [
      "clusterCritical",
      {
        spec: {
          priorityClassName: "system-cluster-critical",
          priority: systemCritical,
          containers: [{ name: "c" }],
        },
      },
      4_000_000_000n,
      1000,
      1000,
    ],
    [
      "nodeCritical",
      {
        spec: {
          priorityClassName: "system-node-critical",
          priority: systemCritical + 1000,
          containers: [{ name: "c" }],
        },
      },
      4_000_000_000n,
      -997,
      -997,
    ],
  ];
  for (const [name, p, capacity, low, high] of cases) {
    it(name, () => {
      const adj = getContainerOOMScoreAdjust(p, p.spec?.containers[0] as never, capacity, gates);
      assert.ok(adj >= low && adj <= high, `${name}: ${adj} not in [${low}, ${high}]`);
    });
  }

  it("keeps a static pod in the system-node-critical class last (-997)", () => {
    const p: Pod = {
      metadata: { annotations: { "kubernetes.io/config.source": "file" } },
      spec: { priorityClassName: "system-node-critical", containers: [{ name: "c" }] },
    };
    assert.ok(isCriticalPod(p) && isNodeCriticalPod(p));
    assert.equal(getContainerOOMScoreAdjust(p, { name: "c" }, 4_000_000_000n, gates), -997);
  });

  it("counts static and mirror pods as critical, API pods only by priority", () => {
    assert.ok(isCriticalPod({ metadata: { annotations: { "kubernetes.io/config.mirror": "x" } } }));
    assert.ok(!isCriticalPod({ metadata: { annotations: { "kubernetes.io/config.source": "api" } } }));
    assert.ok(isCriticalPod({ spec: { priority: systemCritical, containers: [] } }));
    assert.ok(!isCriticalPod({ spec: { priority: systemCritical - 1, containers: [] } }));
  });

  it("reads the allocated memory request with InPlacePodVerticalScaling", () => {
    const p: Pod = {
      ...pod({ requests: { memory: "1G", cpu: "1" } }),
      status: { containerStatuses: [{ name: "c", allocatedResources: { memory: "4G" } } as never] },
    };
    const c = p.spec?.containers[0] as never;
    assert.equal(getContainerOOMScoreAdjust(p, c, standardMemoryAmount, gates), 875);
    assert.equal(
      getContainerOOMScoreAdjust(p, c, standardMemoryAmount, { InPlacePodVerticalScaling: true }),
      500,
    );
  });
});
