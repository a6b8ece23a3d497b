import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, equals, type MessageInitShape, toJsonString } from "@bufbuild/protobuf";
import type { Container, Pod } from "kubernetes-types/core/v1.js";
import {
  LinuxContainerConfigSchema,
  LinuxContainerResourcesSchema,
  NamespaceMode,
  NamespaceOptionSchema,
  SecurityProfile_ProfileType,
} from "../../cri/gen/runtime/v1/api_pb.js";
import { parseQuantity } from "../api/quantity.js";
import { featureGates } from "../features/features.js";
import {
  calcSwapForBurstablePods,
  calculateLinuxResources,
  generateLinuxContainerConfig,
  generateLinuxContainerResources,
  getHugepageLimitsFromResources,
  shouldEnforceMemoryQoS,
} from "./container-linux.js";
import type { KubeRuntimeSettings, NodeFacts } from "./settings.js";

const Gi = 1024n * 1024n * 1024n;

/** Upstream's createTestRuntimeManager: 32Gi of memory, CFS quota off, throttling factor 0.9. */
function settings(
  node: Partial<NodeFacts> = {},
  rest: Partial<KubeRuntimeSettings> = {},
): KubeRuntimeSettings {
  return {
    cpuCFSQuota: false,
    cpuCFSQuotaPeriodUs: 100_000,
    memorySwapBehavior: "",
    memoryThrottlingFactor: 0.9,
    seccompDefault: false,
    podLogsRootDirectory: "/var/log/pods",
    featureGates: featureGates(),
    node: {
      nodeName: "node",
      cgroupVersion: "v1",
      memoryCapacityBytes: 32n * Gi,
      swapCapacityBytes: 0n,
      hugePageSizes: [],
      pageSizeBytes: 4096,
      swapControllerAvailable: false,
      ...node,
    },
    ...rest,
  };
}

type ResourcesInit = MessageInitShape<typeof LinuxContainerResourcesSchema>;

function assertResources(got: unknown, expected: ResourcesInit, message = "") {
  const want = create(LinuxContainerResourcesSchema, expected);
  const actual = got as typeof want;
  assert.ok(
    equals(LinuxContainerResourcesSchema, actual, want),
    `${message}\ngot  ${toJsonString(LinuxContainerResourcesSchema, actual)}\nwant ${toJsonString(LinuxContainerResourcesSchema, want)}`,
  );
}

function podWith(containers: Container[]): Pod {
  return { metadata: { uid: "12345678", name: "bar", namespace: "new" }, spec: { containers } };
}

