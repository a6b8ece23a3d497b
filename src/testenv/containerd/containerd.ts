// A private containerd (Debian's 1.6.x) for tests, demos and benchmarks: the reference
// runtime berth is compared against. startContainerd() gives every instance its own
// directory, socket, runc root, CNI network (bridge berthc<N>, 10.233.<N>.0/24) and
// registry hosts; stop() removes everything the instance and its shims made, and
// leftovers() lists whatever of it still exists, so tests can assert a clean machine.
//
// What an instance owns, and how stop() finds it again:
//   - <base>/ (berth-containerd-<N>): config, root, state, socket, runc root, CNI conf
//     and IPAM data, certs.d, opt, log; claimed and recorded in instance.ts.
//   - processes: containerd, its shims, anything pointing into <base>, and everything
//     in our containers' cgroups (processes.ts).
//   - network namespaces: the CRI plugin is told `netns_mounts_under_state_dir`, so a
//     pod's netns is a bind mount under <state> and never touches /run/netns.
//   - mounts: every mount under <base>, deepest first (mounts.ts).
//   - links: the bridge berthc<N> and the veths enslaved to it (network.ts).
//   - cgroups: /<containerd namespace>/<id> in every hierarchy, read from the bundles'
//     config.json and runc's state.json (cgroups.ts, inventory.ts).
//   - outside <base>: the shim sockets containerd 1.6 always puts in /run/containerd/s,
//     the ctr/shim dirs under /run/containerd, and libcni's result cache; dirs we
//     created there are removed only when empty (a parallel instance may use them).
// CRI pods are stopped and removed through the CRI first, so CNI DEL runs (cleanup.ts).
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { messageOf } from "../../lib/errdefs.js";
import { cleanupInstance, cleanupStale } from "./cleanup.js";
import { type ConfigOptions, writeConfig } from "./config.js";
import { injectCtrFlags, runCtr } from "./ctr.js";
import { tailFile } from "./files.js";
import { type InstanceRecord, newInstance, writeRecord } from "./instance.js";
import { type Inventory, newInventory } from "./inventory.js";
import { findLeftovers, type Leftover } from "./leftovers.js";
import { isOurContainerd } from "./processes.js";
import { toolEnv } from "./run.js";

export interface ContainerdOptions extends ConfigOptions {
  /** Directory in which the instance directory berth-containerd-<N> is made (default os.tmpdir()). */
  parentDir?: string;
  /** Pod subnet for the bridge network (default 10.233.<N>.0/24). */
  podCidr?: string;
  /** How long to wait for the socket and the CRI plugin (default 30 s). */
  startTimeoutMs?: number;
  /** How long containerd gets to exit after SIGTERM before SIGKILL (default 10 s). */
  stopTimeoutMs?: number;
  /** containerd binary (default "containerd" from PATH). */
  containerdBin?: string;
}

export interface Containerd {
  /** CRI endpoint: unix://<socket>. */
  readonly endpoint: string;
  readonly socket: string;
  readonly baseDir: string;
  readonly root: string;
  readonly state: string;
  readonly pid: number;
  readonly configPath: string;
  readonly logPath: string;
  readonly cniConfDir: string;
  /** runc --root as the CRI runtime and ctr run use it (runc appends the namespace). */
  readonly runcRoot: string;
  readonly hostsDir: string;
  readonly bridge: string;
  readonly podCidr: string;
  /** Environment for a ctr/crictl started by hand (CONTAINERD_ADDRESS, CONTAINER_RUNTIME_ENDPOINT). */
  readonly env: Record<string, string>;
  /**
   * Runs `ctr --address <socket> ...args` and returns stdout. `run` gets this instance's
   * --runc-root and --fifo-dir, `tasks start|exec` its --fifo-dir, and
   * `images pull|push|fetch` its --hosts-dir, unless args already set them.
   */
  ctr(args: string[], opts?: { timeoutMs?: number; input?: string }): Promise<string>;
  /** Tail of containerd's log. */
  logTail(lines?: number): string;
  /** What of this instance still exists on the machine; empty after a successful stop(). */
  leftovers(): Promise<Leftover[]>;
  /** Removes everything; idempotent, keeps going on errors and throws them aggregated. */
  stop(): Promise<void>;
}

