import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { defaultProfile, kernelAtLeast, loadProfile } from "./seccomp-default.js";
import { defaultUnixCaps } from "./spec-opts.js";

test("kernelAtLeast compares major.minor of a uname release", () => {
  const cases: [string, boolean][] = [
    ["6.1.0-18-amd64", true],
    ["4.8.0", true],
    ["4.7.10", false],
    ["3.19", false],
    ["5.0", true],
    ["garbage", false],
  ];
  for (const [release, want] of cases) assert.equal(kernelAtLeast(release, 4, 8), want, release);
});

test("the default profile denies by default and limits clone without CAP_SYS_ADMIN", () => {
  const p = defaultProfile(defaultUnixCaps, "6.1.0");
  assert.equal(p.defaultAction, "SCMP_ACT_ERRNO");
  assert.deepEqual(p.architectures, ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
  const names = p.syscalls?.map((s) => s.names.join(","));
  assert.equal(p.syscalls?.[0]?.names.length, 349);
  assert.ok(p.syscalls?.[0]?.names.includes("read"));
  assert.ok(!p.syscalls?.[0]?.names.includes("mount"));
  assert.deepEqual(names?.slice(1), [
    "personality",
    "personality",
    "personality",
    "personality",
    "personality",
    "ptrace",
    "arch_prctl,modify_ldt",
    "chroot",
    "clone",
    "clone3",
  ]);
  assert.deepEqual(p.syscalls?.at(-2)?.args, [{ index: 0, value: 0x7e020000, op: "SCMP_CMP_MASKED_EQ" }]);
  assert.deepEqual(p.syscalls?.at(-1), { names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: 38 });
});

test("capabilities in the bounding set allow their syscalls, in bounding order", () => {
  const p = defaultProfile(["CAP_SYS_PTRACE", "CAP_SYS_ADMIN", "CAP_BPF"], "4.4.0");
  const names = p.syscalls?.slice(6).map((s) => s.names[0]);
  // No plain ptrace before 4.8, and no clone limits with CAP_SYS_ADMIN.
  assert.deepEqual(names, ["arch_prctl", "kcmp", "bpf", "bpf"]);
});

test("a Localhost profile is the file's JSON; a missing or broken file is an error", async () => {
  const dir = await mkdtemp(join(tmpdir(), "berth-seccomp-"));
  try {
    const good = join(dir, "good.json");
    await writeFile(good, JSON.stringify({ defaultAction: "SCMP_ACT_ALLOW" }));
    assert.deepEqual(await loadProfile(good), { defaultAction: "SCMP_ACT_ALLOW" });
    const bad = join(dir, "bad.json");
    await writeFile(bad, "{");
    await assert.rejects(loadProfile(bad), /decoding seccomp profile failed/);
    await assert.rejects(loadProfile(join(dir, "none.json")), /cannot load seccomp profile/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
