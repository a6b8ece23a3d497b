// Integration test of the private containerd harness (src/testenv/containerd/): a real
// containerd 1.6 with its CRI plugin, a container run through ctr, a CRI pod on the
// instance's bridge network with its sandbox image pulled from a local plain-HTTP
// registry, then stop() and a check that nothing of it is left on the machine.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { newRemoteRuntimeService, type RuntimeServiceClient } from "../src/cri/remote-runtime.js";
import { type CriConnection, dialCri } from "../src/cri/transport.js";
import type { BuiltImage } from "../src/local-images/oci-image-builder.js";
import { cleanupStale } from "../src/testenv/containerd/cleanup.js";
import { type Containerd, startContainerd } from "../src/testenv/containerd/containerd.js";
import { injectCtrFlags } from "../src/testenv/containerd/ctr.js";
import { buildTestImages, defaultImagesDir } from "../src/testenv/images.js";
import { type RegistryWithTestImages, startRegistryWithTestImages } from "../src/testenv/registry.js";

/** Processes whose command line mentions `text`. */
function procsMentioning(text: string): string[] {
  const out: string[] = [];
  for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    let cmd = "";
    try {
      cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
    } catch {}
    if (cmd.includes(text) && Number(pid) !== process.pid) out.push(`${pid} ${cmd.replaceAll("\0", " ")}`);
  }
  return out;
}
const skip =
  process.getuid?.() !== 0
    ? "needs root"
    : !fs.existsSync("/usr/bin/containerd")
      ? "containerd is not installed"
      : false;

