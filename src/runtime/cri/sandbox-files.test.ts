import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { NamespaceMode, PodSandboxConfigSchema } from "../../cri/gen/runtime/v1/api_pb.js";
import { isMountPoint } from "../../lib/mount/mount.js";
import { parseDnsOptions, setupSandboxFiles, unmountSandboxFiles } from "./sandbox-files.js";

test("DNS options become resolv.conf lines; none at all is empty", () => {
  assert.equal(parseDnsOptions([], [], []), "");
  assert.equal(
    parseDnsOptions(["1.1.1.1", "8.8.8.8"], ["a.svc", "b"], ["ndots:5", "edns0"]),
    "search a.svc b\nnameserver 1.1.1.1\nnameserver 8.8.8.8\noptions ndots:5 edns0\n",
  );
  assert.equal(parseDnsOptions(["10.0.0.1"], [], []), "nameserver 10.0.0.1\n");
});

async function dirs(): Promise<{ base: string; rootDir: string; stateDir: string }> {
  const base = await mkdtemp(join(tmpdir(), "berth-sandbox-files-"));
  const rootDir = join(base, "root");
  const stateDir = join(base, "state");
  await mkdir(rootDir);
  await mkdir(stateDir);
  return { base, rootDir, stateDir };
}

test("a pod gets its hostname, the host's hosts, its DNS and a 64 MiB /dev/shm tmpfs", async () => {
  const d = await dirs();
  try {
    const config = create(PodSandboxConfigSchema, {
      hostname: "pod-a",
      dnsConfig: { servers: ["10.0.0.10"] },
    });
    const files = await setupSandboxFiles("p1", config, d);
    try {
      assert.equal(await readFile(files.hostname, "utf8"), "pod-a\n");
      assert.equal(await readFile(files.hosts, "utf8"), await readFile("/etc/hosts", "utf8"));
      assert.equal((await stat(files.hosts)).mode & 0o777, 0o644);
      assert.equal(await readFile(files.resolvConf, "utf8"), "nameserver 10.0.0.10\n");
      assert.equal(files.shm, join(d.stateDir, "shm"));
      assert.equal(await isMountPoint(files.shm), true);
      const line = (await readFile("/proc/self/mountinfo", "utf8"))
        .split("\n")
        .find((l) => l.includes(` ${files.shm} `));
      assert.match(line ?? "", / rw,nosuid,nodev,noexec,relatime .*- tmpfs shm rw,size=65536k$/);
    } finally {
      await unmountSandboxFiles(files);
      await unmountSandboxFiles(files);
    }
    assert.equal(await isMountPoint(files.shm), false);
  } finally {
    await rm(d.base, { recursive: true, force: true });
  }
});

test("with the host's IPC there is no shm of the pod; the host's name and resolv.conf fill in", async () => {
  const d = await dirs();
  try {
    const config = create(PodSandboxConfigSchema, {
      linux: { securityContext: { namespaceOptions: { ipc: NamespaceMode.NODE } } },
    });
    const files = await setupSandboxFiles("p2", config, d);
    assert.equal(files.shm, "");
    assert.equal(await readFile(files.hostname, "utf8"), `${hostname()}\n`);
    assert.equal(await readFile(files.resolvConf, "utf8"), await readFile("/etc/resolv.conf", "utf8"));
    await unmountSandboxFiles(files);
  } finally {
    await rm(d.base, { recursive: true, force: true });
  }
});

test("a failed setup removes what it made", async () => {
  const d = await dirs();
  try {
    await rm(d.stateDir, { recursive: true });
    // The state dir is gone and its path is now a file: the shm cannot be made.
    await writeFile(d.stateDir, "");
    await assert.rejects(
      setupSandboxFiles("p3", create(PodSandboxConfigSchema, {}), d),
      /failed to setup sandbox files for "p3"/,
    );
    for (const f of ["hostname", "hosts", "resolv.conf"]) {
      await assert.rejects(stat(join(d.rootDir, f)), { code: "ENOENT" });
    }
  } finally {
    await rm(d.base, { recursive: true, force: true });
  }
});
