// Every berth CLI command against one runtime, as one scenario that test/cli-containerd.test.ts
// and test/cli-berth.test.ts run: pull from a local registry, then a whole pod lifecycle,
// checking from inside the container that the cgroup files hold what was asked for, and
// that stopping the runtime leaves nothing on the machine. The assertions are the same for
// every runtime except where runtimes legitimately differ, which CliTarget spells out.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { BlockList } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { parse, stringify } from "yaml";
import { existingCgroups, removeCgroup } from "../../src/testenv/cgroups.js";
import type { Leftover } from "../../src/testenv/containerd/leftovers.js";
import { type RegistryWithTestImages, startRegistryWithTestImages } from "../../src/testenv/registry.js";
import { berthBin, berth as runBerth, berthOk as runBerthOk } from "./berth-cli.js";

/** A started runtime and what the scenario expects of it where runtimes differ. */
export interface CliTarget {
  endpoint: string;
  /** `version`'s RuntimeName, and a pattern for its RuntimeVersion. */
  runtimeName: string;
  runtimeVersion: RegExp;
  /** Keys of the runtime's own config that `info` must show, with their values. */
  infoConfig: Record<string, unknown>;
  /** The pod network's subnet, e.g. "10.233.4.0/24". */
  podSubnet: string;
  /**
   * What `pull` draws on a terminal: per-layer bars where the runtime streams pull
   * progress (berth.v1.Images), a spinner where it has no such stream (containerd).
   */
  pullProgress: "layers" | "spinner";
  /** Stops the runtime and returns what of it is still on the machine. */
  shutdown(): Promise<Leftover[]>;
  /** Removes whatever is left, runtime included; idempotent, for after(). */
  dispose(): Promise<void>;
}