describe("containerd test harness", { skip }, () => {
  let reg: RegistryWithTestImages;
  let ctd: Containerd;
  let conn: CriConnection;
  let runtime: RuntimeServiceClient;
  let podId = "";

  before(async () => {
    reg = await startRegistryWithTestImages();
    ctd = await startContainerd({ sandboxImage: reg.pause.ref, registryHosts: [reg.registry.host] });
    conn = dialCri(ctd.endpoint);
    runtime = newRemoteRuntimeService(conn);
  });

  after(async () => {
    conn?.close();
    // Normally already stopped by the last test; stop() is idempotent.
    await ctd?.stop();
    await reg?.registry.stop();
  });

  it("runs Debian's containerd 1.6.20 privately, with the CRI plugin loaded", async () => {
    assert.equal(ctd.endpoint, `unix://${ctd.socket}`);
    assert.ok(ctd.socket.startsWith(`${ctd.state}/`));
    assert.ok(ctd.root.startsWith(`${ctd.baseDir}/`) && ctd.state.startsWith(`${ctd.baseDir}/`));
    assert.match(ctd.bridge, /^berthc\d+$/);
    assert.ok(ctd.bridge.length <= 15);

    const version = await ctd.ctr(["version"]);
    const server = version.slice(version.indexOf("Server:"));
    assert.match(server, /Version:\s+1\.6\.20\b/);

    const plugins = await ctd.ctr(["plugins", "ls"]);
    assert.match(plugins, /^io\.containerd\.grpc\.v1\s+cri\s+\S+\s+ok\s*$/m);
    assert.match(plugins, /^io\.containerd\.snapshotter\.v1\s+overlayfs\s+\S+\s+ok\s*$/m);

    // The CRI answers on the same socket.
    const v = await runtime.version({ version: "v1" });
    assert.equal(v.runtimeName, "containerd");
    assert.match(v.runtimeVersion, /^1\.6\.20/);
  });

  it("runs a container from an imported OCI archive with ctr", async () => {
    const images = await buildTestImages(defaultImagesDir());
    const busybox = images.find((i) => i.name === "busybox");
    assert.ok(busybox);
    await ctd.ctr(["-n", "k8s.io", "images", "import", busybox.archivePath]);
    const out = await ctd.ctr(["-n", "k8s.io", "run", "--rm", busybox.containerdName, "t1", "echo", "hello"]);
    assert.equal(out.trim(), "hello");
    // Left running on purpose: stop() must clean it up.
    await ctd.ctr(["-n", "k8s.io", "run", "-d", busybox.containerdName, "t2", "sleep", "3600"]);
    const runc = fs.readdirSync(path.join(ctd.runcRoot, "k8s.io"));
    assert.ok(runc.includes("t2"), `t2 is in the instance's own runc root (${runc.join(", ")})`);
  });

  it("pulls the pause image from a plain-HTTP registry and runs a CRI pod on its own bridge", async () => {
    const resp = await runtime.runPodSandbox({
      config: { metadata: { name: "p1", uid: "uid-p1", namespace: "default", attempt: 0 }, hostname: "p1" },
    });
    podId = resp.podSandboxId;
    assert.match(podId, /^[0-9a-f]{64}$/);

    const { status } = await runtime.podSandboxStatus({ podSandboxId: podId });
    const ip = status?.network?.ip ?? "";
    const prefix = ctd.podCidr.split(".").slice(0, 3).join(".");
    assert.ok(ip.startsWith(`${prefix}.`), `pod IP ${ip} is in ${ctd.podCidr}`);
    assert.ok(fs.existsSync(`/sys/class/net/${ctd.bridge}`));

    const mounts = fs.readFileSync("/proc/self/mountinfo", "utf8");
    assert.match(mounts, new RegExp(`${ctd.state}/io\\.containerd\\.grpc\\.v1\\.cri/netns/cni-`));
    // No cgroup parent in the config: runc puts the sandbox at /<namespace>/<id>.
    assert.ok(
      fs.existsSync(`/sys/fs/cgroup/memory/k8s.io/${podId}`) ||
        fs.existsSync(`/sys/fs/cgroup/k8s.io/${podId}`),
    );

    const left = await ctd.leftovers();
    for (const kind of ["process", "mount", "netns", "link", "cgroup", "file"]) {
      assert.ok(
        left.some((l) => l.kind === kind),
        `while running, leftovers() reports a ${kind}`,
      );
    }
  });

  it("stop() removes everything and is idempotent", async () => {
    const base = ctd.baseDir;
    const socket = ctd.socket;
    await ctd.stop();
    assert.deepEqual(await ctd.leftovers(), []);
    assert.equal(fs.existsSync(base), false);
    assert.equal(fs.existsSync(`/sys/class/net/${ctd.bridge}`), false);
    assert.equal(fs.readFileSync("/proc/self/mountinfo", "utf8").includes(base), false);
    assert.deepEqual(procsMentioning(socket), []);
    for (const hier of fs.readdirSync("/sys/fs/cgroup")) {
      assert.equal(
        fs.existsSync(`/sys/fs/cgroup/${hier}/k8s.io/${podId}`),
        false,
        `${hier} cgroup of the pod`,
      );
      assert.equal(fs.existsSync(`/sys/fs/cgroup/${hier}/k8s.io/t2`), false, `${hier} cgroup of t2`);
    }
    await ctd.stop();
  });
});

