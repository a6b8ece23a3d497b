import assert from "node:assert/strict";
import { test } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.js";
import { parseQuantity } from "../../api/quantity.js";
import { featureGates } from "../../features/features.js";
import { calculateEmptyDirMemorySize } from "./empty-dir.js";

const podWith = (resources: { requests?: Record<string, string>; limits?: Record<string, string> }): Pod => ({
  spec: { containers: [{ name: "c", resources }] },
});

// Upstream's SizeMemoryBackedVolumesDisabled case is left out: the gate is on in 1.28 and berth has no switch.
test("calculateEmptyDirMemorySize (upstream TestCalculateEmptyDirMemorySize)", () => {
  const cases: { name: string; pod: Pod; allocatable: string; sizeLimit?: string; expected: string }[] = [
    {
      name: "EmptyDirLocalLimit",
      pod: podWith({ limits: { memory: "10Gi" } }),
      allocatable: "16Gi",
      sizeLimit: "1Gi",
      expected: "1Gi",
    },
    {
      name: "PodLocalLimit",
      pod: podWith({ limits: { memory: "10Gi" } }),
      allocatable: "16Gi",
      sizeLimit: "0",
      expected: "10Gi",
    },
    {
      name: "NodeAllocatableLimit",
      pod: podWith({ requests: { memory: "10Gi" } }),
      allocatable: "16Gi",
      sizeLimit: "0",
      expected: "16Gi",
    },
    {
      name: "sizeLimit above the pod's limit",
      pod: podWith({ limits: { memory: "1Gi" } }),
      allocatable: "16Gi",
      sizeLimit: "2Gi",
      expected: "1Gi",
    },
    { name: "no sizeLimit, best effort", pod: podWith({}), allocatable: "3Gi", expected: "3Gi" },
    {
      name: "no allocatable known",
      pod: podWith({ limits: { memory: "1Gi" } }),
      allocatable: "0",
      sizeLimit: "1Mi",
      expected: "0",
    },
  ];
  for (const c of cases) {
    const got = calculateEmptyDirMemorySize(
      parseQuantity(c.allocatable),
      c.sizeLimit === undefined ? undefined : parseQuantity(c.sizeLimit),
      c.pod,
      featureGates(),
    );
    assert.equal(got.cmp(parseQuantity(c.expected)), 0, `${c.name}: got ${got.value()} bytes`);
  }
});
