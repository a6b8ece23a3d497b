import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { kindOf } from "../../lib/errdefs.js";
import {
  type CgroupLayout,
  type CgroupName,
  type CgroupWrite,
  cgroupNameToCgroupfs,
  cgroupWrites,
  createCgroupPath,
  newCgroupName,
  parseCgroupfsToCgroupName,
  parseCgroupV1Mounts,
  RootCgroupName,
} from "./cgroup-manager.js";
import type { ResourceConfig } from "./helpers-linux.js";

describe("cgroup names", () => {
  // cgroup_manager_linux_test.go TestCgroupNameToCgroupfs, plus the pod cgroup the kubelet hands to CRI.
  const toCgroupfs: [CgroupName, string][] = [
    [RootCgroupName, "/"],
    [newCgroupName(RootCgroupName, "Burstable"), "/Burstable"],
    [
      newCgroupName(RootCgroupName, "kubepods", "burstable", "pod1234-abcd"),
      "/kubepods/burstable/pod1234-abcd",
    ],
    [newCgroupName(parseCgroupfsToCgroupName("/berth-root"), "kubepods"), "/berth-root/kubepods"],
  ];
  for (const [name, path] of toCgroupfs) {
    it(`${JSON.stringify(name)} is ${path}`, () => {
      assert.equal(cgroupNameToCgroupfs(name), path);
      assert.deepEqual(parseCgroupfsToCgroupName(path), name);
    });
  }

  it("parses the root and keeps a trailing empty part as the kubelet does", () => {
    assert.deepEqual(parseCgroupfsToCgroupName("/"), []);
    assert.deepEqual(parseCgroupfsToCgroupName(""), []);
    assert.deepEqual(parseCgroupfsToCgroupName("/a/b/"), ["a", "b", ""]);
  });

  it("refuses '/' and '_' in a component, which the systemd driver could not map back", () => {
    for (const bad of ["a/b", "pod_1"]) {
      assert.throws(
        () => newCgroupName(RootCgroupName, bad),
        (err) => kindOf(err) === "InvalidArgument",
      );
    }
  });
});

describe("parseCgroupV1Mounts", () => {
  const selfCgroup = [
    "9:name=systemd:/",
    "8:pids:/",
    "4:memory:/user.slice",
    "3:cpu,cpuacct:/",
    "2:cpuset:/",
    "0::/user.slice/session-1.scope",
    "",
  ].join("\n");
  const line = (id: number, mountpoint: string, fstype: string, superOptions: string) =>
    `${id} 23 0:${id} / ${mountpoint} rw,nosuid - ${fstype} ${fstype} ${superOptions}`;

  it("maps each known controller to its mount, co-mounted ones to the same, and name=systemd to systemd", () => {
    const mountinfo = [
      line(25, "/sys/fs/cgroup", "tmpfs", "ro,mode=755"),
      line(26, "/sys/fs/cgroup/unified", "cgroup2", "rw,nsdelegate"),
      line(27, "/sys/fs/cgroup/systemd", "cgroup", "rw,xattr,name=systemd"),
      line(28, "/sys/fs/cgroup/cpu,cpuacct", "cgroup", "rw,cpu,cpuacct"),
      line(29, "/sys/fs/cgroup/memory", "cgroup", "rw,memory"),
      line(30, "/sys/fs/cgroup/pids", "cgroup", "rw,pids"),
      line(31, "/sys/fs/cgroup/cpuset", "cgroup", "rw,cpuset"),
      // A second mount of a hierarchy (bind-mounted elsewhere): the shorter path wins.
      line(32, "/var/lib/x/sys/fs/cgroup/memory", "cgroup", "rw,memory"),
      line(33, "/mnt/with\\040space", "cgroup", "rw,net_cls"),
    ].join("\n");
    assert.deepEqual(Object.fromEntries(parseCgroupV1Mounts(mountinfo, selfCgroup)), {
      systemd: "/sys/fs/cgroup/systemd",
      cpu: "/sys/fs/cgroup/cpu,cpuacct",
      cpuacct: "/sys/fs/cgroup/cpu,cpuacct",
      memory: "/sys/fs/cgroup/memory",
      pids: "/sys/fs/cgroup/pids",
      cpuset: "/sys/fs/cgroup/cpuset",
    });
  });

  it("unescapes octal escapes of a mount point", () => {
    const mountinfo = line(33, "/mnt/with\\040space", "cgroup", "rw,pids");
    assert.equal(parseCgroupV1Mounts(mountinfo, "8:pids:/\n").get("pids"), "/mnt/with space");
  });
});