/** Defines the scenario's tests, in a describe named `name`, against the runtime `start` gives. */
export function cliScenario(name: string, start: (reg: RegistryWithTestImages) => Promise<CliTarget>): void {
  describe(name, () => {
    let reg: RegistryWithTestImages;
    let target: CliTarget | undefined;
    let dir: string;
    let shutDown = false;
    // As the kubelet does, each pod gets a cgroup parent of its own (pod stats need one).
    const cgroupParents = { web: `/berth-test-${process.pid}`, job: `/berth-test-job-${process.pid}` };
    const at = () => ["--runtime-endpoint", target?.endpoint ?? "", "--timeout", "60s"];
    const berth = (...args: string[]) => runBerth([...at(), ...args]);
    const berthOk = (...args: string[]) => runBerthOk([...at(), ...args]);
    const json = async (...args: string[]) => JSON.parse(await berthOk(...args));

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), "berth-cli-"));
      reg = await startRegistryWithTestImages();
      target = await start(reg);
    });

    after(async () => {
      // A failed step may have left pods behind: remove them through the runtime, so it
      // tears down their networks and cgroups, before the runtime goes.
      if (target && !shutDown) {
        const left = (await berth("pods", "-q")).stdout.split("\n").filter(Boolean);
        for (const id of left) await berth("rmp", "-f", id);
      }
      await target?.dispose();
      for (const cg of Object.values(cgroupParents)) await removeCgroup(cg).catch(() => undefined);
      await reg?.registry.stop();
      await rm(dir, { recursive: true, force: true });
    });

    test("version names the runtime and CRI v1", async () => {
      const t = started(target);
      const out = await berthOk("version");
      assert.match(out, /^Version: {2}0\.1\.0$/m);
      assert.match(out, new RegExp(`^RuntimeName: {2}${escapeRegExp(t.runtimeName)}$`, "m"));
      const version = out.match(/^RuntimeVersion: {2}(.*)$/m)?.[1] ?? "";
      assert.match(version, t.runtimeVersion);
      assert.match(out, /^RuntimeApiVersion: {2}v1$/m);
      const doc = await json("version", "-o", "json");
      assert.deepEqual(doc, {
        version: "0.1.0",
        runtimeName: t.runtimeName,
        runtimeVersion: version,
        runtimeApiVersion: "v1",
      });
    });

    test("info reports the runtime and network ready, and the runtime's config", async () => {
      const t = started(target);
      const doc = await json("info");
      const conditions = Object.fromEntries(
        (doc.status.conditions as { type: string; status: boolean }[]).map((c) => [c.type, c.status]),
      );
      assert.deepEqual(conditions, { RuntimeReady: true, NetworkReady: true });
      const config = doc.config as Record<string, unknown>;
      assert.deepEqual(
        Object.fromEntries(Object.keys(t.infoConfig).map((k) => [k, config[k]])),
        t.infoConfig,
      );
    });

    test("pull, images, inspecti, imagefsinfo", async () => {
      const out = await berthOk("pull", reg.busybox.ref);
      assert.equal(out, `Image is up to date for ${reg.busybox.imageId}\n`);
      const table = await berthOk("images");
      const [repo, tag] = [reg.busybox.ref.replace(/:latest$/, ""), "latest"];
      const row = table.split("\n").find((l) => l.startsWith(`${repo} `));
      assert.ok(row, table);
      assert.deepEqual(row.split(/\s{2,}/).slice(0, 3), [repo, tag, reg.busybox.imageId.slice(7, 20)]);
      const listed = await json("images", "-o", "json");
      const img = listed.images.find((i: { id: string }) => i.id === reg.busybox.imageId);
      assert.deepEqual(img.repoTags, [reg.busybox.ref]);
      assert.deepEqual(img.repoDigests, [reg.busybox.digestRef]);
      // Manifest, config and compressed layers are counted.
      assert.equal(img.size, String(reg.busybox.image.size));
      const q = await berthOk("images", "-q");
      assert.ok(q.split("\n").includes(reg.busybox.imageId));
      const inspected = await json("inspecti", reg.busybox.ref);
      assert.equal(inspected.status.id, reg.busybox.imageId);
      assert.ok(inspected.info, "verbose info present");
      const fs = await json("imagefsinfo");
      assert.match(fs.status.fsId.mountpoint, /overlayfs$/);
    });

    test("pull on a terminal shows progress, and nothing extra when piped", async () => {
      const piped = await berth("pull", reg.busybox.ref);
      assert.deepEqual([piped.code, piped.stderr], [0, ""]);
      // script(1) gives the CLI a pseudo-terminal, as an interactive user has.
      const cmd = [process.execPath, berthBin, ...at(), "pull", reg.busybox.ref].map(shellQuote).join(" ");
      const tty = execFileSync("script", ["-qec", cmd, "/dev/null"], { encoding: "utf8" });
      const result = `Image is up to date for ${reg.busybox.imageId}\r\n`;
      assert.ok(tty.endsWith(result), JSON.stringify(tty));
      if (started(target).pullProgress === "spinner") {
        assert.match(
          tty,
          new RegExp(`[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] Pulling ${escapeRegExp(reg.busybox.ref)} \\(\\d+\\.\\ds\\)`),
        );
        // The spinner line is erased before the result is printed, and only then.
        assert.ok(tty.endsWith(`\r\x1b[K${result}`), JSON.stringify(tty));
      } else {
        // Each layer is drawn; pulled before, it exists already.
        for (const digest of reg.busybox.image.layerDigests) {
          assert.match(tty, new RegExp(`\x1b\\[K${digest.slice(7, 19)} {2}Exists {7}\\[={30}\\]`));
        }
      }
    });

    describe("pod lifecycle", () => {
      let podId = "";
      let ctrId = "";
      let podFile = "";
      let ctrFile = "";
      const uid = `uid-${process.pid}`;

      before(async () => {
        podFile = join(dir, "pod.yaml");
        ctrFile = join(dir, "container.json");
        await writeFile(
          podFile,
          stringify({
            metadata: { name: "web", namespace: "default", uid, attempt: 1 },
            hostname: "web",
            log_directory: join(dir, "logs"),
            labels: { app: "web" },
            linux: { cgroup_parent: cgroupParents.web },
          }),
        );
        await writeFile(
          ctrFile,
          JSON.stringify({
            metadata: { name: "app" },
            image: { image: reg.busybox.ref },
            command: ["sh", "-c", "echo hello from berth; echo to stderr >&2; exec sleep 3600"],
            log_path: "app/0.log",
            labels: { tier: "front" },
            linux: {
              resources: {
                cpu_shares: 512,
                cpu_quota: 50000,
                cpu_period: 100000,
                memory_limit_in_bytes: 64 * 1024 * 1024,
              },
            },
          }),
        );
      });

      test("runp, pods, inspectp", async () => {
        podId = (await berthOk("runp", podFile)).trim();
        assert.match(podId, /^[0-9a-f]{64}$/);
        const pods = await berthOk("pods", "--name", "^web$");
        assert.match(
          pods,
          new RegExp(`^${podId.slice(0, 13)}\\s+.*\\s+Ready\\s+web\\s+default\\s+1\\s+\\(default\\)$`, "m"),
        );
        assert.equal((await berthOk("pods", "-q", "--label", "app=web")).trim(), podId);
        assert.equal((await berthOk("pods", "-q", "--label", "app=db")).trim(), "");
        assert.equal((await berthOk("pods", "-q", "--state", "notready")).trim(), "");
        const status = await json("inspectp", podId);
        assert.equal(status.status.state, "SANDBOX_READY");
        assert.ok(inSubnet(status.status.network.ip, started(target).podSubnet), status.status.network.ip);
        assert.equal(status.status.metadata.uid, uid);
      });

      test("create and start a container with resources", async () => {
        ctrId = (await berthOk("create", podId, ctrFile, podFile)).trim();
        assert.match(ctrId, /^[0-9a-f]{64}$/);
        const created = await berthOk("ps", "-a", "--pod", podId);
        assert.match(
          created,
          new RegExp(
            `^${ctrId.slice(0, 13)}\\s+${escapeRegExp(reg.busybox.ref)}\\s+.*\\s+Created\\s+app\\s+0\\s+${podId.slice(0, 13)}\\s+unknown$`,
            "m",
          ),
        );
        assert.equal((await berthOk("start", ctrId)).trim(), ctrId);
        assert.equal((await berthOk("ps", "-q", "--state", "running", "--name", "app")).trim(), ctrId);
        const status = await json("inspect", ctrId);
        assert.equal(status.status.state, "CONTAINER_RUNNING");
        assert.equal(status.status.resources.linux.memoryLimitInBytes, String(64 * 1024 * 1024));
        assert.equal(status.status.logPath, join(dir, "logs", "app/0.log"));
      });

      test("the cgroup files inside the container hold the requested values", async () => {
        assert.deepEqual(await cgroupValues(ctrId), {
          shares: "512",
          quota: "50000",
          period: "100000",
          memory: String(64 * 1024 * 1024),
        });
      });

      test("logs prints stdout and stderr lines, with timestamps on request", async () => {
        await waitFor(async () => (await berth("logs", ctrId)).stdout.includes("hello from berth"));
        const r = await berth("logs", ctrId);
        assert.equal(r.stdout, "hello from berth\n");
        assert.equal(r.stderr, "to stderr\n");
        const t = await berth("logs", "-t", "--tail", "1", ctrId);
        assert.match(
          t.stdout + t.stderr,
          /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z (hello from berth|to stderr)\n$/,
        );
      });

      test("exec passes output and exit code through", async () => {
        assert.equal(await berthOk("exec", ctrId, "echo", "-n", "inside"), "inside");
        const r = await berth("exec", ctrId, "sh", "-c", "echo out; echo err >&2; exit 3");
        assert.deepEqual([r.code, r.stdout, r.stderr], [3, "out\n", "err\n"]);
        const whoami = await berthOk("exec", "-s", ctrId, "id", "-u");
        assert.equal(whoami.trim(), "0");
      });

      test("stats and statsp show the container and the pod", async () => {
        const stats = await berthOk("stats", "-s", "1", ctrId);
        assert.match(stats, /^CONTAINER\s+NAME\s+CPU %\s+MEM\s+DISK\s+INODES$/m);
        assert.match(stats, new RegExp(`^${ctrId.slice(0, 13)}\\s+app\\s+\\d+\\.\\d\\d\\s+\\d`, "m"));
        const doc = await json("stats", "-o", "json", "--id", ctrId);
        assert.equal(doc.stats[0].attributes.id, ctrId);
        assert.ok(Number(doc.stats[0].memory.workingSetBytes.value) > 0);
        const podStats = await berthOk("statsp", podId);
        assert.match(podStats, new RegExp(`^web\\s+${podId.slice(0, 13)}\\s+\\d+\\.\\d\\d\\s+\\d`, "m"));
      });

      test("update changes the cgroup values of the running container", async () => {
        await berthOk("update", "--memory", "128m", "--cpu-quota", "20000", "--cpu-share", "256", ctrId);
        assert.deepEqual(await cgroupValues(ctrId), {
          shares: "256",
          quota: "20000",
          period: "100000",
          memory: String(128 * 1024 * 1024),
        });
      });

      test("rm refuses a running container without --force", async () => {
        const r = await berth("rm", ctrId);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /is running: stop it first, or use rm --force/);
      });

      test("stop, rm, stopp, rmp leave nothing listed", async () => {
        assert.equal((await berthOk("stop", "-t", "2", ctrId)).trim(), ctrId);
        const exited = await json("inspect", ctrId);
        assert.equal(exited.status.state, "CONTAINER_EXITED");
        assert.match(await berthOk("ps", "-a"), /Exited/);
        assert.equal((await berthOk("rm", ctrId)).trim(), ctrId);
        assert.equal((await berthOk("stopp", podId)).trim(), `Stopped sandbox ${podId}`);
        assert.match(await berthOk("pods"), /NotReady/);
        assert.equal((await berthOk("rmp", podId)).trim(), `Removed sandbox ${podId}`);
        assert.equal((await berthOk("pods", "-q")).trim(), "");
        assert.equal((await berthOk("ps", "-a", "-q")).trim(), "");
        // The pod's cgroups are gone (rmdir fails on a parent with children); only the
        // empty parent this test named remained.
        await removeCgroup(cgroupParents.web);
        assert.deepEqual(await existingCgroups(cgroupParents.web), []);
      });

      test("NotFound from the runtime is one clear line", async () => {
        const r = await berth("inspect", ctrId);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /^berth: .*not found.*\n$/);
        const p = await berth("stopp", "0000000000000000000000000000000000000000000000000000000000000000");
        assert.equal(p.code, 1);
        assert.match(p.stderr, /^berth: .*not found/);
      });
    });

    test("a pod that runs to completion: logs -f follows until the exit; -o yaml; rm -f and rmp -f clean up", async () => {
      const podFile = join(dir, "job-pod.json");
      const ctrFile = join(dir, "job.yaml");
      await writeFile(
        podFile,
        JSON.stringify({
          metadata: { name: "job", namespace: "batch", uid: `job-${process.pid}` },
          logDirectory: join(dir, "job-logs"),
          linux: { cgroupParent: cgroupParents.job },
        }),
      );
      await writeFile(
        ctrFile,
        stringify({
          metadata: { name: "count" },
          image: { image: reg.busybox.ref },
          command: ["sh", "-c", "for i in 1 2 3; do echo line $i; sleep 0.5; done"],
          logPath: "count.log",
        }),
      );
      const pod = (await berthOk("runp", podFile)).trim();
      const ctr = (await berthOk("create", pod, ctrFile, podFile)).trim();
      await berthOk("start", ctr);
      const followed = await berth("logs", "-f", ctr);
      assert.deepEqual([followed.code, followed.stdout], [0, "line 1\nline 2\nline 3\n"]);
      const doc = parse(await berthOk("ps", "-a", "--pod", pod, "-o", "yaml"));
      assert.equal(doc.containers[0].id, ctr);
      assert.equal(doc.containers[0].state, "CONTAINER_EXITED");
      const status = await json("inspect", ctr);
      assert.equal(status.status.exitCode, 0);
      assert.equal(status.status.reason, "Completed");
      assert.equal((await berthOk("rm", "-f", ctr)).trim(), ctr);
      assert.equal((await berthOk("rmp", "-f", pod)).trim(), `Removed sandbox ${pod}`);
      assert.equal((await berthOk("pods", "-q", "--namespace", "^batch$")).trim(), "");
      await removeCgroup(cgroupParents.job);
      assert.deepEqual(await existingCgroups(cgroupParents.job), []);
    });

    test("rmi removes the image and prints its names", async () => {
      const out = await berthOk("rmi", reg.busybox.ref);
      assert.match(out, new RegExp(`^Deleted: ${escapeRegExp(reg.busybox.ref)}$`, "m"));
      assert.equal((await berthOk("images", "-q")).split("\n").includes(reg.busybox.imageId), false);
      const again = await berth("rmi", reg.busybox.ref);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /no such image/);
    });

    test("stopping the runtime leaves nothing behind", async () => {
      const t = started(target);
      shutDown = true;
      assert.deepEqual(await t.shutdown(), []);
    });

    async function cgroupValues(id: string) {
      const cat = async (file: string) => (await berthOk("exec", id, "cat", file)).trim();
      return {
        shares: await cat("/sys/fs/cgroup/cpu/cpu.shares"),
        quota: await cat("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"),
        period: await cat("/sys/fs/cgroup/cpu/cpu.cfs_period_us"),
        memory: await cat("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
      };
    }
  });
}

function started(t: CliTarget | undefined): CliTarget {
  if (!t) throw new Error("the runtime did not start");
  return t;
}

function inSubnet(ip: string, cidr: string): boolean {
  const [net = "", bits = ""] = cidr.split("/");
  const list = new BlockList();
  list.addSubnet(net, Number(bits));
  return list.check(ip);
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(100);
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, "'\\''")}'`;
}
