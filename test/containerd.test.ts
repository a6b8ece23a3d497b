// Integration test of the private containerd harness (src/testenv/containerd.ts): a real
// containerd 1.6 with its CRI plugin, a container run through ctr, a CRI pod on the
// instance's bridge network with its sandbox image pulled from a local plain-HTTP
// registry, then stop() and a check that nothing of it is left on the machine.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import {
  type Containerd,
  cleanupStale,
  injectCtrFlags,
  pbBytes,
  pbDecode,
  pbGetString,
  pbMessage,
  pbString,
  pbVarint,
  startContainerd,
} from "../src/testenv/containerd.js";
import { type BuiltImage, buildTestImages, defaultImagesDir } from "../src/testenv/images.js";
import { type RegistryWithTestImages, startRegistryWithTestImages } from "../src/testenv/registry.js";

const CRI = "/runtime.v1.RuntimeService";

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

const decode = (bytes: Uint8Array, ...fields: number[]) => {
  let msg = pbDecode(bytes);
  for (const field of fields) {
    const v = msg.get(field)?.[0];
    if (!(v instanceof Uint8Array)) return undefined;
    msg = pbDecode(v);
  }
  return msg;
};

describe("containerd test harness", { skip }, () => {
  let reg: RegistryWithTestImages;
  let ctd: Containerd;
  let podId = "";

  before(async () => {
    reg = await startRegistryWithTestImages();
    ctd = await startContainerd({ sandboxImage: reg.pause.ref, registryHosts: [reg.registry.host] });
  });

  after(async () => {
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
    const v = pbDecode(await ctd.cri(`${CRI}/Version`, pbString(1, "v1")));
    assert.equal(pbGetString(v, 2), "containerd");
    assert.match(pbGetString(v, 3) ?? "", /^1\.6\.20/);
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
    const meta = pbMessage(pbString(1, "p1"), pbString(2, "uid-p1"), pbString(3, "default"), pbVarint(4, 0));
    const config = pbMessage(pbBytes(1, meta), pbString(2, "p1"));
    const resp = pbDecode(await ctd.cri(`${CRI}/RunPodSandbox`, pbBytes(1, config), 120_000));
    podId = pbGetString(resp, 1) ?? "";
    assert.match(podId, /^[0-9a-f]{64}$/);

    const status = await ctd.cri(`${CRI}/PodSandboxStatus`, pbString(1, podId));
    const ip = pbGetString(decode(status, 1, 5) ?? new Map(), 1) ?? "";
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
    try {
      await ctd.ctr(["-n", "k8s.io", "images", "import", busybox.archivePath]);
      await ctd.ctr(["-n", "k8s.io", "run", "-d", busybox.containerdName, "c1", "sleep", "3600"]);
      const meta = pbMessage(pbString(1, "p2"), pbString(2, "uid-p2"), pbString(3, "default"));
      await ctd.cri(`${CRI}/RunPodSandbox`, pbBytes(1, pbMessage(pbBytes(1, meta))), 120_000);
      process.kill(ctd.pid, "SIGKILL");
    } finally {
      await ctd.stop();
    }
    assert.deepEqual(await ctd.leftovers(), []);
    assert.equal(fs.existsSync(ctd.baseDir), false);
  });

  it("cleanupStale() cleans what a process that never called stop() left behind", async () => {
    const parentDir = fs.mkdtempSync(path.join(os.tmpdir(), "berth-ctd-stale-"));
    try {
      const harness = new URL("../src/testenv/containerd.js", import.meta.url).href;
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
          extraConfig: "this is = not [toml",
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