describe("cgroupWrites", () => {
  const v1: CgroupLayout = { mode: "hybrid", hugetlb: false, hugePageSizes: ["2Mi", "1Gi"] };
  const v2: CgroupLayout = { mode: "unified", hugetlb: false, hugePageSizes: ["2Mi", "1Gi"] };
  const files = (writes: CgroupWrite[]) =>
    writes.map((w) => `${w.subsystem}:${w.file}=${w.value}${w.optional ? "?" : ""}`);

  // A Guaranteed pod with 500m CPU and 128Mi memory and a pod pids limit.
  const guaranteed: ResourceConfig = {
    cpuShares: 512n,
    cpuQuota: 50_000n,
    cpuPeriod: 100_000n,
    memory: 134_217_728n,
    pidsLimit: 1024n,
    hugePageLimit: new Map(),
  };

  it("v1: memory, then cpu shares, period and quota, then pids, as runc's fs manager writes them", () => {
    assert.deepEqual(files(cgroupWrites(guaranteed, v1)), [
      "memory:memory.limit_in_bytes=134217728",
      "cpu:cpu.shares=512",
      "cpu:cpu.cfs_period_us=100000",
      "cpu:cpu.cfs_quota_us=50000",
      "pids:pids.max=1024",
    ]);
  });

  it("v2: pids.max, memory.max, cpu.weight from shares, cpu.max as quota and period", () => {
    assert.deepEqual(files(cgroupWrites(guaranteed, v2)), [
      ":pids.max=1024",
      ":memory.max=134217728",
      ":cpu.weight=20",
      ":cpu.max=50000 100000",
    ]);
  });

  it("leaves unset and zero values alone, as libcontainer does", () => {
    assert.deepEqual(
      cgroupWrites({ cpuShares: 0n, memory: 0n, cpuQuota: 0n, cpuPeriod: 0n, pidsLimit: 0n }, v1),
      [],
    );
    assert.deepEqual(cgroupWrites({}, v2), []);
  });

  it("writes an unlimited quota as -1 on v1 and as max on v2; pids -1 as max", () => {
    const unlimited: ResourceConfig = { cpuShares: 2n, cpuQuota: -1n, cpuPeriod: 100_000n, pidsLimit: -1n };
    assert.deepEqual(files(cgroupWrites(unlimited, v1)), [
      "cpu:cpu.shares=2",
      "cpu:cpu.cfs_period_us=100000",
      "cpu:cpu.cfs_quota_us=-1",
      "pids:pids.max=max",
    ]);
    assert.deepEqual(files(cgroupWrites(unlimited, v2)), [
      ":pids.max=max",
      ":cpu.weight=1",
      ":cpu.max=max 100000",
    ]);
  });

  it("maps the largest shares to the largest weight (262144 → 10000)", () => {
    assert.deepEqual(files(cgroupWrites({ cpuShares: 262_144n }, v2)), [":cpu.weight=10000"]);
  });

  it("limits every other hugepage size to 0, with the reservation files where the kernel has them", () => {
    const config: ResourceConfig = { hugePageLimit: new Map([[2n * 1024n * 1024n, 4n * 1024n * 1024n]]) };
    assert.deepEqual(files(cgroupWrites(config, { ...v1, hugetlb: true })), [
      "hugetlb:hugetlb.2MB.limit_in_bytes=4194304",
      "hugetlb:hugetlb.2MB.rsvd.limit_in_bytes=4194304?",
      "hugetlb:hugetlb.1GB.limit_in_bytes=0",
      "hugetlb:hugetlb.1GB.rsvd.limit_in_bytes=0?",
    ]);
    assert.deepEqual(files(cgroupWrites(config, { ...v2, hugetlb: true })), [
      ":hugetlb.2MB.max=4194304",
      ":hugetlb.2MB.rsvd.max=4194304?",
      ":hugetlb.1GB.max=0",
      ":hugetlb.1GB.rsvd.max=0?",
    ]);
  });

  it("skips hugepages where the hugetlb controller is missing (a v1 host without its mount)", () => {
    assert.deepEqual(cgroupWrites({ hugePageLimit: new Map([[2_097_152n, 0n]]) }, v1), []);
  });

  it("writes the unified files (MemoryQoS's memory.min) on v2 only, last", () => {
    const config: ResourceConfig = { memory: 1024n, unified: { "memory.min": "512" } };
    assert.deepEqual(files(cgroupWrites(config, v2)), [":memory.max=1024", ":memory.min=512"]);
    assert.deepEqual(files(cgroupWrites(config, v1)), ["memory:memory.limit_in_bytes=1024"]);
  });
});

describe("createCgroupPath", () => {
  // The test VM has no cgroup v2-only mount, so this walks a directory imitating one: the root lists its
  // controllers, and the levels that already exist carry a cgroup.subtree_control file.
  async function imitation(): Promise<string> {
    const root = await mkdtemp(join(tmpdir(), "berth-cgroup2-"));
    await writeFile(join(root, "cgroup.controllers"), "cpuset cpu memory pids\n");
    await writeFile(join(root, "cgroup.subtree_control"), "");
    await mkdir(join(root, "kubepods", "burstable"), { recursive: true });
    for (const level of ["kubepods", "kubepods/burstable"]) {
      await writeFile(join(root, level, "cgroup.subtree_control"), "");
    }
    return root;
  }
  const enabled = "+cpuset +cpu +memory +pids";

  it("enables the root's controllers in the root and every level above the leaf, not in the leaf", async () => {
    const root = await imitation();
    try {
      await createCgroupPath(root, "/kubepods/burstable/pod1");
      for (const level of ["", "kubepods", "kubepods/burstable"]) {
        assert.equal(await readFile(join(root, level, "cgroup.subtree_control"), "utf8"), enabled, level);
      }
      assert.deepEqual(await readdir(join(root, "kubepods/burstable/pod1")), []);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it("removes the levels it made when a later level fails", async () => {
    const root = await imitation();
    try {
      await assert.rejects(createCgroupPath(root, `/kubepods/new/${"x".repeat(300)}`), /ENAMETOOLONG/);
      assert.deepEqual((await readdir(join(root, "kubepods"))).sort(), [
        "burstable",
        "cgroup.subtree_control",
      ]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
