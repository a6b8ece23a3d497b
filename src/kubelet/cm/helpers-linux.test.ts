import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Container, Pod } from "kubernetes-types/core/v1.js";
import { parseResourceList } from "../api/resources.js";
import { featureGates } from "../features/features.js";
import {
  cpuSharesToCpuWeight,
  cpuWeightToCpuShares,
  getCPUWeight,
  hugePageLimits,
  hugePageSizes,
  hugetlbLimits,
  milliCPUToQuota,
  milliCPUToShares,
  type ResourceConfig,
  resourceConfigForPod,
} from "./helpers-linux.js";

const gatesOff = featureGates();
const customPeriod = featureGates({ CustomCPUCFSQuotaPeriod: true });

function resourceList(cpu: string, memory: string): Record<string, string> {
  const list: Record<string, string> = {};
  if (cpu !== "") list.cpu = cpu;
  if (memory !== "") list.memory = memory;
  return list;
}

function ctr(requests: Record<string, string>, limits: Record<string, string>): Container {
  return { name: "c", resources: { requests, limits } };
}

const podOf = (containers: Container[], initContainers?: Container[]): Pod => ({
  spec: { containers, initContainers },
});

describe("milliCPUToShares", () => {
  // The known values of kuberuntime TestSharesToMilliCPU, and the kernel's bounds.
  const known: [bigint, bigint][] = [
    [0n, 2n],
    [1n, 2n],
    [2n, 2n],
    [3n, 3n],
    [4n, 4n],
    [32n, 32n],
    [64n, 65n],
    [100n, 102n],
    [250n, 256n],
    [500n, 512n],
    [1000n, 1024n],
    [1500n, 1536n],
    [2000n, 2048n],
    [256000n, 262144n],
    [1_000_000n, 262144n],
  ];
  for (const [milli, shares] of known)
    it(`${milli}m is ${shares} shares`, () => assert.equal(milliCPUToShares(milli), shares));
});

describe("milliCPUToQuota", () => {
  // cm TestMilliCPUToQuota (1.28): without CustomCPUCFSQuotaPeriod the period is 100ms whatever is passed.
  const cases: [bigint, bigint, bigint][] = [
    [0n, 0n, 0n],
    [5n, 100000n, 1000n],
    [9n, 100000n, 1000n],
    [10n, 100000n, 1000n],
    [200n, 100000n, 20000n],
    [500n, 100000n, 50000n],
    [1000n, 100000n, 100000n],
    [1500n, 100000n, 150000n],
  ];
  for (const [milli, period, quota] of cases) {
    it(`${milli}m over ${period}µs is ${quota}`, () =>
      assert.equal(milliCPUToQuota(milli, period, gatesOff), quota));
  }

  it("takes the given period only with CustomCPUCFSQuotaPeriod", () => {
    assert.equal(milliCPUToQuota(200n, 5000n, gatesOff), 20000n);
    assert.equal(milliCPUToQuota(200n, 5000n, customPeriod), 1000n);
    assert.equal(milliCPUToQuota(100n, 5000n, customPeriod), 1000n); // 500µs is below the 1ms floor
    assert.equal(milliCPUToQuota(1500n, 200000n, customPeriod), 300000n);
  });
});

