import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { kindOf } from "../../lib/errdefs.js";
import { applyNodeFactsFile, capacityForFacts, type ExplainNodeFacts } from "./node-facts-file.js";

const detected: ExplainNodeFacts = {
  node: {
    nodeName: "host",
    cgroupVersion: "v1",
    memoryCapacityBytes: 1000n,
    swapCapacityBytes: 0n,
    hugePageSizes: ["2Mi"],
    pageSizeBytes: 4096,
    swapControllerAvailable: false,
  },
  hugetlb: false,
  cpuCores: 2,
};

describe("applyNodeFactsFile", () => {
  it("replaces the facts the file names and keeps the others", () => {
    const facts = applyNodeFactsFile(
      [
        "cgroupVersion: v2",
        "memoryCapacityBytes: 16Gi",
        "swapCapacityBytes: 1073741824",
        "hugePageSizes: [2Mi, 1073741824]",
        "swapControllerAvailable: true",
        "hugetlbControllerAvailable: true",
        "cpuCores: 8",
      ].join("\n"),
      "node.yaml",
      detected,
    );
    assert.deepEqual(facts, {
      node: {
        nodeName: "host",
        cgroupVersion: "v2",
        memoryCapacityBytes: 16n << 30n,
        swapCapacityBytes: 1n << 30n,
        hugePageSizes: ["2Mi", "1Gi"],
        pageSizeBytes: 4096,
        swapControllerAvailable: true,
      },
      hugetlb: true,
      cpuCores: 8,
    });
    // The detected facts are left as they were.
    assert.equal(detected.node.cgroupVersion, "v1");
  });

  it("an empty file changes nothing", () => {
    assert.deepEqual(applyNodeFactsFile("", "node.yaml", detected), detected);
  });

  const bad: [string, RegExp][] = [
    ["cgroupVersion: v3", /cgroupVersion: want "v1" or "v2", got "v3"/],
    ["memoryCapacityBytes: lots", /memoryCapacityBytes: want a byte count or quantity/],
    ["memoryCapacityBytes: -1", /memoryCapacityBytes: want a byte count of at least 0/],
    ["hugePageSizes: 2Mi", /hugePageSizes: want a list of page sizes/],
    ["pageSizeBytes: 0", /pageSizeBytes: want a positive integer/],
    ["swapControllerAvailable: yes please", /swapControllerAvailable: want true or false/],
    ["nodeName: ''", /nodeName: want a non-empty string/],
    ["memory: 1Gi", /unknown key "memory" \(known: nodeName, cgroupVersion/],
    ["- a list", /want a mapping of facts/],
    ["a: [", /node facts node.yaml: /],
  ];
  for (const [text, message] of bad) {
    it(`refuses ${JSON.stringify(text)}`, () => {
      assert.throws(
        () => applyNodeFactsFile(text, "node.yaml", detected),
        (err: Error) => kindOf(err) === "InvalidArgument" && message.test(err.message),
      );
    });
  }
});

describe("capacityForFacts", () => {
  it("takes CPUs, memory and hugepage sizes from the facts; a size the host lacks holds none", () => {
    const facts = applyNodeFactsFile(
      "memoryCapacityBytes: 4Gi\ncpuCores: 16\nhugePageSizes: [1Gi, 2Mi]",
      "f",
      detected,
    );
    const capacity = capacityForFacts(
      {
        cpuCores: 2,
        memoryBytes: 1000n,
        hugePages: [{ pageSize: "2Mi", totalBytes: 4n << 20n }],
        ephemeralStorageBytes: 10n,
        maxPids: 99n,
      },
      facts,
    );
    assert.deepEqual(capacity, {
      cpuCores: 16,
      memoryBytes: 4n << 30n,
      hugePages: [
        { pageSize: "1Gi", totalBytes: 0n },
        { pageSize: "2Mi", totalBytes: 4n << 20n },
      ],
      ephemeralStorageBytes: 10n,
      maxPids: 99n,
    });
  });
});
