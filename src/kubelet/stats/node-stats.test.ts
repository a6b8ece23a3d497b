import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  memoryStatsOf,
  networkStatsOf,
  parseBootTime,
  parseProcStatCpu,
  readNodeCpu,
  readNodeMemory,
  readRlimitStats,
} from "./node-stats.js";

const procStat = `cpu  1278619 7 363261 2291254 11976 3 7781 860 0 0
cpu0 630647 0 178391 1160173 4740 0 1930 418 0 0
intr 1 2 3
btime 1795718942
processes 12345
`;

const meminfo = `MemTotal:        4000000 kB
MemFree:         1000000 kB
MemAvailable:    2500000 kB
Inactive(file):   500000 kB
AnonPages:        800000 kB
`;

const netDev = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 122775213879 4301225    0    0    0     0          0         0 122775213879 4301225    0    0    0     0       0          0
  eth0: 2041481686   47521    3    0    0     0          0         0  3260146   30430    4    0    0     0       0          0
berth0:  380900    5540    0    0    0     0          0      5540    43424     396    0    9    0     0       0          0
vethab12:  1000    10    0    0    0     0          0      0    2000     20    0    0    0     0       0          0
`;

describe("the node's numbers from /proc", () => {
  test("CPU: busy ticks (not idle or iowait) in nanoseconds", () => {
    // user + nice + system + irq + softirq + steal, at 100 ticks a second
    assert.equal(parseProcStatCpu(procStat), (1278619 + 7 + 363261 + 3 + 7781 + 860) * 10_000_000);
    assert.equal(parseBootTime(procStat), 1795718942_000);
    assert.throws(() => parseProcStatCpu("intr 1\n"), /no "cpu" line/);
  });

  test("memory: the working set leaves inactive file pages out; available is capacity minus it", () => {
    const m = memoryStatsOf(meminfo, "pgfault 42\npgmajfault 7\n", Date.UTC(2024, 0, 2, 3, 4, 5, 678));
    const kib = 1024;
    assert.deepEqual(m, {
      time: "2024-01-02T03:04:05Z",
      availableBytes: (4000000 - 2500000) * kib,
      usageBytes: 3000000 * kib,
      workingSetBytes: 2500000 * kib,
      rssBytes: 800000 * kib,
      pageFaults: 42,
      majorPageFaults: 7,
    });
  });

  test("network: every interface but loopback and veths, eth0 inline", () => {
    const n = networkStatsOf(netDev, 0);
    assert.deepEqual(n, {
      time: "1970-01-01T00:00:00Z",
      name: "eth0",
      rxBytes: 2041481686,
      rxErrors: 3,
      txBytes: 3260146,
      txErrors: 4,
      interfaces: [
        { name: "eth0", rxBytes: 2041481686, rxErrors: 3, txBytes: 3260146, txErrors: 4 },
        { name: "berth0", rxBytes: 380900, rxErrors: 0, txBytes: 43424, txErrors: 0 },
      ],
    });
    assert.equal(networkStatsOf(netDev.replace("eth0", "ens3"), 0).name, "", "no eth0: no inline numbers");
  });

  test("this machine's /proc reads", async () => {
    const cpu = await readNodeCpu();
    assert.ok(cpu.usageCoreNanoSeconds > 0);
    const mem = await readNodeMemory();
    assert.ok((mem.workingSetBytes ?? 0) > 0 && (mem.availableBytes ?? 0) > 0);
    const r = await readRlimitStats();
    assert.ok((r.maxpid ?? 0) > 0 && (r.curproc ?? 0) > 0);
  });
});