describe("containerd harness cleanup after a crash", { skip }, () => {
  let reg: RegistryWithTestImages;
  let busybox: BuiltImage;

  before(async () => {
    reg = await startRegistryWithTestImages();
    busybox = reg.busybox.image;
  });
  after(async () => {
    await reg?.registry.stop();
  });

  it("stop() cleans up after containerd was SIGKILLed with a pod and a container running", async () => {
    const ctd = await startContainerd({ sandboxImage: reg.pause.ref, registryHosts: [reg.registry.host] });
    const conn = dialCri(ctd.endpoint);
    try {
      await ctd.ctr(["-n", "k8s.io", "images", "import", busybox.archivePath]);
      await ctd.ctr(["-n", "k8s.io", "run", "-d", busybox.containerdName, "c1", "sleep", "3600"]);
      await newRemoteRuntimeService(conn).runPodSandbox({
        config: { metadata: { name: "p2", uid: "uid-p2", namespace: "default" } },
      });
      process.kill(ctd.pid, "SIGKILL");
    } finally {
      conn.close();
      await ctd.stop();
    }
    assert.deepEqual(await ctd.leftovers(), []);
    assert.equal(fs.existsSync(ctd.baseDir), false);
  });

  it("cleanupStale() cleans what a process that never called stop() left behind", async () => {
    const parentDir = fs.mkdtempSync(path.join(os.tmpdir(), "berth-ctd-stale-"));
    try {
      const harness = new URL("../src/testenv/containerd/containerd.js", import.meta.url).href;
      const script = `
        const { startContainerd } = await import(${JSON.stringify(harness)});
        const ctd = await startContainerd({ parentDir: ${JSON.stringify(parentDir)}, sandboxImage: "x" });
        await ctd.ctr(["images", "import", ${JSON.stringify(busybox.archivePath)}]);
        await ctd.ctr(["run", "-d", ${JSON.stringify(busybox.containerdName)}, "c1", "sleep", "3600"]);
        console.log(ctd.baseDir);
        process.exit(0);
      `;
      const res = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
      assert.equal(res.status, 0, res.stderr);
      const base = res.stdout.trim();
      assert.ok(base.startsWith(`${parentDir}/`), res.stdout);
      assert.ok(fs.existsSync(base));
      assert.ok(procsMentioning(base).length > 0, "the orphaned shim is still running");

      assert.deepEqual(await cleanupStale(parentDir), [base]);
      assert.equal(fs.existsSync(base), false);
      assert.deepEqual(procsMentioning(base), []);
      assert.equal(fs.readFileSync("/proc/self/mountinfo", "utf8").includes(base), false);
    } finally {
      fs.rmSync(parentDir, { recursive: true, force: true });
    }
  });
});

describe("containerd start failures", { skip }, () => {
  it("gives a readable error with the log tail and leaves nothing behind", async () => {
    const parentDir = fs.mkdtempSync(path.join(os.tmpdir(), "berth-ctd-fail-"));
    try {
      await assert.rejects(
        startContainerd({
          parentDir,
          sandboxImage: "berth.test/pause:3.9",
          extraConfig: { version: "two" },
        }),
        (err: Error) => {
          assert.match(
            err.message,
            /^containerd failed to start \(.*berth-containerd-\d+\): containerd exited early/,
          );
          assert.match(err.message, /--- containerd\.log \(last lines\) ---\n[\s\S]*toml/i);
          return true;
        },
      );
      assert.deepEqual(fs.readdirSync(parentDir), []);
      assert.deepEqual(await cleanupStale(parentDir), []);
    } finally {
      fs.rmSync(parentDir, { recursive: true, force: true });
    }
  });
});

describe("ctr flag injection", () => {
  const rec = { runcRoot: "/b/state/runc", fifoDir: "/b/state/fifo", hostsDir: "/b/certs.d" };
  it("gives run the instance's runc root and fifo dir", () => {
    assert.deepEqual(injectCtrFlags(rec, ["-n", "k8s.io", "run", "--rm", "img", "t1"]), [
      "-n",
      "k8s.io",
      "run",
      "--runc-root",
      "/b/state/runc",
      "--fifo-dir",
      "/b/state/fifo",
      "--rm",
      "img",
      "t1",
    ]);
    assert.deepEqual(injectCtrFlags(rec, ["run", "--runc-root=/x", "--fifo-dir", "/y", "img", "t1"]), [
      "run",
      "--runc-root=/x",
      "--fifo-dir",
      "/y",
      "img",
      "t1",
    ]);
  });
  it("gives pulls the hosts dir and task start/exec the fifo dir; leaves others alone", () => {
    assert.deepEqual(injectCtrFlags(rec, ["--namespace", "x", "images", "pull", "r"]), [
      "--namespace",
      "x",
      "images",
      "pull",
      "--hosts-dir",
      "/b/certs.d",
      "r",
    ]);
    assert.deepEqual(injectCtrFlags(rec, ["t", "exec", "--exec-id", "e", "c", "ls"]), [
      "t",
      "exec",
      "--fifo-dir",
      "/b/state/fifo",
      "--exec-id",
      "e",
      "c",
      "ls",
    ]);
    assert.deepEqual(injectCtrFlags(rec, ["version"]), ["version"]);
    assert.deepEqual(injectCtrFlags(rec, ["images", "ls"]), ["images", "ls"]);
  });
});