describe("generateLinuxContainerConfig", () => {
  // TestGenerateLinuxContainerConfigResources (1.28).
  const cases: [string, Container["resources"], ResourcesInit][] = [
    [
      "Request 128M/1C, Limit 256M/3C",
      { requests: { memory: "128Mi", cpu: "1" }, limits: { memory: "256Mi", cpu: "3" } },
      { cpuPeriod: 100000n, cpuQuota: 300000n, cpuShares: 1024n, memoryLimitInBytes: 256n * 1024n * 1024n },
    ],
    [
      "Request 128M/2C, No Limit",
      { requests: { memory: "128Mi", cpu: "2" } },
      { cpuPeriod: 100000n, cpuQuota: 0n, cpuShares: 2048n, memoryLimitInBytes: 0n },
    ],
  ];
  for (const [name, resources, expected] of cases) {
    it(name, () => {
      const container: Container = { name: "foo", image: "busybox", command: ["testCommand"], resources };
      const pod = podWith([container]);
      const lc = generateLinuxContainerConfig(
        settings({}, { cpuCFSQuota: true }),
        container,
        pod,
        0n,
        "",
        undefined,
        false,
      );
      const r = lc.resources;
      assert.deepEqual(
        [r?.cpuPeriod, r?.cpuQuota, r?.cpuShares, r?.memoryLimitInBytes],
        [expected.cpuPeriod, expected.cpuQuota, expected.cpuShares, expected.memoryLimitInBytes],
      );
    });
  }

  // TestGenerateLinuxContainerConfigNamespaces (1.28).
  const namespaceCases: [
    string,
    Pod,
    { type: string; id: string } | undefined,
    MessageInitShape<typeof NamespaceOptionSchema>,
  ][] = [
    [
      "Default namespaces",
      { spec: { containers: [{ name: "test" }] } },
      undefined,
      { pid: NamespaceMode.CONTAINER },
    ],
    [
      "PID Namespace POD",
      { spec: { containers: [{ name: "test" }], shareProcessNamespace: true } },
      undefined,
      { pid: NamespaceMode.POD },
    ],
    [
      "PID Namespace TARGET",
      { spec: { containers: [{ name: "test" }] } },
      { type: "docker", id: "really-long-id-string" },
      { pid: NamespaceMode.TARGET, targetId: "really-long-id-string" },
    ],
  ];
  for (const [name, pod, target, want] of namespaceCases) {
    it(name, () => {
      const container = pod.spec?.containers[0] as Container;
      const got = generateLinuxContainerConfig(settings(), container, pod, undefined, "", target, false);
      const options = got.securityContext?.namespaceOptions;
      assert.ok(options && equals(NamespaceOptionSchema, options, create(NamespaceOptionSchema, want)), name);
    });
  }

  it("produces the whole config for a burstable container on a cgroup v1 node", () => {
    const container: Container = {
      name: "web",
      resources: {
        requests: { cpu: "250m", memory: "64Mi" },
        limits: { cpu: "500m", memory: "128Mi", "hugepages-2Mi": "4Mi" },
      },
      securityContext: { allowPrivilegeEscalation: false },
    };
    const pod = podWith([container]);
    const s = settings(
      { memoryCapacityBytes: 4n * Gi, hugePageSizes: ["2Mi", "1Gi"], swapControllerAvailable: true },
      { cpuCFSQuota: true, seccompDefault: true },
    );
    const got = generateLinuxContainerConfig(
      s,
      container,
      pod,
      1000n,
      "",
      undefined,
      shouldEnforceMemoryQoS(s),
    );
    const want = create(LinuxContainerConfigSchema, {
      resources: {
        cpuPeriod: 100000n,
        cpuQuota: 50000n,
        cpuShares: 256n,
        memoryLimitInBytes: 134217728n,
        oomScoreAdj: 985n, // 1000 - 1000·64Mi/4Gi
        hugepageLimits: [
          { pageSize: "2MB", limit: 4194304n },
          { pageSize: "1GB", limit: 0n },
        ],
        memorySwapLimitInBytes: 134217728n, // no swap on cgroup v1: memory+swap = memory
      },
      securityContext: {
        namespaceOptions: {
          network: NamespaceMode.POD,
          ipc: NamespaceMode.POD,
          pid: NamespaceMode.CONTAINER,
        },
        runAsUser: { value: 1000n },
        noNewPrivs: true,
        maskedPaths: [
          "/proc/acpi",
          "/proc/kcore",
          "/proc/keys",
          "/proc/latency_stats",
          "/proc/timer_list",
          "/proc/timer_stats",
          "/proc/sched_debug",
          "/proc/scsi",
          "/sys/firmware",
        ],
        readonlyPaths: [
          "/proc/asound",
          "/proc/bus",
          "/proc/fs",
          "/proc/irq",
          "/proc/sys",
          "/proc/sysrq-trigger",
        ],
        seccomp: { profileType: SecurityProfile_ProfileType.RuntimeDefault },
      },
    });
    assert.ok(
      equals(LinuxContainerConfigSchema, got, want),
      `got  ${toJsonString(LinuxContainerConfigSchema, got)}\nwant ${toJsonString(LinuxContainerConfigSchema, want)}`,
    );
  });
});

