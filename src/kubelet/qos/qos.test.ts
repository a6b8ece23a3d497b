import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Container, Pod } from "kubernetes-types/core/v1.js";
import { computePodQOS, getPodQOS, type PodQOSClass } from "./qos.js";

function resourceList(cpu: string, memory: string): Record<string, string> {
  const list: Record<string, string> = {};
  if (cpu !== "") list.cpu = cpu;
  if (memory !== "") list.memory = memory;
  return list;
}

function ctr(name: string, requests: Record<string, string>, limits: Record<string, string>): Container {
  return { name, resources: { requests, limits } };
}

function pod(name: string, containers: Container[], initContainers?: Container[]): Pod {
  return { metadata: { name }, spec: { containers, initContainers } };
}

describe("getPodQOS", () => {
  // pkg/apis/core/v1/helper/qos TestGetPodQOS (1.28).
  const cases: [Pod, PodQOSClass][] = [
    [
      pod("guaranteed", [ctr("guaranteed", resourceList("100m", "100Mi"), resourceList("100m", "100Mi"))]),
      "Guaranteed",
    ],
    [
      pod("guaranteed-guaranteed", [
        ctr("guaranteed", resourceList("100m", "100Mi"), resourceList("100m", "100Mi")),
        ctr("guaranteed", resourceList("100m", "100Mi"), resourceList("100m", "100Mi")),
      ]),
      "Guaranteed",
    ],
    [
      pod("best-effort-best-effort", [
        ctr("best-effort", resourceList("", ""), resourceList("", "")),
        ctr("best-effort", resourceList("", ""), resourceList("", "")),
      ]),
      "BestEffort",
    ],
    [pod("best-effort", [ctr("best-effort", resourceList("", ""), resourceList("", ""))]), "BestEffort"],
    [
      pod("best-effort-burstable", [
        ctr("best-effort", resourceList("", ""), resourceList("", "")),
        ctr("burstable", resourceList("1", ""), resourceList("2", "")),
      ]),
      "Burstable",
    ],
    [
      pod("best-effort-guaranteed", [
        ctr("best-effort", resourceList("", ""), resourceList("", "")),
        ctr("guaranteed", resourceList("10m", "100Mi"), resourceList("10m", "100Mi")),
      ]),
      "Burstable",
    ],
    [
      pod("burstable-cpu-guaranteed-memory", [
        ctr("burstable", resourceList("", "100Mi"), resourceList("", "100Mi")),
      ]),
      "Burstable",
    ],
    [
      pod("burstable-no-limits", [ctr("burstable", resourceList("100m", "100Mi"), resourceList("", ""))]),
      "Burstable",
    ],
    [
      pod("burstable-guaranteed", [
        ctr("burstable", resourceList("1", "100Mi"), resourceList("2", "100Mi")),
        ctr("guaranteed", resourceList("100m", "100Mi"), resourceList("100m", "100Mi")),
      ]),
      "Burstable",
    ],
    [
      pod("burstable-unbounded-but-requests-match-limits", [
        ctr("burstable", resourceList("100m", "100Mi"), resourceList("200m", "200Mi")),
        ctr("burstable-unbounded", resourceList("100m", "100Mi"), resourceList("", "")),
      ]),
      "Burstable",
    ],
    [
      pod("burstable-1", [ctr("burstable", resourceList("10m", "100Mi"), resourceList("100m", "200Mi"))]),
      "Burstable",
    ],
    [
      pod("burstable-2", [ctr("burstable", resourceList("0", "0"), resourceList("100m", "200Mi"))]),
      "Burstable",
    ],
    [
      pod("best-effort-hugepages", [
        ctr(
          "best-effort",
          { ...resourceList("0", "0"), "hugepages-2Mi": "1Gi" },
          { ...resourceList("0", "0"), "hugepages-2Mi": "1Gi" },
        ),
      ]),
      "BestEffort",
    ],
    [
      pod(
        "init-container",
        [ctr("best-effort", resourceList("", ""), resourceList("", ""))],
        [ctr("burstable", resourceList("10m", "100Mi"), resourceList("100m", "200Mi"))],
      ),
      "Burstable",
    ],
  ];
  for (const [p, expected] of cases) {
    it(`${p.metadata?.name} is ${expected}`, () => assert.equal(getPodQOS(p), expected));
  }

  it("takes the class recorded in the pod's status when there is one", () => {
    const p: Pod = {
      ...pod("recorded", [ctr("c", resourceList("", ""), resourceList("", ""))]),
      status: { qosClass: "Guaranteed" },
    };
    assert.equal(getPodQOS(p), "Guaranteed");
    assert.equal(computePodQOS(p), "BestEffort");
  });

  it("sees limits-only pods as guaranteed only after defaulting requests", () => {
    const limitsOnly = pod("limits-only", [ctr("c", {}, resourceList("1", "1Gi"))]);
    assert.equal(getPodQOS(limitsOnly), "Burstable");
  });
});
