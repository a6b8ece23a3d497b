import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import {
  CapabilitySchema,
  LinuxContainerResourcesSchema,
  SecurityProfile_ProfileType,
} from "../../cri/gen/runtime/v1/api_pb.js";
import { kindOf } from "../../lib/errdefs.js";
import {
  applyResources,
  currentCapabilities,
  defaultUnixCaps,
  defaultUnixSpec,
  generateSecurityProfile,
  getDevices,
  passthroughAnnotations,
  replaceOrAppendEnvValues,
  withCapabilities,
  withLinuxNamespace,
  withoutNamespace,
  withPrivileged,
  withSeccomp,
} from "./spec-opts.js";

test("env overrides replace by name, append new names, and a bare name unsets", () => {
  const cases: [string[], string[], string[]][] = [
    [["PATH=/bin", "A=1"], ["PATH=/x"], ["PATH=/x", "A=1"]],
    [["PATH=/bin"], ["B=2", "B=3"], ["PATH=/bin", "B=2", "B=3"]],
    [["PATH=/bin", "A=1"], ["A"], ["PATH=/bin"]],
    [["A=1"], ["C"], ["A=1"]],
    [[], ["X=a=b"], ["X=a=b"]],
  ];
  for (const [defaults, overrides, want] of cases) {
    assert.deepEqual(replaceOrAppendEnvValues(defaults, overrides), want, overrides.join(" "));
  }
});

test("the default spec has containerd's cgroup, namespaces and default capabilities", () => {
  const s = defaultUnixSpec("abc", "");
  assert.equal(s.linux?.cgroupsPath, "/k8s.io/abc");
  assert.equal(defaultUnixSpec("abc", "/kubepods/x/abc").linux?.cgroupsPath, "/kubepods/x/abc");
  assert.deepEqual(s.process?.capabilities?.bounding, defaultUnixCaps);
  assert.ok(!s.mounts?.some((m) => m.destination === "/run"));
  withLinuxNamespace(s, { type: "ipc", path: "/proc/1/ns/ipc" });
  withoutNamespace(s, "pid");
  withLinuxNamespace(s, { type: "cgroup" });
  assert.deepEqual(s.linux?.namespaces, [
    { type: "ipc", path: "/proc/1/ns/ipc" },
    { type: "uts" },
    { type: "mount" },
    { type: "network" },
    { type: "cgroup" },
  ]);
});

test("currentCapabilities names the bits of CapEff it knows", () => {
  assert.deepEqual(currentCapabilities("Name:\tx\nCapEff:\t0000000000000003\n"), [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
  ]);
  const all = currentCapabilities("CapEff:\t000001fffeffffff\n");
  assert.equal(all.length, 40);
  assert.ok(!all.includes("CAP_SYS_RESOURCE"));
  assert.equal(all.at(-1), "CAP_CHECKPOINT_RESTORE");
});

describe("CRI capabilities", () => {
  const caps = (add: string[], drop: string[]) => {
    const s = defaultUnixSpec("x", "");
    withCapabilities(s, create(CapabilitySchema, { addCapabilities: add, dropCapabilities: drop }), [
      "CAP_A",
      "CAP_B",
    ]);
    return s.process?.capabilities;
  };
  test("add appends, drop removes, names get CAP_ and upper case", () => {
    const c = caps(["net_admin"], ["CHOWN", "kill"]);
    assert.deepEqual(c?.bounding, [
      ...defaultUnixCaps.filter((n) => n !== "CAP_CHOWN" && n !== "CAP_KILL"),
      "CAP_NET_ADMIN",
    ]);
    assert.deepEqual(c?.effective, c?.bounding);
    assert.deepEqual(c?.permitted, c?.bounding);
  });
  test("ALL grants the runtime's capabilities, then drops apply", () => {
    assert.deepEqual(caps(["ALL"], ["A"])?.bounding, ["CAP_B"]);
    assert.deepEqual(caps(["all"], [])?.bounding, ["CAP_A", "CAP_B"]);
  });
  test("dropping ALL leaves only what is added, and empty sets are left out", () => {
    assert.deepEqual(caps(["CHOWN"], ["ALL"]), {
      bounding: ["CAP_CHOWN"],
      effective: ["CAP_CHOWN"],
      permitted: ["CAP_CHOWN"],
    });
    assert.deepEqual(caps([], ["ALL"]), {});
  });
});

test("privileged: all capabilities, no masked paths, writable sysfs and cgroupfs, no seccomp", () => {
  const s = defaultUnixSpec("x", "");
  s.mounts?.push({
    destination: "/sys/fs/cgroup",
    type: "cgroup",
    source: "cgroup",
    options: ["nosuid", "ro"],
  });
  if (s.linux) s.linux.seccomp = { defaultAction: "SCMP_ACT_ERRNO" };
  withPrivileged(s, ["CAP_X"]);
  assert.deepEqual(s.process?.capabilities?.bounding, ["CAP_X"]);
  assert.equal(s.linux?.maskedPaths, undefined);
  assert.equal(s.linux?.readonlyPaths, undefined);
  assert.equal(s.linux?.seccomp, undefined);
  for (const m of s.mounts ?? []) {
    if (m.type === "sysfs" || m.type === "cgroup")
      assert.ok(m.options?.includes("rw") && !m.options.includes("ro"));
  }
});

