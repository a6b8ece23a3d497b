import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import {
  binaryQuantity,
  detectNodeCapacity,
  detectNodeFacts,
  hugePageDirSize,
  parseMeminfo,
} from "./node-facts.js";

describe("parseMeminfo", () => {
  it("reads kB lines as bytes and plain counts as they are", () => {
    const info = parseMeminfo(
      "MemTotal:       24684084 kB\nSwapTotal:             0 kB\nHugePages_Total:       4\n",
    );
    assert.deepEqual(Object.fromEntries(info), {
      MemTotal: 24_684_084n * 1024n,
      SwapTotal: 0n,
      HugePages_Total: 4n,
    });
  });
});

describe("hugepage sizes", () => {
  it("reads the size of a /sys/kernel/mm/hugepages directory and names it as a quantity", () => {
    assert.equal(hugePageDirSize("hugepages-2048kB"), 2_097_152n);
    assert.equal(hugePageDirSize("hugepages-1048576kB"), 1_073_741_824n);
    assert.equal(hugePageDirSize("nr_hugepages"), undefined);
    assert.deepEqual([2_097_152n, 1_073_741_824n, 65_536n, 1536n, 0n].map(binaryQuantity), [
      "2Mi",
      "1Gi",
      "64Ki",
      "1536",
      "0",
    ]);
  });
});

describe("detectNodeFacts", () => {
  it("reads this host as the tools do", async () => {
    const facts = await detectNodeFacts();
    const meminfo = parseMeminfo(readFileSync("/proc/meminfo", "utf8"));
    assert.equal(facts.nodeName, execFileSync("hostname", { encoding: "utf8" }).trim().toLowerCase());
    assert.equal(facts.pageSizeBytes, Number(execFileSync("getconf", ["PAGESIZE"], { encoding: "utf8" })));
    assert.equal(facts.memoryCapacityBytes, meminfo.get("MemTotal"));
    assert.equal(facts.swapCapacityBytes, meminfo.get("SwapTotal"));
    const unified = readFileSync("/proc/mounts", "utf8").includes(" /sys/fs/cgroup cgroup2 ");
    assert.equal(facts.cgroupVersion, unified ? "v2" : "v1");
    const sizes = execFileSync("ls", ["/sys/kernel/mm/hugepages"], { encoding: "utf8" })
      .split("\n")
      .filter(Boolean);
    assert.deepEqual(
      [...facts.hugePageSizes].sort(),
      sizes.map((s) => binaryQuantity(hugePageDirSize(s) ?? 0n)).sort(),
    );
  });
});

describe("detectNodeCapacity", () => {
  it("counts the online CPUs and caps pids at the lower kernel limit", async () => {
    const capacity = await detectNodeCapacity("/var/lib/berth-no-such-dir/kubelet");
    assert.equal(
      capacity.cpuCores,
      Number(execFileSync("getconf", ["_NPROCESSORS_ONLN"], { encoding: "utf8" })),
    );
    const pidMax = BigInt(readFileSync("/proc/sys/kernel/pid_max", "utf8").trim());
    const threadsMax = BigInt(readFileSync("/proc/sys/kernel/threads-max", "utf8").trim());
    assert.equal(capacity.maxPids, pidMax < threadsMax ? pidMax : threadsMax);
    // The root filesystem, found through the missing directory's nearest existing ancestor.
    const df = execFileSync("df", ["--output=size", "-B1", "/var/lib"], { encoding: "utf8" })
      .split("\n")[1]
      ?.trim();
    assert.equal(capacity.ephemeralStorageBytes, BigInt(df ?? "0"));
  });
});