describe("calculateLinuxResources", () => {
  // TestCalculateLinuxResources (1.28), on cgroup v1 and v2.
  const q = parseQuantity;
  const cases: [string, string | undefined, string, string, ResourcesInit][] = [
    [
      "Request128MBLimit256MB",
      "1",
      "2",
      "128Mi",
      { cpuPeriod: 100000n, cpuQuota: 200000n, cpuShares: 1024n, memoryLimitInBytes: 134217728n },
    ],
    [
      "RequestNoMemory",
      "2",
      "8",
      "0",
      { cpuPeriod: 100000n, cpuQuota: 800000n, cpuShares: 2048n, memoryLimitInBytes: 0n },
    ],
    [
      "RequestNilCPU",
      undefined,
      "2",
      "0",
      { cpuPeriod: 100000n, cpuQuota: 200000n, cpuShares: 2048n, memoryLimitInBytes: 0n },
    ],
    [
      "RequestZeroCPU",
      "0",
      "2",
      "0",
      { cpuPeriod: 100000n, cpuQuota: 200000n, cpuShares: 2n, memoryLimitInBytes: 0n },
    ],
  ];
  for (const cgroupVersion of ["v1", "v2"] as const) {
    for (const [name, cpuReq, cpuLim, memLim, expected] of cases) {
      it(`${name} (cgroup ${cgroupVersion})`, () => {
        const s = settings({ cgroupVersion }, { cpuCFSQuota: true });
        const got = calculateLinuxResources(
          cpuReq === undefined ? undefined : q(cpuReq),
          q(cpuLim),
          q(memLim),
          s,
        );
        const unified: Record<string, string> = cgroupVersion === "v2" ? { "memory.oom.group": "1" } : {};
        assertResources(got, { ...expected, unified });
      });
    }
  }

  it("uses the configured CFS period only with CustomCPUCFSQuotaPeriod", () => {
    const off = settings({}, { cpuCFSQuota: true, cpuCFSQuotaPeriodUs: 5000 });
    const on = settings(
      {},
      {
        cpuCFSQuota: true,
        cpuCFSQuotaPeriodUs: 5000,
        featureGates: featureGates({ CustomCPUCFSQuotaPeriod: true }),
      },
    );
    const lim = parseQuantity("500m");
    const a = calculateLinuxResources(undefined, lim, undefined, off);
    const b = calculateLinuxResources(undefined, lim, undefined, on);
    assert.deepEqual([a.cpuPeriod, a.cpuQuota], [100000n, 50000n]);
    assert.deepEqual([b.cpuPeriod, b.cpuQuota], [5000n, 2500n]);
  });
});

describe("generateLinuxContainerResources", () => {
  // TestGenerateLinuxContainerResources (1.28, the cases without container status), cgroup v1 and v2.
  const cases: [
    string,
    Record<string, string> | undefined,
    Record<string, string> | undefined,
    ResourcesInit,
  ][] = [
    [
      "requests & limits, cpu & memory, guaranteed qos",
      { cpu: "250m", memory: "500Mi" },
      { cpu: "250m", memory: "500Mi" },
      { cpuShares: 256n, memoryLimitInBytes: 524288000n, oomScoreAdj: -997n },
    ],
    [
      "requests & limits, cpu & memory, burstable qos",
      { cpu: "500m", memory: "750Mi" },
      { cpu: "250m", memory: "500Mi" },
      { cpuShares: 256n, memoryLimitInBytes: 786432000n, oomScoreAdj: 970n },
    ],
    ["best-effort qos", undefined, undefined, { cpuShares: 2n, oomScoreAdj: 1000n }],
  ];
  for (const cgroupVersion of ["v1", "v2"] as const) {
    for (const [name, limits, requests, expected] of cases) {
      it(`${name} (cgroup ${cgroupVersion})`, () => {
        const container: Container = { name: "c1", image: "busybox", resources: { limits, requests } };
        const s = settings({ cgroupVersion, memoryCapacityBytes: 17179860387n });
        const got = generateLinuxContainerResources(s, podWith([container]), container, false);
        const unified: Record<string, string> = cgroupVersion === "v2" ? { "memory.oom.group": "1" } : {};
        assertResources(got, { ...expected, unified }, name);
      });
    }
  }

  // TestGenerateContainerConfigWithMemoryQoSEnforced (1.28): memory.min is the request; memory.high is
  // request + 0.9 × (limit − request), or of the node's memory without a limit, in whole 4KiB pages.
  const memoryQoSCases: [string, Record<string, string> | undefined, string, string][] = [
    ["Request128MBLimit256MB", { memory: "256Mi" }, "134217728", "255012864"],
    ["Request128MBWithoutLimit", undefined, "134217728", "30937186304"],
  ];
  for (const [name, limits, memoryMin, memoryHigh] of memoryQoSCases) {
    it(`MemoryQoS: ${name}`, () => {
      const container: Container = { name: "foo", resources: { requests: { memory: "128Mi" }, limits } };
      const s = settings({ cgroupVersion: "v2" }, { featureGates: featureGates({ MemoryQoS: true }) });
      assert.ok(shouldEnforceMemoryQoS(s));
      const lc = generateLinuxContainerConfig(s, container, podWith([container]), 0n, "", undefined, true);
      assert.equal(lc.resources?.unified["memory.min"], memoryMin);
      assert.equal(lc.resources?.unified["memory.high"], memoryHigh);
    });
  }

  it("MemoryQoS: leaves memory.high out when requests equal limits, and is off on cgroup v1", () => {
    const container: Container = {
      name: "foo",
      resources: { requests: { memory: "128Mi" }, limits: { memory: "128Mi" } },
    };
    const s = settings({ cgroupVersion: "v2" }, { featureGates: featureGates({ MemoryQoS: true }) });
    const r = generateLinuxContainerResources(s, podWith([container]), container, true);
    assert.deepEqual(r.unified, { "memory.oom.group": "1", "memory.min": "134217728" });
    assert.ok(
      !shouldEnforceMemoryQoS(
        settings({ cgroupVersion: "v1" }, { featureGates: featureGates({ MemoryQoS: true }) }),
      ),
    );
  });
});

