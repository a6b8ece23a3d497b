import { existsSync } from "node:fs";
import { mkdtemp, rm, rmdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { newRemoteRuntimeService } from "../cri/remote-runtime.js";
import { dialCri } from "../cri/transport.js";
import type { LogLevel } from "../lib/log.js";
import { DaemonProcess, type Exit, logTail } from "../up/daemon-process.js";
import { existingCgroups } from "./cgroups.js";
import { cgroupHierarchies, cgroupProcs, subdirs } from "./containerd/cgroups.js";
import { readdirSafe, readFileSafe, readlinkSafe } from "./containerd/files.js";
import type { Leftover } from "./containerd/leftovers.js";
import { mountsUnder } from "./containerd/mounts.js";
import { enslavedTo } from "./containerd/network.js";
import { repoRoot } from "./images.js";

export interface BerthRuntimeOptions {
  /** Written to <dir>/config.toml and passed as --config. */
  configToml?: string;
  /** --log-level (default "debug", so a failing test has the whole story in the log). */
  logLevel?: LogLevel;
  /** How long to wait for Version to answer (default 20 s). */
  startTimeoutMs?: number;
  /** Node flags before bin/berth, e.g. --cpu-prof (which NODE_OPTIONS may not carry). */
  nodeArgs?: string[];
  /** Where its temp dir is made (default os.tmpdir()). */
  parentDir?: string;
}

export type { Exit };

export interface BerthRuntime {
  /** unix://<dir>/berth.sock */
  readonly endpoint: string;
  readonly socket: string;
  readonly dir: string;
  readonly root: string;
  readonly state: string;
  /** The daemon's stdout and stderr. */
  readonly logPath: string;
  /** The running daemon's pid (a new one after restart()). */
  readonly pid: number;
  /** The flags it runs with: --root, --state, --address, --log-level and --config if any. */
  readonly args: readonly string[];
  logTail(lines?: number): string;
  /** SIGTERM and wait for the exit; the dir stays. */
  terminate(): Promise<Exit>;
  /** SIGKILL and wait: what a crash leaves (socket, lock file) stays. */
  kill9(): Promise<void>;
  /** Starts it again with the same dirs and flags, after terminate() or kill9(). */
  restart(): Promise<void>;
  /** Terminates it if running, then removes the dir; idempotent. */
  stop(): Promise<Exit | undefined>;
}

const berthBin = join(repoRoot(), "bin", "berth");

export async function startBerthRuntime(opts: BerthRuntimeOptions = {}): Promise<BerthRuntime> {
  const dir = await mkdtemp(join(opts.parentDir ?? tmpdir(), "berth-runtime-"));
  const socket = join(dir, "berth.sock");
  const root = join(dir, "root");
  const state = join(dir, "state");
  const logPath = join(dir, "berth.log");
  const args = ["--root", root, "--state", state, "--address", `unix://${socket}`];
  args.push("--log-level", opts.logLevel ?? "debug");
  if (opts.configToml !== undefined) {
    await writeFile(join(dir, "config.toml"), opts.configToml);
    args.push("--config", join(dir, "config.toml"));
  }
  const endpoint = `unix://${socket}`;
  // Pods without a cgroup parent get the runtime's default, /k8s.io/<id>; the parent it makes
  // on the way is removed at stop unless it was there before (another runtime may use it).
  const madeParents = cgroupHierarchies()
    .map((h) => join(h.mount, "k8s.io"))
    .filter((d) => d.startsWith("/sys/fs/cgroup/") && !existsSync(d));
  const timeoutMs = opts.startTimeoutMs ?? 20_000;
  let proc: DaemonProcess | undefined;

  const terminate = async (): Promise<Exit> => {
    if (!proc) throw new Error("berth runtime is not running");
    const exit = await proc.stop(15_000);
    proc = undefined;
    return exit;
  };
  const start = async () => {
    proc = await DaemonProcess.start({
      command: "runtime",
      args,
      logPath,
      script: berthBin,
      nodeArgs: opts.nodeArgs ?? [],
      readyTimeoutMs: timeoutMs,
      ready: () => answersVersion(endpoint),
    });
  };

  try {
    await start();
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  let stopped = false;
  return {
    endpoint,
    socket,
    dir,
    root,
    state,
    logPath,
    get pid() {
      if (!proc) throw new Error("berth runtime is not running");
      return proc.pid;
    },
    args,
    logTail: (lines = 30) => logTail(logPath, lines),
    terminate,
    kill9: async () => {
      if (!proc) throw new Error("berth runtime is not running");
      await proc.kill();
      proc = undefined;
    },
    restart: async () => {
      if (proc) throw new Error("berth runtime is still running");
      await start();
    },
    stop: async () => {
      if (stopped) return undefined;
      stopped = true;
      const exit = proc ? await terminate() : undefined;
      await rm(dir, { recursive: true, force: true });
      // Fails while something still runs below it: leftovers() reports that, not stop().
      for (const d of madeParents) await rmdir(d).catch(() => {});
      return exit;
    },
  };
}

/** Whether the daemon answers CRI Version yet. */
async function answersVersion(endpoint: string): Promise<boolean> {
  const conn = dialCri(endpoint, { timeoutMs: 1000 });
  try {
    await newRemoteRuntimeService(conn).version({ version: "0.1.0" });
    return true;
  } finally {
    conn.close();
  }
}

export interface BerthLeftoversOptions {
  /** The bridge of the pod network the test configured: veths still on it are pods not torn down. */
  bridge?: string;
  /** Cgroup parents the test gave its pods (e.g. "/berth-test-123"): any cgroup below one is left over. */
  cgroupParents?: string[];
}

/**
 * What of a berth runtime and its pods is still on the machine, in the containerd harness's
 * terms: processes whose argv or root points into its dir (the daemon, conmon, runc, the
 * containers) or that sit in the given cgroups, mounts under its dir (rootfs overlays, shm,
 * pinned netns), veths on the bridge and cgroups below the parents. Call it after
 * terminate() and before stop(), whose rm of the dir must not run into a leftover mount.
 */
export async function berthLeftovers(
  rt: BerthRuntime,
  opts: BerthLeftoversOptions = {},
): Promise<Leftover[]> {
  const out: Leftover[] = [];
  const cgroupDirs: string[] = [];
  for (const parent of opts.cgroupParents ?? []) {
    for (const dir of await existingCgroups(parent)) cgroupDirs.push(...subdirs(dir));
  }
  const inCgroups = new Set(cgroupDirs.flatMap((d) => cgroupProcs(d)));
  const prefix = `${rt.dir}/`;
  let daemonPid = 0;
  try {
    daemonPid = rt.pid;
  } catch {
    // Not running: then every process of its is a leftover.
  }
  for (const name of readdirSafe("/proc")) {
    const pid = Number(name);
    // The daemon itself, when running, is no leftover; its monitors are.
    if (!/^\d+$/.test(name) || pid === process.pid || pid === daemonPid) continue;
    const argv = (readFileSafe(`/proc/${name}/cmdline`) ?? "").split("\0").filter(Boolean);
    const root = readlinkSafe(`/proc/${name}/root`) ?? "";
    if (inCgroups.has(pid) || root.startsWith(prefix) || argv.some((a) => a.includes(rt.dir))) {
      out.push({ kind: "process", what: `${pid} ${argv.join(" ").slice(0, 200)}` });
    }
  }
  for (const m of mountsUnder(rt.dir)) out.push({ kind: m.includes("/netns/") ? "netns" : "mount", what: m });
  if (opts.bridge) for (const l of enslavedTo(opts.bridge)) out.push({ kind: "link", what: l });
  for (const d of cgroupDirs) out.push({ kind: "cgroup", what: d });
  return out;
}
