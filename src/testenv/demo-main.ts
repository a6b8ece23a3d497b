// `scripts/demo.sh`: a pod's whole life through the berth CLI on berth's own runtime, then
// the same steps on the reference containerd, both started here with images from a local
// registry. Each step prints the command and its real output; everything started is
// stopped at the end, also on Ctrl-C.
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { startBerthRuntime } from "./berth-runtime.js";
import { removeCgroup } from "./cgroups.js";
import { startContainerd } from "./containerd/containerd.js";
import { repoRoot } from "./images.js";
import { startRegistryWithTestImages } from "./registry.js";

const berthBin = join(repoRoot(), "bin", "berth");

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "berth-demo-"));
  const cleanups: (() => Promise<void>)[] = [() => rm(dir, { recursive: true, force: true })];
  const cleanup = async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch((e) => console.error(`cleanup: ${e}`));
  };
  process.once("SIGINT", () => void cleanup().then(() => process.exit(130)));
  try {
    note("starting a local registry with berth's test images (busybox, pause)");
    const reg = await startRegistryWithTestImages();
    cleanups.push(() => reg.registry.stop());
    const cgroupParent = `/berth-demo-${process.pid}`;
    cleanups.push(() => removeCgroup(cgroupParent));
    const files = await writeConfigs(dir, cgroupParent, reg.busybox.ref);

    note(
      `starting berth's own runtime, \`berth runtime\`, with a private root (sandbox image ${reg.pause.ref})`,
    );
    const rt = await startBerthRuntime({
      logLevel: "info",
      configToml: `[plugins.cri]\nsandbox_image = "${reg.pause.ref}"\n`,
    });
    cleanups.push(async () => void (await rt.stop()));
    await tour(rt.endpoint, files, reg.busybox.ref);

    note("the same steps against Debian's containerd 1.6.20, the reference runtime");
    const ctrd = await startContainerd({ sandboxImage: reg.pause.ref, registryHosts: [reg.registry.host] });
    cleanups.push(() => ctrd.stop());
    await tour(ctrd.endpoint, files, reg.busybox.ref);
  } finally {
    note("stopping the runtimes and the registry, removing what they made");
    await cleanup();
  }
}

interface ConfigFiles {
  podFile: string;
  ctrFile: string;
}

async function writeConfigs(dir: string, cgroupParent: string, image: string): Promise<ConfigFiles> {
  const podFile = join(dir, "pod.yaml");
  const ctrFile = join(dir, "container.yaml");
  await writeFile(
    podFile,
    stringify({
      metadata: { name: "demo", namespace: "default", uid: `demo-${process.pid}`, attempt: 0 },
      hostname: "demo",
      log_directory: join(dir, "logs"),
      linux: { cgroup_parent: cgroupParent },
    }),
  );
  await writeFile(
    ctrFile,
    stringify({
      metadata: { name: "hello" },
      image: { image },
      command: ["sh", "-c", "echo hello from a berth demo; while true; do sleep 1; done"],
      log_path: "hello/0.log",
      linux: {
        resources: { cpu_shares: 512, cpu_quota: 50000, cpu_period: 100000, memory_limit_in_bytes: 67108864 },
      },
    }),
  );
  return { podFile, ctrFile };
}

/** A pod's whole life through the CLI against one runtime: pull, run, look inside, update, tear down. */
async function tour(endpoint: string, { podFile, ctrFile }: ConfigFiles, image: string): Promise<void> {
  const berth = (...args: string[]) => run(["--runtime-endpoint", endpoint, "--timeout", "60s", ...args]);
  berth("version");
  berth("pull", image);
  berth("images");
  note(`pod config ${podFile}:\n${indent(await readFile(podFile, "utf8"))}`);
  const pod = berth("runp", podFile).trim();
  berth("pods");
  note(`container config ${ctrFile} (cpu 0.5 core, 64 MiB):\n${indent(await readFile(ctrFile, "utf8"))}`);
  const ctr = berth("create", pod, ctrFile, podFile).trim();
  berth("start", ctr);
  berth("ps");
  await new Promise((r) => setTimeout(r, 500));
  berth("logs", ctr);
  note("the cgroup values runc wrote, read from inside the container:");
  const cgroupFiles = [
    "cpu/cpu.shares",
    "cpu/cpu.cfs_quota_us",
    "cpu/cpu.cfs_period_us",
    "memory/memory.limit_in_bytes",
  ];
  berth("exec", ctr, "cat", ...cgroupFiles.map((f) => `/sys/fs/cgroup/${f}`));
  berth("stats", ctr);
  berth("update", "--memory", "128m", "--cpu-quota", "20000", ctr);
  berth(
    "exec",
    ctr,
    "cat",
    "/sys/fs/cgroup/cpu/cpu.cfs_quota_us",
    "/sys/fs/cgroup/memory/memory.limit_in_bytes",
  );
  berth("stop", ctr);
  berth("rm", ctr);
  berth("stopp", pod);
  berth("rmp", pod);
  berth("rmi", image);
}

/** Runs the real CLI, echoing the command and its output; a failing step ends the demo. */
function run(args: string[]): string {
  const shown = args.slice(args.indexOf("--timeout") + 2);
  process.stdout.write(`\n$ berth ${shown.join(" ")}\n`);
  const r = spawnSync(process.execPath, [berthBin, ...args], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  process.stdout.write(r.stdout);
  if (r.status !== 0) throw new Error(`berth ${shown.join(" ")} failed (exit ${r.status})`);
  return r.stdout;
}

function note(text: string): void {
  process.stdout.write(`\n# ${text}\n`);
}

const indent = (text: string) => text.replace(/^/gm, "#   ").trimEnd();

main().catch((err) => {
  console.error(`demo failed: ${err instanceof Error ? err.message : err}`);
  process.exitCode = 1;
});