describe("getHugepageLimitsFromResources", () => {
  // TestGetHugepageLimitsFromResources (1.28) on a node with 2MB and 1GB pages.
  const node = ["2Mi", "1Gi"];
  const cases: [string, Record<string, string>, [bigint, bigint]][] = [
    ["Success2MB", { "hugepages-2Mi": "2Mi" }, [2097152n, 0n]],
    ["Success1GB", { "hugepages-1Gi": "2Gi" }, [0n, 2147483648n]],
    ["Skip2MB", { "hugepages-2MB": "2Mi" }, [0n, 0n]],
    ["Skip1GB", { "hugepages-1GB": "2Gi" }, [0n, 0n]],
    [
      "Success2MBand1GB",
      { cpu: "0", "hugepages-2Mi": "2Mi", "hugepages-1Gi": "2Gi" },
      [2097152n, 2147483648n],
    ],
    ["Skip2MBand1GB", { cpu: "0", "hugepages-2MB": "2Mi", "hugepages-1GB": "2Gi" }, [0n, 0n]],
  ];
  for (const [name, limits, [twoMB, oneGB]] of cases) {
    it(name, () => {
      const got = getHugepageLimitsFromResources({ limits }, node).map((l) => [l.pageSize, l.limit]);
      assert.deepEqual(got, [
        ["2MB", twoMB],
        ["1GB", oneGB],
      ]);
    });
  }

  it("gives nothing on a node without hugepages", () => {
    assert.deepEqual(getHugepageLimitsFromResources({ limits: { "hugepages-2Mi": "2Mi" } }, []), []);
  });
});

