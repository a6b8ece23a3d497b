import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { kindOf } from "../../lib/errdefs.js";
import { parseQuantity } from "../api/quantity.js";
import { parseResourceList, type ResourceList } from "../api/resources.js";
import {
  DefaultEvictionHard,
  getCgroupConfig,
  getNodeAllocatableAbsolute,
  getNodeAllocatableReservation,
  internalCapacity,
  type NodeAllocatableConfig,
  nodeAllocatableCgroupConfig,
  nodeCapacity,
  nodeStatusAllocatable,
  parseEvictionHard,
  SignalMemoryAvailable,
  SignalNodeFsAvailable,
  type ThresholdValue,
  validateNodeAllocatable,
} from "./node-allocatable.js";
import type { NodeCapacity } from "./node-facts.js";

/** getResourceList of the upstream tests: cpu and memory, either left out when "". */
function resources(cpu: string, memory: string): ResourceList {
  const list: Record<string, string> = {};
  if (cpu !== "") list.cpu = cpu;
  if (memory !== "") list.memory = memory;
  return parseResourceList(list);
}
const storage = (amount: string): ResourceList =>
  parseResourceList(amount === "" ? {} : { "ephemeral-storage": amount });

function config(
  kubeReserved: ResourceList,
  systemReserved: ResourceList,
  signal: string,
  threshold?: ThresholdValue,
): NodeAllocatableConfig {
  return {
    kubeReservedCgroupName: "",
    systemReservedCgroupName: "",
    enforceNodeAllocatable: ["pods"],
    kubeReserved,
    systemReserved,
    // The upstream tables always pass one threshold, with a zero value when the case sets none.
    hardEvictionThresholds: [{ signal, value: threshold ?? { quantity: parseQuantity("0") } }],
  };
}

/** The milli-values of a list, as the upstream tests compare them. */
const milli = (list: ResourceList) =>
  Object.fromEntries(Object.entries(list).map(([k, v]) => [k, v.milliValue()]));

const hundredMi = { quantity: parseQuantity("100Mi") };
const fivePercent = { percentage: Math.fround(0.05) };

describe("getNodeAllocatableReservation", () => {
  // node_container_manager_linux_test.go TestNodeAllocatableReservationForScheduling.
  const cpuMem: [ResourceList, ResourceList, ResourceList, ThresholdValue | undefined, ResourceList][] = [
    [
      resources("100m", "100Mi"),
      resources("50m", "50Mi"),
      resources("10", "10Gi"),
      undefined,
      resources("150m", "150Mi"),
    ],
    [
      resources("100m", "100Mi"),
      resources("50m", "50Mi"),
      resources("10", "10Gi"),
      hundredMi,
      resources("150m", "250Mi"),
    ],
    // 5% as float32 of 10Gi is 536870920 bytes, not 536870912.
    [
      resources("100m", "100Mi"),
      resources("50m", "50Mi"),
      resources("10", "10Gi"),
      fivePercent,
      resources("150m", "694157320"),
    ],
    [{}, {}, resources("10", "10Gi"), undefined, resources("", "")],
    [
      resources("", "100Mi"),
      resources("50m", "50Mi"),
      resources("10", "10Gi"),
      undefined,
      resources("50m", "150Mi"),
    ],
    [
      resources("50m", "100Mi"),
      resources("", "50Mi"),
      resources("10", "10Gi"),
      undefined,
      resources("50m", "150Mi"),
    ],
    [resources("", "100Mi"), resources("", "50Mi"), resources("10", ""), undefined, resources("", "150Mi")],
  ];
  for (const [i, [kube, system, capacity, threshold, expected]] of cpuMem.entries()) {
    it(`cpu and memory case ${i + 1}`, () => {
      const reservation = getNodeAllocatableReservation(
        capacity,
        config(kube, system, SignalMemoryAvailable, threshold),
      );
      for (const [name, amount] of Object.entries(reservation)) {
        assert.equal(amount.milliValue(), expected[name]?.milliValue(), name);
      }
    });
  }

  const ephemeral: [ResourceList, ResourceList, ThresholdValue | undefined, ResourceList][] = [
    [storage("100Mi"), storage("10Gi"), undefined, storage("100Mi")],
    [storage("100Mi"), storage("10Gi"), hundredMi, storage("200Mi")],
    [storage("150Mi"), storage("10Gi"), fivePercent, storage("694157320")],
    [{}, storage("10Gi"), undefined, storage("")],
  ];
  for (const [i, [kube, capacity, threshold, expected]] of ephemeral.entries()) {
    it(`ephemeral storage case ${i + 1}`, () => {
      const reservation = getNodeAllocatableReservation(
        capacity,
        config(kube, {}, SignalNodeFsAvailable, threshold),
      );
      assert.deepEqual(milli(reservation), milli(expected));
    });
  }
});

