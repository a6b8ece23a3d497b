import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Container, Pod } from "kubernetes-types/core/v1.js";
import {
  defaultPodResources,
  hugePageSizeFromResourceName,
  hugePageUnitSizeFromByteSize,
  podLimits,
  podRequests,
  type ResourceList,
} from "./resources.js";

/** A resource list as text, for comparing: {"cpu": "2000000000n"}. */
function show(list: ResourceList): Record<string, string> {
  return Object.fromEntries(Object.entries(list).map(([name, q]) => [name, `${q.nanos}n`]));
}

const cpu = (amount: string) => ({ cpu: amount });

function ctr(
  name: string,
  requests?: Record<string, string>,
  limits?: Record<string, string>,
  restartPolicy?: string,
) {
  const c: Container = { name, resources: { requests, limits } };
  if (restartPolicy) c.restartPolicy = restartPolicy;
  return c;
}

function pod(
  containers: Container[],
  initContainers: Container[] = [],
  overhead?: Record<string, string>,
): Pod {
  return { metadata: { name: "p" }, spec: { containers, initContainers, overhead } };
}

describe("defaultPodResources", () => {
  it("requests what a container limits when it requests nothing (SetDefaults_Pod)", () => {
    const p = pod(
      [
        ctr("a", undefined, { cpu: "1", memory: "1Gi" }),
        ctr("b", { cpu: "100m" }, { cpu: "2", memory: "2Gi" }),
      ],
      [ctr("init", undefined, { memory: "64Mi" })],
    );
    const defaulted = defaultPodResources(p);
    assert.deepEqual(defaulted.spec?.containers[0]?.resources?.requests, { cpu: "1", memory: "1Gi" });
    // An explicit request stays; only the missing resource is filled in.
    assert.deepEqual(defaulted.spec?.containers[1]?.resources?.requests, { cpu: "100m", memory: "2Gi" });
    assert.deepEqual(defaulted.spec?.initContainers?.[0]?.resources?.requests, { memory: "64Mi" });
    // The input pod is left as it was.
    assert.equal(p.spec?.containers[0]?.resources?.requests, undefined);
  });

  it("leaves containers without limits alone", () => {
    const p = pod([ctr("a", { cpu: "1" }), { name: "b" }]);
    assert.deepEqual(defaultPodResources(p), p);
  });
});