describe("generateLinuxContainerResources with swap", () => {
  // TestGenerateLinuxContainerResourcesWithSwap (1.28): a 40Gi node with 5Gi of swap and a pod of two
  // containers. In 1.28 a behaviour other than LimitedSwap ("" included) means unlimited swap, and
  // cgroup v1 never gets swap.
  const noSwap = "no swap";
  const unlimited = "unlimited";
  type Qos = "Burstable" | "BestEffort" | "Guaranteed";
  type Case = {
    name: string;
    cgroupVersion: "v1" | "v2";
    qos: Qos;
    nodeSwap: boolean;
    swapBehavior: string;
    containerWithoutRequests?: boolean;
    guaranteedContainer?: boolean;
  };
  const cases: Case[] = [
    {
      name: "cgroups v1, LimitedSwap, Burstable QoS",
      cgroupVersion: "v1",
      qos: "Burstable",
      nodeSwap: true,
      swapBehavior: "LimitedSwap",
    },
    {
      name: "cgroups v1, UnlimitedSwap, Burstable QoS",
      cgroupVersion: "v1",
      qos: "Burstable",
      nodeSwap: true,
      swapBehavior: "UnlimitedSwap",
    },
    {
      name: "cgroups v1, LimitedSwap, Best-effort QoS",
      cgroupVersion: "v1",
      qos: "BestEffort",
      nodeSwap: true,
      swapBehavior: "LimitedSwap",
    },
    {
      name: "NodeSwap feature gate turned off, cgroups v2, LimitedSwap",
      cgroupVersion: "v2",
      qos: "Burstable",
      nodeSwap: false,
      swapBehavior: "LimitedSwap",
    },
    {
      name: "NodeSwap feature gate turned off, cgroups v2, UnlimitedSwap",
      cgroupVersion: "v2",
      qos: "Burstable",
      nodeSwap: false,
      swapBehavior: "UnlimitedSwap",
    },
    {
      name: "With no swapBehavior - UnlimitedSwap should be the default",
      cgroupVersion: "v2",
      qos: "BestEffort",
      nodeSwap: true,
      swapBehavior: "",
    },
    {
      name: "Best-effort Qos, cgroups v2, LimitedSwap",
      cgroupVersion: "v2",
      qos: "BestEffort",
      nodeSwap: true,
      swapBehavior: "LimitedSwap",
    },
    {
      name: "Best-effort Qos, cgroups v2, UnlimitedSwap",
      cgroupVersion: "v2",
      qos: "BestEffort",
      nodeSwap: true,
      swapBehavior: "UnlimitedSwap",
    },
    {
      name: "Guaranteed Qos, cgroups v2, LimitedSwap",
      cgroupVersion: "v2",
      qos: "Guaranteed",
      nodeSwap: true,
      swapBehavior: "LimitedSwap",
    },
    {
      name: "Guaranteed Qos, cgroups v2, UnlimitedSwap",
      cgroupVersion: "v2",
      qos: "Guaranteed",
      nodeSwap: true,
      swapBehavior: "UnlimitedSwap",
    },
    {
      name: "Burstable Qos, cgroups v2, LimitedSwap, with a guaranteed container",
      cgroupVersion: "v2",
      qos: "Burstable",
      nodeSwap: true,
      swapBehavior: "LimitedSwap",
      guaranteedContainer: true,
    },
    {
      name: "Burstable Qos, cgroups v2, UnlimitedSwap, with a guaranteed container",
      cgroupVersion: "v2",
      qos: "Burstable",
      nodeSwap: true,
      swapBehavior: "UnlimitedSwap",
      guaranteedContainer: true,
    },
    {
      name: "Burstable Qos, cgroups v2, LimitedSwap",
      cgroupVersion: "v2",
      qos: "Burstable",
      nodeSwap: true,
      swapBehavior: "LimitedSwap",
    },
    {
      name: "Burstable Qos, cgroups v2, UnlimitedSwap",
      cgroupVersion: "v2",
      qos: "Burstable",
      nodeSwap: true,
      swapBehavior: "UnlimitedSwap",
    },
    {
      name: "Burstable Qos, cgroups v2, LimitedSwap, with a container with no requests",
      cgroupVersion: "v2",
      qos: "Burstable",
      nodeSwap: true,
      swapBehavior: "LimitedSwap",
      containerWithoutRequests: true,
    },
    {
      name: "Burstable Qos, cgroups v2, UnlimitedSwap, with a container with no requests",
      cgroupVersion: "v2",
      qos: "Burstable",
      nodeSwap: true,
      swapBehavior: "UnlimitedSwap",
      containerWithoutRequests: true,
    },
  ];

  function containersFor(c: Case): [Container, Container] {
    switch (c.qos) {
      case "Burstable": {
        const c2: Container = { name: "c2" };
        if (!c.containerWithoutRequests) {
          c2.resources = {
            requests: { memory: "2Gi" },
            limits: c.guaranteedContainer ? { memory: "2Gi" } : undefined,
          };
        }
        return [{ name: "c1", resources: { requests: { memory: "1Gi" } } }, c2];
      }
      case "Guaranteed":
        return [
          {
            name: "c1",
            resources: { requests: { memory: "1Gi", cpu: "1" }, limits: { memory: "1Gi", cpu: "1" } },
          },
          {
            name: "c2",
            resources: { requests: { memory: "2Gi", cpu: "1" }, limits: { memory: "2Gi", cpu: "1" } },
          },
        ];
      default:
        return [{ name: "c1" }, { name: "c2" }];
    }
  }

  for (const c of cases) {
    it(c.name, () => {
      const s = settings(
        {
          cgroupVersion: c.cgroupVersion,
          memoryCapacityBytes: 40n * Gi,
          swapCapacityBytes: 5n * Gi,
          swapControllerAvailable: true,
        },
        { memorySwapBehavior: c.swapBehavior, featureGates: featureGates({ NodeSwap: c.nodeSwap }) },
      );
      const [c1, c2] = containersFor(c);
      const pod = podWith([c1, c2]);
      const resources = [c1, c2].map((container) =>
        generateLinuxContainerResources(s, pod, container, false),
      );

      // The test's own decision, as upstream writes it.
      let expected: (string | bigint)[];
      if (
        !c.nodeSwap ||
        c.cgroupVersion === "v1" ||
        (c.swapBehavior === "LimitedSwap" && c.qos !== "Burstable")
      ) {
        expected = [noSwap, noSwap];
      } else if (c.swapBehavior === "UnlimitedSwap" || c.swapBehavior === "") {
        expected = [unlimited, unlimited];
      } else {
        const swapFor = (request: bigint) => calcSwapForBurstablePods(request, 40n * Gi, 5n * Gi) as bigint;
        expected = [
          swapFor(1n * Gi),
          c.containerWithoutRequests || c.guaranteedContainer ? 0n : swapFor(2n * Gi),
        ];
      }

      resources.forEach((r, i) => {
        const want = expected[i];
        if (c.cgroupVersion === "v1") {
          assert.equal(
            r.memorySwapLimitInBytes,
            r.memoryLimitInBytes,
            `c${i + 1}: memory+swap equals memory`,
          );
          assert.equal(r.unified["memory.swap.max"], undefined);
        } else if (want === noSwap) {
          assert.equal(r.unified["memory.swap.max"], "0", `c${i + 1}`);
        } else if (want === unlimited) {
          assert.equal(r.unified["memory.swap.max"], "max", `c${i + 1}`);
        } else {
          assert.equal(r.unified["memory.swap.max"], String(want), `c${i + 1}`);
        }
      });
    });
  }

  it("gives burstable containers their share of the node's swap", () => {
    assert.equal(calcSwapForBurstablePods(1n * Gi, 40n * Gi, 5n * Gi), 134217728n);
    assert.equal(calcSwapForBurstablePods(2n * Gi, 40n * Gi, 5n * Gi), 268435456n);
    assert.equal(calcSwapForBurstablePods(1n, 0n, 5n * Gi), undefined);
    assert.equal(calcSwapForBurstablePods(41n * Gi, 40n * Gi, 5n * Gi), undefined);
  });

  it("sets nothing about swap without a swap controller", () => {
    const container: Container = {
      name: "c1",
      resources: { requests: { memory: "1Gi" }, limits: { memory: "2Gi" } },
    };
    for (const cgroupVersion of ["v1", "v2"] as const) {
      const s = settings(
        { cgroupVersion, swapControllerAvailable: false },
        { featureGates: featureGates({ NodeSwap: true }) },
      );
      const r = generateLinuxContainerResources(s, podWith([container]), container, false);
      assert.equal(r.memorySwapLimitInBytes, 0n);
      assert.equal(r.unified["memory.swap.max"], undefined);
    }
  });

  it("on cgroup v1 holds memory+swap at the memory limit", () => {
    const container: Container = {
      name: "c1",
      resources: { requests: { memory: "1Gi" }, limits: { memory: "2Gi" } },
    };
    const s = settings({ swapControllerAvailable: true });
    const r = generateLinuxContainerResources(s, podWith([container]), container, false);
    assert.equal(r.memorySwapLimitInBytes, 2n * Gi);
  });
});