describe("getNodeAllocatableAbsolute", () => {
  // TestNodeAllocatableForEnforcement: what the kubepods cgroup gets ignores the eviction thresholds.
  const cases: [ResourceList, ResourceList, ResourceList, ThresholdValue | undefined, ResourceList][] = [
    [
      resources("100m", "100Mi"),
      resources("50m", "50Mi"),
      resources("10", "10Gi"),
      undefined,
      resources("9850m", "10090Mi"),
    ],
    [
      resources("100m", "100Mi"),
      resources("50m", "50Mi"),
      resources("10", "10Gi"),
      hundredMi,
      resources("9850m", "10090Mi"),
    ],
    [
      resources("100m", "100Mi"),
      resources("50m", "50Mi"),
      resources("10", "10Gi"),
      fivePercent,
      resources("9850m", "10090Mi"),
    ],
    [{}, {}, resources("10", "10Gi"), undefined, resources("10", "10Gi")],
    [
      resources("", "100Mi"),
      resources("50m", "50Mi"),
      resources("10", "10Gi"),
      undefined,
      resources("9950m", "10090Mi"),
    ],
    [
      resources("50m", "100Mi"),
      resources("", "50Mi"),
      resources("10", "10Gi"),
      undefined,
      resources("9950m", "10090Mi"),
    ],
    [resources("", "100Mi"), resources("", "50Mi"), resources("10", ""), undefined, resources("10", "")],
  ];
  for (const [i, [kube, system, capacity, threshold, expected]] of cases.entries()) {
    it(`case ${i + 1}`, () => {
      const allocatable = getNodeAllocatableAbsolute(
        capacity,
        config(kube, system, SignalMemoryAvailable, threshold),
      );
      assert.deepEqual(milli(allocatable), milli(expected));
    });
  }

  it("never goes below zero", () => {
    const allocatable = getNodeAllocatableAbsolute(
      resources("1", "1Gi"),
      config(resources("2", ""), {}, SignalMemoryAvailable),
    );
    assert.deepEqual(milli(allocatable), { cpu: 0n, memory: 1024n ** 3n * 1000n });
  });
});

describe("validateNodeAllocatable", () => {
  // TestNodeAllocatableInputValidation: reservations beyond capacity are refused.
  const cpuMem: [ResourceList, ResourceList, ResourceList, ThresholdValue | undefined, boolean][] = [
    [resources("100m", "100Mi"), resources("50m", "50Mi"), resources("10", "10Gi"), undefined, false],
    [resources("100m", "100Mi"), resources("50m", "50Mi"), resources("10", "10Gi"), hundredMi, false],
    [resources("100m", "100Mi"), resources("50m", "50Mi"), resources("10", "10Gi"), fivePercent, false],
    [{}, {}, resources("10", "10Gi"), undefined, false],
    [resources("", "100Mi"), resources("50m", "50Mi"), resources("10", "10Gi"), undefined, false],
    [resources("50m", "100Mi"), resources("", "50Mi"), resources("10", "10Gi"), undefined, false],
    [resources("", "100Mi"), resources("", "50Mi"), resources("10", ""), undefined, false],
    [
      resources("5", "10Gi"),
      resources("5", "10Gi"),
      resources("10", "11Gi"),
      { quantity: parseQuantity("2Gi") },
      true,
    ],
  ];
  for (const [i, [kube, system, capacity, threshold, invalid]] of cpuMem.entries()) {
    it(`cpu and memory case ${i + 1} is ${invalid ? "invalid" : "valid"}`, () => {
      const validate = () =>
        validateNodeAllocatable(capacity, config(kube, system, SignalMemoryAvailable, threshold));
      if (invalid) {
        assert.throws(validate, (err) => {
          assert.equal(kindOf(err), "InvalidArgument");
          assert.match(
            String(err),
            /Resource "memory" has a reservation of 23622320128 but capacity of 11811160064/,
          );
          return true;
        });
      } else validate();
    });
  }

  it("refuses kube-reserved storage plus the nodefs threshold beyond the disk", () => {
    validateNodeAllocatable(storage("500Mi"), config(storage("100Mi"), {}, SignalNodeFsAvailable));
    assert.throws(() =>
      validateNodeAllocatable(storage("20Gi"), config(storage("20Gi"), {}, SignalNodeFsAvailable, hundredMi)),
    );
  });
});