describe("podRequests", () => {
  // After pkg/api/v1/resource TestPodResourceRequests (1.28), restartable init container cases.
  const cases: { description: string; pod: Pod; expected: Record<string, string> }[] = [
    {
      description: "sum of containers, larger init container wins",
      pod: pod([ctr("a", cpu("1")), ctr("b", cpu("2"))], [ctr("i", { cpu: "4", memory: "1Gi" })]),
      expected: { cpu: "4000000000n", memory: `${1073741824n * 10n ** 9n}n` },
    },
    {
      description: "restartable init container",
      pod: pod([ctr("a", cpu("1"))], [ctr("restartable-init-1", cpu("1"), undefined, "Always")]),
      expected: { cpu: "2000000000n" },
    },
    {
      description: "multiple restartable init containers",
      // max(5, restartable init containers (3+2+1) + regular (1)) = 7
      pod: pod(
        [ctr("a", cpu("1"))],
        [
          ctr("init-1", cpu("5")),
          ctr("restartable-init-1", cpu("1"), undefined, "Always"),
          ctr("restartable-init-2", cpu("2"), undefined, "Always"),
          ctr("restartable-init-3", cpu("3"), undefined, "Always"),
        ],
      ),
      expected: { cpu: "7000000000n" },
    },
    {
      description: "multiple restartable and regular init containers",
      // init-2 needs 5 plus the sidecars started before it (1+2) = 8; restartable-init-3 starts later
      pod: pod(
        [ctr("a", cpu("1"))],
        [
          ctr("init-1", cpu("5")),
          ctr("restartable-init-1", cpu("1"), undefined, "Always"),
          ctr("restartable-init-2", cpu("2"), undefined, "Always"),
          ctr("init-2", cpu("5")),
          ctr("restartable-init-3", cpu("3"), undefined, "Always"),
        ],
      ),
      expected: { cpu: "8000000000n" },
    },
    {
      description: "restartable-init, init and regular",
      pod: pod(
        [ctr("a", cpu("100"))],
        [ctr("restartable-init-1", cpu("10"), undefined, "Always"), ctr("init-1", cpu("200"))],
      ),
      expected: { cpu: "210000000000n" },
    },
    {
      description: "pod overhead is added",
      pod: pod([ctr("a", { cpu: "1" })], [], { cpu: "250m", memory: "120Mi" }),
      expected: { cpu: "1250000000n", memory: `${125829120n * 10n ** 9n}n` },
    },
  ];
  for (const c of cases) {
    it(c.description, () => assert.deepEqual(show(podRequests(c.pod)), c.expected));
  }

  it("treats restartable init containers as ordinary ones without SidecarContainers", () => {
    const p = pod([ctr("a", cpu("1"))], [ctr("restartable-init-1", cpu("3"), undefined, "Always")]);
    assert.deepEqual(show(podRequests(p, { sidecarContainers: false })), { cpu: "3000000000n" });
  });

  it("uses the larger of request and allocation with InPlacePodVerticalScaling", () => {
    const status = {
      containerStatuses: [{ name: "a", allocatedResources: { cpu: "2", memory: "512Mi" } } as never],
    };
    const p: Pod = { ...pod([ctr("a", { cpu: "1", memory: "1Gi" })]), status };
    assert.deepEqual(show(podRequests(p, { inPlacePodVerticalScalingEnabled: true })), {
      cpu: "2000000000n",
      memory: `${1073741824n * 10n ** 9n}n`,
    });
    // An infeasible resize keeps the allocation.
    const infeasible: Pod = { ...p, status: { ...status, resize: "Infeasible" } };
    assert.deepEqual(show(podRequests(infeasible, { inPlacePodVerticalScalingEnabled: true })), {
      cpu: "2000000000n",
      memory: `${536870912n * 10n ** 9n}n`,
    });
    assert.deepEqual(show(podRequests(p)).cpu, "1000000000n");
  });

  it("reports each container's effective requests to containerFn", () => {
    const seen: [string, Record<string, string>][] = [];
    podRequests(pod([ctr("a", cpu("1"))], [ctr("r", cpu("1"), undefined, "Always"), ctr("i", cpu("2"))]), {
      containerFn: (res, type) => seen.push([type, show(res)]),
    });
    assert.deepEqual(seen, [
      ["Containers", { cpu: "1000000000n" }],
      ["InitContainers", { cpu: "1000000000n" }],
      ["InitContainers", { cpu: "3000000000n" }],
    ]);
  });
});

describe("podLimits", () => {
  it("adds sidecar limits to the containers' and keeps the larger init step (TestPodResourceLimits)", () => {
    const p = pod(
      [ctr("a", undefined, { cpu: "1", memory: "1Gi" })],
      [ctr("r", undefined, { cpu: "1" }, "Always"), ctr("i", undefined, { cpu: "5", memory: "512Mi" })],
    );
    assert.deepEqual(show(podLimits(p)), { cpu: "6000000000n", memory: `${1073741824n * 10n ** 9n}n` });
  });

  it("adds overhead only to limits that are set", () => {
    const p = pod([ctr("a", undefined, { cpu: "1" })], [], { cpu: "250m", memory: "120Mi" });
    assert.deepEqual(show(podLimits(p)), { cpu: "1250000000n" });
  });
});

describe("hugepage names", () => {
  it("reads the page size of hugepages-<size> and names sizes as cgroups do", () => {
    assert.equal(hugePageSizeFromResourceName("hugepages-2Mi"), 2097152n);
    assert.equal(hugePageSizeFromResourceName("hugepages-2MB"), undefined);
    assert.equal(hugePageUnitSizeFromByteSize(2097152n), "2MB");
    assert.equal(hugePageUnitSizeFromByteSize(1073741824n), "1GB");
    assert.equal(hugePageUnitSizeFromByteSize(65536n), "64KB");
    assert.equal(hugePageUnitSizeFromByteSize(1025n * 1024n), undefined);
  });
});