test("passthrough annotations follow Go's path.Match", () => {
  const ann = { "io.kubernetes.cri/x": "1", "example.com/a": "2", "example.com/b/c": "3", other: "4" };
  assert.deepEqual(passthroughAnnotations(ann, []), {});
  assert.deepEqual(passthroughAnnotations(ann, ["example.com/*"]), { "example.com/a": "2" });
  assert.deepEqual(passthroughAnnotations(ann, ["othe?", "io.kubernetes.cri/[xy]"]), {
    "io.kubernetes.cri/x": "1",
    other: "4",
  });
  assert.deepEqual(passthroughAnnotations(ann, ["[unclosed"]), {});
});

describe("resources", () => {
  const opts = {
    swapControllerAvailable: true,
    disableHugetlbController: false,
    hugetlbControllerAvailable: true,
  };
  const r = (init: Parameters<typeof create<typeof LinuxContainerResourcesSchema>>[1]) =>
    create(LinuxContainerResourcesSchema, init);
  test("zero means unset; swap follows the memory limit unless given", () => {
    assert.deepEqual(applyResources(undefined, r({}), opts), { cpu: {}, memory: {} });
    assert.deepEqual(applyResources(undefined, r({ memoryLimitInBytes: 100n, cpuShares: 2n }), opts), {
      cpu: { shares: 2 },
      memory: { limit: 100, swap: 100 },
    });
    assert.deepEqual(
      applyResources(undefined, r({ memoryLimitInBytes: 100n, memorySwapLimitInBytes: 300n }), opts),
      {
        cpu: {},
        memory: { limit: 100, swap: 300 },
      },
    );
    assert.deepEqual(
      applyResources(undefined, r({ memoryLimitInBytes: 100n }), { ...opts, swapControllerAvailable: false }),
      { cpu: {}, memory: { limit: 100 } },
    );
  });
  test("an update keeps what it does not set", () => {
    const base = { cpu: { shares: 5, quota: 1000 }, devices: [{ allow: false, access: "rwm" }] };
    const out = applyResources(
      base,
      r({ cpuQuota: 2000n, cpusetCpus: "0-1", unified: { "memory.high": "1" } }),
      opts,
    );
    assert.deepEqual(out, {
      cpu: { shares: 5, quota: 2000, cpus: "0-1" },
      memory: {},
      devices: [{ allow: false, access: "rwm" }],
      unified: { "memory.high": "1" },
    });
    assert.deepEqual(base.cpu, { shares: 5, quota: 1000 });
  });
  test("hugepage limits only with the hugetlb controller enabled and present", () => {
    const hp = r({ hugepageLimits: [{ pageSize: "2MB", limit: 4096n }] });
    assert.deepEqual(applyResources(undefined, hp, opts).hugepageLimits, [{ pageSize: "2MB", limit: 4096 }]);
    assert.equal(
      applyResources(undefined, hp, { ...opts, disableHugetlbController: true }).hugepageLimits,
      undefined,
    );
    assert.equal(
      applyResources(undefined, hp, { ...opts, hugetlbControllerAvailable: false }).hugepageLimits,
      undefined,
    );
  });
});

describe("seccomp choice", () => {
  const { RuntimeDefault, Unconfined, Localhost } = SecurityProfile_ProfileType;
  test("the deprecated strings map to profiles", () => {
    assert.deepEqual(generateSecurityProfile("runtime/default"), { type: RuntimeDefault, localhostRef: "" });
    assert.deepEqual(generateSecurityProfile("docker/default"), { type: RuntimeDefault, localhostRef: "" });
    assert.deepEqual(generateSecurityProfile("unconfined"), { type: Unconfined, localhostRef: "" });
    assert.deepEqual(generateSecurityProfile("localhost//p.json"), {
      type: Localhost,
      localhostRef: "/p.json",
    });
    assert.throws(() => generateSecurityProfile("bogus"), /invalid profile "bogus"/);
  });
  test("RuntimeDefault follows the capabilities; privileged and Unconfined get none", async () => {
    const s = defaultUnixSpec("x", "");
    await withSeccomp(s, { type: RuntimeDefault, localhostRef: "" }, false, true);
    assert.equal(s.linux?.seccomp?.defaultAction, "SCMP_ACT_ERRNO");
    for (const [p, privileged] of [
      [{ type: RuntimeDefault, localhostRef: "" }, true],
      [{ type: Unconfined, localhostRef: "" }, false],
      [undefined, false],
    ] as const) {
      const t = defaultUnixSpec("x", "");
      await withSeccomp(t, p, privileged, true);
      assert.equal(t.linux?.seccomp, undefined);
    }
  });
  test("without kernel seccomp only Unconfined is accepted; a stray LocalhostRef is refused", async () => {
    const s = defaultUnixSpec("x", "");
    await withSeccomp(s, { type: Unconfined, localhostRef: "" }, false, false);
    const err = await withSeccomp(s, { type: RuntimeDefault, localhostRef: "" }, false, false).catch(
      (e) => e,
    );
    assert.match(err.message, /seccomp is not supported/);
    assert.equal(kindOf(err), "Unknown");
    await assert.rejects(
      withSeccomp(s, { type: RuntimeDefault, localhostRef: "x" }, false, true),
      /LocalhostRef/,
    );
  });
});

test("devices: a node by itself or every node under a directory, named for the container", async () => {
  assert.deepEqual(await getDevices("/dev/null", "/dev/xnull"), [
    { path: "/dev/xnull", type: "c", major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 },
  ]);
  const all = await getDevices("/dev", "");
  assert.ok(all.some((d) => d.path === "/dev/zero" && d.major === 1 && d.minor === 5));
  assert.ok(!all.some((d) => d.path.startsWith("/dev/pts/") || d.path === "/dev/console"));
  await assert.rejects(getDevices("/etc/hostname", ""), /not a device node/);
});