describe("parseEvictionHard", () => {
  it("reads the defaults: a quantity for memory, float32 fractions for the filesystems", () => {
    const thresholds = parseEvictionHard(DefaultEvictionHard);
    assert.deepEqual(
      thresholds.map((t) => [
        t.signal,
        "quantity" in t.value ? t.value.quantity.value() : t.value.percentage,
      ]),
      [
        ["memory.available", 104_857_600n],
        ["nodefs.available", Math.fround(0.1)],
        ["nodefs.inodesFree", Math.fround(0.05)],
        ["imagefs.available", Math.fround(0.15)],
      ],
    );
  });

  it("drops 0% and 100%, and refuses unknown signals, zero amounts and more than 100%", () => {
    assert.deepEqual(parseEvictionHard({ "memory.available": "0%", "nodefs.available": "100%" }), []);
    const bad: Record<string, string>[] = [
      { "memory.free": "1Gi" },
      { "memory.available": "0" },
      { "nodefs.available": "120%" },
    ];
    for (const evictionHard of bad) {
      assert.throws(
        () => parseEvictionHard(evictionHard),
        (err) => kindOf(err) === "InvalidArgument",
      );
    }
  });
});

// A machine like the test VM, with 2Mi hugepages reserved.
const machine: NodeCapacity = {
  cpuCores: 2,
  memoryBytes: 25_276_502_016n,
  hugePages: [
    { pageSize: "2Mi", totalBytes: 512n * 1024n * 1024n },
    { pageSize: "1Gi", totalBytes: 0n },
  ],
  ephemeralStorageBytes: 270_553_174_016n,
  maxPids: 32768n,
};

describe("capacity", () => {
  it("reports CPU, memory, ephemeral storage and each hugepage size; pids only internally", () => {
    const reported = milli(nodeCapacity(machine));
    assert.deepEqual(reported, {
      cpu: 2000n,
      memory: 25_276_502_016_000n,
      "ephemeral-storage": 270_553_174_016_000n,
      "hugepages-2Mi": 536_870_912_000n,
      "hugepages-1Gi": 0n,
    });
    assert.deepEqual(milli(internalCapacity(machine)), { ...reported, pid: 32_768_000n });
  });
});

describe("nodeStatusAllocatable", () => {
  it("subtracts the reservation, and the hugepages from memory", () => {
    const capacity = nodeCapacity(machine);
    const nodeConfig: NodeAllocatableConfig = {
      ...config({}, {}, SignalMemoryAvailable),
      hardEvictionThresholds: parseEvictionHard(DefaultEvictionHard),
    };
    const allocatable = nodeStatusAllocatable(capacity, getNodeAllocatableReservation(capacity, nodeConfig));
    assert.equal(allocatable.memory?.value(), 25_276_502_016n - 104_857_600n - 536_870_912n);
    assert.equal(allocatable.cpu?.milliValue(), 2000n);
    // 10% of the disk as float32, truncated.
    assert.equal(
      allocatable["ephemeral-storage"]?.value(),
      270_553_174_016n - BigInt(Math.trunc(270_553_174_016 * Math.fround(0.1))),
    );
  });
});

describe("getCgroupConfig", () => {
  it("turns CPU into shares, memory and pids into limits and hugepages into per-size limits", () => {
    const list = parseResourceList({ cpu: "1500m", memory: "1Gi", pid: "4096", "hugepages-2Mi": "4Mi" });
    assert.deepEqual(getCgroupConfig(list), {
      cpuShares: 1536n,
      memory: 1_073_741_824n,
      pidsLimit: 4096n,
      hugePageLimit: new Map([[2_097_152n, 4_194_304n]]),
    });
    assert.equal(getCgroupConfig(undefined), undefined);
  });
});

describe("nodeAllocatableCgroupConfig", () => {
  const nodeConfig = (enforce: string[], cgroupsPerQOS = true) => ({
    cgroupRoot: "/",
    cgroupsPerQOS,
    nodeAllocatable: {
      ...config(resources("500m", "1Gi"), resources("", "512Mi"), SignalMemoryAvailable, hundredMi),
      enforceNodeAllocatable: enforce,
    },
  });

  it("limits kubepods to capacity minus the reservations (not the eviction threshold) when pods are enforced", () => {
    assert.deepEqual(nodeAllocatableCgroupConfig(machine, nodeConfig(["pods"])), {
      memory: 25_276_502_016n - 1_610_612_736n,
      cpuShares: 1536n,
      pidsLimit: 32768n,
      hugePageLimit: new Map([
        [2_097_152n, 536_870_912n],
        [1_073_741_824n, 0n],
      ]),
    });
  });

  it("uses the whole capacity when pods are not enforced", () => {
    for (const nc of [nodeConfig([]), nodeConfig(["pods"], false)]) {
      const values = nodeAllocatableCgroupConfig(machine, nc);
      assert.equal(values.memory, 25_276_502_016n);
      assert.equal(values.cpuShares, 2048n);
    }
  });
});