describe("resourceConfigForPod", () => {
  const defaultQuotaPeriod = 100000n;
  const tunedQuotaPeriod = 5000n;
  const minShares = 2n;
  const burstableShares = milliCPUToShares(100n);
  const burstableMemory = 200n * 1024n * 1024n;
  const burstablePartialShares = milliCPUToShares(200n);
  const guaranteedShares = milliCPUToShares(100n);
  const guaranteedMemory = 100n * 1024n * 1024n;
  const cpuNoLimit = -1n;

  const besteffort = podOf([ctr(resourceList("", ""), resourceList("", ""))]);
  const burstableNoLimits = podOf([ctr(resourceList("100m", "100Mi"), resourceList("", ""))]);
  const burstableWithLimits = podOf([ctr(resourceList("100m", "100Mi"), resourceList("200m", "200Mi"))]);
  const burstablePartialLimits = podOf([
    ctr(resourceList("100m", "100Mi"), resourceList("200m", "200Mi")),
    ctr(resourceList("100m", "100Mi"), resourceList("", "")),
  ]);
  const guaranteed = podOf([ctr(resourceList("100m", "100Mi"), resourceList("100m", "100Mi"))]);
  const burstablePartialLimitsWithInit = podOf(
    [
      ctr(resourceList("100m", "100m"), resourceList("100m", "100Mi")),
      ctr(resourceList("100m", "100m"), resourceList("", "")),
    ],
    [
      ctr(resourceList("100m", "100m"), resourceList("100m", "100Mi")),
      ctr(resourceList("100m", "100m"), resourceList("", "")),
    ],
  );

  type Case = [string, Pod, boolean, bigint, ResourceConfig];
  // TestResourceConfigForPod / TestResourceConfigForPodWithCustomCPUCFSQuotaPeriod (1.28), as
  // [name, pod, enforceCPULimits, quota period, expected] computed with the gate off and on.
  function cases(gateOn: boolean): Case[] {
    const burstableQuota = 20000n; // 200m over the default period
    const guaranteedQuota = 10000n;
    const tunedBurstableQuota = gateOn ? 1000n : burstableQuota;
    const tunedGuaranteedQuota = gateOn ? 1000n : guaranteedQuota;
    return [
      ["besteffort", besteffort, true, defaultQuotaPeriod, { cpuShares: minShares }],
      ["burstable-no-limits", burstableNoLimits, true, defaultQuotaPeriod, { cpuShares: burstableShares }],
      [
        "burstable-with-limits",
        burstableWithLimits,
        true,
        defaultQuotaPeriod,
        {
          cpuShares: burstableShares,
          cpuQuota: burstableQuota,
          cpuPeriod: defaultQuotaPeriod,
          memory: burstableMemory,
        },
      ],
      [
        "burstable-with-limits-no-cpu-enforcement",
        burstableWithLimits,
        false,
        defaultQuotaPeriod,
        {
          cpuShares: burstableShares,
          cpuQuota: cpuNoLimit,
          cpuPeriod: defaultQuotaPeriod,
          memory: burstableMemory,
        },
      ],
      [
        "burstable-partial-limits",
        burstablePartialLimits,
        true,
        defaultQuotaPeriod,
        { cpuShares: burstablePartialShares },
      ],
      [
        "burstable-with-limits-with-tuned-quota",
        burstableWithLimits,
        true,
        tunedQuotaPeriod,
        {
          cpuShares: burstableShares,
          cpuQuota: tunedBurstableQuota,
          cpuPeriod: tunedQuotaPeriod,
          memory: burstableMemory,
        },
      ],
      [
        "burstable-with-limits-no-cpu-enforcement-with-tuned-quota",
        burstableWithLimits,
        false,
        tunedQuotaPeriod,
        {
          cpuShares: burstableShares,
          cpuQuota: cpuNoLimit,
          cpuPeriod: tunedQuotaPeriod,
          memory: burstableMemory,
        },
      ],
      [
        "burstable-partial-limits-with-tuned-quota",
        burstablePartialLimits,
        true,
        tunedQuotaPeriod,
        { cpuShares: burstablePartialShares },
      ],
      [
        "guaranteed",
        guaranteed,
        true,
        defaultQuotaPeriod,
        {
          cpuShares: guaranteedShares,
          cpuQuota: guaranteedQuota,
          cpuPeriod: defaultQuotaPeriod,
          memory: guaranteedMemory,
        },
      ],
      [
        "guaranteed-no-cpu-enforcement",
        guaranteed,
        false,
        defaultQuotaPeriod,
        {
          cpuShares: guaranteedShares,
          cpuQuota: cpuNoLimit,
          cpuPeriod: defaultQuotaPeriod,
          memory: guaranteedMemory,
        },
      ],
      [
        "guaranteed-with-tuned-quota",
        guaranteed,
        true,
        tunedQuotaPeriod,
        {
          cpuShares: guaranteedShares,
          cpuQuota: tunedGuaranteedQuota,
          cpuPeriod: tunedQuotaPeriod,
          memory: guaranteedMemory,
        },
      ],
      [
        "guaranteed-no-cpu-enforcement-with-tuned-quota",
        guaranteed,
        false,
        tunedQuotaPeriod,
        {
          cpuShares: guaranteedShares,
          cpuQuota: cpuNoLimit,
          cpuPeriod: tunedQuotaPeriod,
          memory: guaranteedMemory,
        },
      ],
      [
        "burstable-partial-limits-with-init-containers",
        burstablePartialLimitsWithInit,
        true,
        tunedQuotaPeriod,
        { cpuShares: burstablePartialShares },
      ],
    ];
  }

  const cpuAndMemory = (c: ResourceConfig) => ({
    cpuShares: c.cpuShares,
    cpuQuota: c.cpuQuota,
    cpuPeriod: c.cpuPeriod,
    memory: c.memory,
  });

  for (const [gateName, gates] of [
    ["TestResourceConfigForPod", gatesOff],
    ["TestResourceConfigForPodWithCustomCPUCFSQuotaPeriod", customPeriod],
  ] as const) {
    describe(gateName, () => {
      for (const [name, pod, enforceCPULimits, period, expected] of cases(gates.CustomCPUCFSQuotaPeriod)) {
        it(name, () => {
          const actual = resourceConfigForPod(pod, enforceCPULimits, period, false, gates);
          assert.deepEqual(cpuAndMemory(actual), cpuAndMemory(expected));
          assert.equal(actual.unified, undefined);
        });
      }
    });
  }

  describe("TestResourceConfigForPodWithEnforceMemoryQoS", () => {
    const memoryMin: Record<string, string | undefined> = {
      besteffort: undefined,
      "burstable-partial-limits": "209715200",
      "burstable-partial-limits-with-tuned-quota": "209715200",
      "burstable-partial-limits-with-init-containers": "1", // 0.2 bytes requested, rounded up
    };
    for (const [name, pod, enforceCPULimits, period] of cases(false)) {
      const expected = name in memoryMin ? memoryMin[name] : "104857600";
      it(`${name}: memory.min ${expected ?? "unset"}`, () => {
        const actual = resourceConfigForPod(pod, enforceCPULimits, period, true, gatesOff);
        assert.deepEqual(actual.unified, expected === undefined ? undefined : { "memory.min": expected });
      });
    }
  });

  it("sums hugepage requests per page size (TestHugePageLimits)", () => {
    const mi = 1024n * 1024n;
    const cases: [string, Record<string, string>, Map<bigint, bigint>][] = [
      ["no valid hugepages", { "2Mi": "128" }, new Map()],
      ["2Mi only", { "hugepages-2Mi": "128" }, new Map([[2n * mi, 128n]])],
      [
        "2Mi and 4Mi",
        { "hugepages-2Mi": "128", [`hugepages-${2n * mi}`]: "256", "hugepages-4Mi": "512", "4Mi": "1024" },
        new Map([
          [2n * mi, 384n],
          [4n * mi, 512n],
        ]),
      ],
    ];
    for (const [name, list, expected] of cases) {
      assert.deepEqual(hugePageLimits(parseResourceList(list)), expected, name);
      const fromPod = resourceConfigForPod(
        podOf([{ name: "c", resources: { requests: list } }]),
        false,
        0n,
        false,
        gatesOff,
      );
      assert.deepEqual(fromPod.hugePageLimit, expected, name);
    }
  });

  it("counts a sidecar's limits only with SidecarContainers", () => {
    const pod = podOf(
      [ctr(resourceList("100m", "100Mi"), resourceList("100m", "100Mi"))],
      [{ ...ctr(resourceList("100m", "100Mi"), resourceList("100m", "100Mi")), restartPolicy: "Always" }],
    );
    const on = resourceConfigForPod(
      pod,
      true,
      defaultQuotaPeriod,
      false,
      featureGates({ SidecarContainers: true }),
    );
    const off = resourceConfigForPod(pod, true, defaultQuotaPeriod, false, gatesOff);
    assert.deepEqual(cpuAndMemory(on), {
      cpuShares: 204n,
      cpuQuota: 20000n,
      cpuPeriod: 100000n,
      memory: 200n * 1024n * 1024n,
    });
    assert.deepEqual(cpuAndMemory(off), {
      cpuShares: 102n,
      cpuQuota: 10000n,
      cpuPeriod: 100000n,
      memory: 100n * 1024n * 1024n,
    });
  });
});