export async function startContainerd(opts: ContainerdOptions): Promise<Containerd> {
  const parentDir = path.resolve(opts.parentDir ?? os.tmpdir());
  await fsp.mkdir(parentDir, { recursive: true });
  // Crashed runs leave instance dirs whose owner is gone: clean them first so they do
  // not hold a bridge or subnet. Best effort: a failure here must not block a start.
  await cleanupStale(parentDir).catch(() => undefined);

  const rec = await newInstance(parentDir, opts.podCidr);
  const inv = newInventory();
  try {
    await writeConfig(rec, opts);
    const logFd = fs.openSync(rec.logPath, "a");
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(opts.containerdBin ?? "containerd", ["--config", rec.configPath], {
        detached: true, // its own process group: a ^C to the test run must not half-kill it
        stdio: ["ignore", logFd, logFd],
        env: toolEnv(),
      });
    } finally {
      fs.closeSync(logFd);
    }
    let exited: string | undefined;
    child.once("exit", (code, sig) => {
      exited = sig ? `signal ${sig}` : `code ${code}`;
    });
    await new Promise<void>((resolve, reject) => {
      child.once("spawn", resolve);
      child.once("error", reject);
    });
    child.unref();
    rec.containerdPid = child.pid;
    await writeRecord(rec);
    await waitReady(rec, () => exited, opts.startTimeoutMs ?? 30_000);
  } catch (err) {
    const tail = tailFile(rec.logPath, 30);
    const cleanup = await cleanupInstance(rec, inv, opts.stopTimeoutMs).then(
      () => undefined,
      (e: unknown) => e,
    );
    const msg =
      `containerd failed to start (${rec.base}): ${messageOf(err)}` +
      (tail ? `\n--- containerd.log (last lines) ---\n${tail}` : "") +
      (cleanup ? `\n--- cleanup after the failed start also failed ---\n${messageOf(cleanup)}` : "");
    throw new Error(msg, { cause: err });
  }
  return newHandle(rec, inv, opts.stopTimeoutMs);
}

/** Until ctr answers on the socket and lists the CRI plugin as loaded. */
async function waitReady(rec: InstanceRecord, exitedHow: () => string | undefined, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  let lastErr = "socket not up yet";
  for (;;) {
    const exited = exitedHow();
    if (exited) throw new Error(`containerd exited early (${exited})`);
    if (Date.now() > deadline) throw new Error(`not ready after ${timeoutMs} ms: ${lastErr}`);
    if (fs.existsSync(rec.socket)) {
      try {
        await runCtr(rec, ["version"], { timeoutMs: 5_000 });
        const plugins = await runCtr(rec, ["plugins", "ls"], { timeoutMs: 5_000 });
        const cri = plugins.split("\n").find((l) => /^io\.containerd\.grpc\.v1\s+cri\s/.test(l));
        if (!cri) throw new Error("the CRI plugin (io.containerd.grpc.v1 cri) is not listed");
        if (!/\sok\s*$/.test(cri)) throw new Error(`the CRI plugin did not load: ${cri.trim()}`);
        return;
      } catch (err) {
        lastErr = messageOf(err);
        if (/CRI plugin/.test(lastErr)) throw err;
      }
    }
    await sleep(100);
  }
}

const live = new Set<InstanceRecord>();
let exitHookInstalled = false;

function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test that forgets stop() must not leave a daemon running forever; the rest of its
  // mess is cleaned by the next startContainerd() in the same parent dir (cleanupStale).
  // SIGKILL, not SIGTERM: only synchronous work is possible here, and a containerd still
  // shutting down would make that later cleanup wait on a socket that no longer answers.
  process.once("exit", () => {
    for (const rec of live) {
      if (rec.containerdPid && isOurContainerd(rec)) {
        try {
          process.kill(rec.containerdPid, "SIGKILL");
        } catch {}
      }
    }
  });
}

function newHandle(rec: InstanceRecord, inv: Inventory, stopTimeoutMs?: number): Containerd {
  live.add(rec);
  installExitHook();
  let stopping: Promise<void> | undefined;
  let stopped = false;
  return {
    endpoint: `unix://${rec.socket}`,
    socket: rec.socket,
    baseDir: rec.base,
    root: rec.root,
    state: rec.state,
    pid: rec.containerdPid ?? 0,
    configPath: rec.configPath,
    logPath: rec.logPath,
    cniConfDir: rec.cniConfDir,
    runcRoot: rec.runcRoot,
    hostsDir: rec.hostsDir,
    bridge: rec.bridge,
    podCidr: rec.podCidr,
    env: { CONTAINERD_ADDRESS: rec.socket, CONTAINER_RUNTIME_ENDPOINT: `unix://${rec.socket}` },
    ctr: (args, o) => runCtr(rec, injectCtrFlags(rec, args), o),
    logTail: (lines = 30) => tailFile(rec.logPath, lines),
    leftovers: async () => findLeftovers(rec, inv),
    stop: async () => {
      if (stopped) return;
      if (!stopping) {
        stopping = cleanupInstance(rec, inv, stopTimeoutMs).then(
          () => {
            stopped = true;
            live.delete(rec);
          },
          (err: unknown) => {
            stopping = undefined; // a later stop() tries again
            throw err;
          },
        );
      }
      return stopping;
    },
  };
}
