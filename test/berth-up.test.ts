// `berth up` for real, as a user runs it: the real bin/berth starting berth runtime and berth
// kubelet with the example pods, its output read as printed (not on a terminal: a row per
// change, the containers' lines after "pod/container |"). Each run must show every example
// pod doing what its manifest says, stop by itself or on SIGINT, and leave nothing behind:
// no process, mount, cgroup, bridge, NAT rule or directory of its own. Then the same node on
// containerd 1.6.20 through --runtime-endpoint, the node's images imported with ctr and
// removed again.
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { existingCgroups } from "../src/testenv/cgroups.js";
import { type Containerd, startContainerd } from "../src/testenv/containerd/containerd.js";
import { mountsUnder } from "../src/testenv/containerd/mounts.js";
import { repoRoot } from "../src/testenv/images.js";
import { berthBin } from "./support/berth-cli.js";

const examples = join(repoRoot(), "examples");

interface Run {
  child: ChildProcess;
  /** Everything printed so far. */
  output(): string;
  exit: Promise<number | null>;
}

function startUp(args: string[]): Run {
  const child = spawn(process.execPath, [berthBin, "up", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout?.on("data", (d) => {
    out += d;
  });
  child.stderr?.on("data", (d) => {
    out += d;
  });
  const exit = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  return { child, output: () => out, exit };
}

/** What `berth up` said it made, from its own lines. */
interface Made {
  dir: string;
  cgroupRoot: string;
  pids: number[];
  bridge?: string;
  subnet?: string;
}

function made(out: string): Made {
  const m = /working in (\S+), pods in cgroup (\S+)/.exec(out);
  assert.ok(m, `no working dir in:\n${out}`);
  const net = /pods on bridge (\S+) \((\d+\.\d+\.\d+)\.0\/24\)/.exec(out);
  return {
    dir: m[1] as string,
    cgroupRoot: m[2] as string,
    pids: [...out.matchAll(/started berth \w+ \(pid (\d+)\)/g)].map((x) => Number(x[1])),
    ...(net ? { bridge: net[1] as string, subnet: `${net[2]}.` } : {}),
  };
}

/** The rows printed for each pod: [READY, STATUS, RESTARTS, QOS]. */
function rows(out: string): Map<string, string[][]> {
  const byPod = new Map<string, string[][]>();
  for (const line of out.split("\n")) {
    const m =
      /^(besteffort|guaranteed|job-once|web)\s+(\d+\/\d+)\s+(\S+)\s+(\d+(?: \([^)]*\))?)\s+\S+\s+\S+\s+(\S+)$/.exec(
        line,
      );
    if (!m) continue;
    const list = byPod.get(m[1] as string) ?? [];
    list.push([m[2], m[3], m[4], m[5]] as string[]);
    byPod.set(m[1] as string, list);
  }
  return byPod;
}

/** Every example pod did what its manifest says. */
function assertExamplesRan(out: string): void {
  const seen = rows(out);
  const has = (pod: string, ready: string, status: string, qos: string) =>
    assert.ok(
      seen.get(pod)?.some((r) => r[0] === ready && r[1] === status && r[3] === qos),
      `${pod} never ${ready} ${status} ${qos}:\n${out}`,
    );
  has("guaranteed", "1/1", "Running", "Guaranteed");
  has("web", "1/1", "Running", "Burstable");
  has("besteffort", "1/1", "Running", "BestEffort");
  has("job-once", "0/1", "Completed", "BestEffort");
  assert.ok(
    seen.get("job-once")?.some((r) => r[1] === "Completed" && r[2]?.startsWith("1 (")),
    `job-once did not complete after one restart:\n${out}`,
  );
  // What the containers printed: cgroup values, the page the hook wrote, the init container's file.
  assert.match(
    out,
    /^guaranteed\/main \| (cpu\.cfs_quota_us=25000 cpu\.cfs_period_us=100000 cpu\.shares=256 memory\.limit_in_bytes=67108864|cgroup v2: cpu\.max=25000 100000 memory\.max=67108864)$/m,
  );
  assert.match(out, /^web\/httpd \| serving: <h1>hello from web<\/h1> written by the postStart hook$/m);
  assert.match(
    out,
    /^besteffort\/main \| prepared by the init container at \d\d:\d\d:\d\d; oom_score_adj=1000$/m,
  );
  assert.match(out, /^job-once\/task \| attempt 1: failing on purpose$/m);
  assert.match(out, /^job-once\/task \| attempt 2: done$/m);
}

/** What of a run is still on the machine. */
async function leftovers(m: Made): Promise<string[]> {
  const left: string[] = [];
  if (existsSync(m.dir)) left.push(`dir ${m.dir}`);
  for (const mp of mountsUnder(m.dir)) left.push(`mount ${mp}`);
  for (const c of await existingCgroups(m.cgroupRoot)) left.push(`cgroup ${c}`);
  if (m.bridge && existsSync(`/sys/class/net/${m.bridge}`)) left.push(`bridge ${m.bridge}`);
  if (m.subnet) {
    const nat = execFileSync("iptables", ["-t", "nat", "-S"], { encoding: "utf8" });
    for (const rule of nat.split("\n").filter((r) => r.includes(m.subnet as string)))
      left.push(`nat ${rule}`);
  }
  for (const name of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    const pid = Number(name);
    let argv = "";
    let root = "";
    try {
      argv = readFileSync(`/proc/${name}/cmdline`, "utf8").replaceAll("\0", " ");
      root = readlinkSync(`/proc/${name}/root`);
    } catch {
      continue; // gone meanwhile
    }
    if (m.pids.includes(pid) || argv.includes(m.dir) || root.startsWith(m.dir))
      left.push(`process ${pid} ${argv}`);
  }
  return left;
}

const runs: Run[] = [];
after(() => {
  // A failed assertion must not leave a node running: SIGTERM lets it take itself down.
  for (const r of runs) if (r.child.exitCode === null) r.child.kill("SIGTERM");
});

describe("berth up on berth runtime", () => {
  test("--duration 40s: every example pod runs, then everything is removed", {
    timeout: 150_000,
  }, async () => {
    const run = startUp(["--duration", "40s"]);
    runs.push(run);
    const code = await run.exit;
    const out = run.output();
    assert.equal(code, 0, out);
    assertExamplesRan(out);
    assert.match(out, /^berth up: created 4 pods from \S+: besteffort, guaranteed, job-once, web$/m);
    assert.match(out, /^berth up: stopping \(--duration 40s is over\)$/m);
    assert.match(out, /^berth up: deleted 4 pods through the kubelet in [\d.]+s$/m);
    assert.match(out, /^berth up: everything is removed$/m);
    const m = made(out);
    assert.equal(m.pids.length, 2, "runtime and kubelet");
    assert.deepEqual(await leftovers(m), []);
  });

  test("SIGINT while the pods run: they are deleted through the kubelet and nothing is left", {
    timeout: 120_000,
  }, async () => {
    const run = startUp(["-f", join(examples, "web.yaml")]);
    runs.push(run);
    const deadline = Date.now() + 60_000;
    while (!/^web\/httpd \| serving: /m.test(run.output())) {
      assert.ok(Date.now() < deadline && run.child.exitCode === null, `web never served:\n${run.output()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    // The kubelet endpoints it printed answer, and /metrics counts the running pod.
    const [, healthz = "", readOnly = ""] =
      /^berth up: kubelet endpoints: (\S+\/healthz), (http:\/\/[^/]+)\//m.exec(run.output()) ?? [];
    assert.equal(await (await fetch(healthz)).text(), "ok");
    assert.match(await (await fetch(`${readOnly}/metrics`)).text(), /^kubelet_running_pods 1$/m);
    run.child.kill("SIGINT");
    const code = await run.exit;
    const out = run.output();
    assert.equal(code, 0, out);
    assert.match(out, /^berth up: stopping \(SIGINT\)$/m);
    assert.match(out, /^berth up: deleted 1 pod through the kubelet/m);
    assert.match(out, /^berth up: everything is removed$/m);
    assert.deepEqual(await leftovers(made(out)), []);
  });
});

describe("berth up on containerd 1.6.20", () => {
  let ctrd: Containerd | undefined;
  after(async () => {
    await ctrd?.stop();
  });

  test("--runtime-endpoint: the images imported with ctr, the pod run, both removed again", {
    timeout: 150_000,
  }, async () => {
    ctrd = await startContainerd({ sandboxImage: "berth.local/pause:3.9" });
    const run = startUp([
      "-f",
      join(examples, "web.yaml"),
      "--runtime-endpoint",
      ctrd.endpoint,
      "--duration",
      "5s",
    ]);
    runs.push(run);
    const code = await run.exit;
    const out = run.output();
    assert.equal(code, 0, out);
    assert.match(out, /^berth up: using containerd 1\.6\.20\S* at /m);
    assert.match(
      out,
      /^berth up: imported berth\.local\/busybox:1\.35, berth\.local\/pause:3\.9 into containerd$/m,
    );
    assert.match(out, /^web\/httpd \| serving: <h1>hello from web<\/h1> written by the postStart hook$/m);
    assert.match(out, /^berth up: removed 1 stopped pod sandbox$/m);
    assert.match(
      out,
      /^berth up: removed berth\.local\/busybox:1\.35, berth\.local\/pause:3\.9 from containerd$/m,
    );
    const m = made(out);
    assert.equal(m.pids.length, 1, "the kubelet only");
    assert.deepEqual(await leftovers(m), []);
    assert.equal((await ctrd.ctr(["-n", "k8s.io", "images", "ls", "-q"])).trim(), "");
    assert.equal((await ctrd.ctr(["-n", "k8s.io", "containers", "ls", "-q"])).trim(), "");
    await ctrd.stop();
    assert.deepEqual(await ctrd.leftovers(), []);
  });
});