describe("cgroup v2 conversions", () => {
  it("maps cpu.shares to cpu.weight and back (KEP-2254)", () => {
    assert.equal(cpuSharesToCpuWeight(2n), 1n);
    assert.equal(cpuSharesToCpuWeight(1024n), 39n);
    assert.equal(cpuSharesToCpuWeight(262144n), 10000n);
    assert.equal(cpuWeightToCpuShares(1n), 2n);
    assert.equal(cpuWeightToCpuShares(100n), 2597n);
    assert.equal(cpuWeightToCpuShares(10000n), 262144n);
    assert.equal(getCPUWeight(undefined), 0n);
    assert.equal(getCPUWeight(300000n), 10000n);
    assert.equal(getCPUWeight(102n), 4n);
  });

  it("names the node's page sizes as cgroups do and limits unrequested ones to 0", () => {
    assert.deepEqual(hugePageSizes(["2Mi", "1Gi"]), ["2MB", "1GB"]);
    const mi = 1024n * 1024n;
    assert.deepEqual(hugetlbLimits({ hugePageLimit: new Map([[2n * mi, 4n * mi]]) }, ["2Mi", "1Gi"]), [
      { pageSize: "2MB", limit: 4n * mi },
      { pageSize: "1GB", limit: 0n },
    ]);
    assert.deepEqual(hugetlbLimits({}, []), []);
  });
});
