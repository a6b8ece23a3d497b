// A private containerd (Debian's 1.6.x) for tests, demos and benchmarks: the reference
// runtime berth is compared against. startContainerd() gives every instance its own
// directory, socket, runc root, CNI network (bridge berthc<N>, 10.233.<N>.0/24) and
// registry hosts; stop() removes everything the instance and its shims made, and
// leftovers() lists whatever of it still exists, so tests can assert a clean machine.
//
// What an instance owns, and how stop() finds it again:
//   - <base>/ (berth-containerd-<N>): config, root, state, socket, runc root, CNI conf
//     and IPAM data, certs.d, opt, log. <N> is claimed by an atomic mkdir of the base
//     dir (skipping N whose bridge exists), so parallel instances in the same parent dir,
//     in any process, never share a bridge or a subnet.
//   - processes: containerd (its pid), the shims (`-address <our socket>`), anything
//     whose argv or root points into <base>, and every process in our containers'
//     cgroups.
//   - network namespaces: the CRI plugin is told `netns_mounts_under_state_dir`, so a
//     pod's netns is a bind mount under <state>/io.containerd.grpc.v1.cri/netns and never
//     touches /run/netns; unmounting everything under <base> frees them.
//   - mounts: every mount under <base> (overlay rootfs, sandbox shm, netns), deepest first.
//   - links: the bridge berthc<N> and the veths enslaved to it.
//   - cgroups: runc puts a container without a cgroup parent (ctr run, or a CRI pod whose
//     PodSandboxConfig has no cgroup_parent) at /<containerd namespace>/<id> in every
//     hierarchy, v1 controllers and the v2 unified one alike. We read the paths from the
//     bundles' config.json and runc's state.json, and remove the namespace directory too
//     when it did not exist before we started and is empty.
//   - outside <base>: the shim sockets containerd 1.6 always puts in /run/containerd/s,
//     the ctr/shim directories under /run/containerd, and libcni's result cache
//     (/var/lib/cni/results/<network>-<id>-eth0, cni-loopback-<id>-lo); directories we
//     created there are removed only when empty (a parallel instance may use them).
//
// CRI pods are stopped and removed through the CRI (so CNI DEL runs: IPAM, portmap
// rules) before anything is killed; a tiny gRPC client here does that without
// depending on generated code.
import { execFile, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import * as http2 from "node:http2";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";

export interface ContainerdOptions {
  /** Directory in which the instance directory berth-containerd-<N> is made (default os.tmpdir()). */
  parentDir?: string;
  /** CRI `sandbox_image`: must already be in namespace k8s.io or pullable from registryHosts. */
  sandboxImage: string;
  /** "127.0.0.1:PORT" registries served over plain HTTP; pulls and pushes to them work. */
  registryHosts?: string[];
  /** Pod subnet for the bridge network (default 10.233.<N>.0/24). */
  podCidr?: string;
  /** containerd log level (default "info"). */
  logLevel?: string;
  /** How long to wait for the socket and the CRI plugin (default 30 s). */
  startTimeoutMs?: number;
  /** How long containerd gets to exit after SIGTERM before SIGKILL (default 10 s). */
  stopTimeoutMs?: number;
  /** TOML appended verbatim to the generated config (must not repeat its tables). */
  extraConfig?: string;
  /** containerd binary (default "containerd" from PATH). */
  containerdBin?: string;
}

export type LeftoverKind = "process" | "mount" | "netns" | "link" | "cgroup" | "file";
export interface Leftover {
  kind: LeftoverKind;
  what: string;
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
  /** One unary CRI call ("/runtime.v1.RuntimeService/Version", protobuf-encoded body). */
  cri(method: string, body?: Uint8Array, timeoutMs?: number): Promise<Uint8Array>;
  /** Tail of containerd's log. */
  logTail(lines?: number): string;
  /** What of this instance still exists on the machine; empty after a successful stop(). */
  leftovers(): Promise<Leftover[]>;
  /** Removes everything; idempotent, keeps going on errors and throws them aggregated. */
  stop(): Promise<void>;
}

const INSTANCE_PREFIX = "berth-containerd-";
const MAX_INSTANCES = 256;
const RECORD_FILE = "instance.json";
const SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const RUN_CONTAINERD = "/run/containerd";
const VAR_LIB_CNI = "/var/lib/cni";
const CNI_BIN_DIR = "/usr/lib/cni";
const CRI = "/runtime.v1.RuntimeService";

/** Everything stop() needs, kept on disk too so a crashed run can be cleaned later. */
interface InstanceRecord {
  index: number;
  base: string;
  root: string;
  state: string;
  socket: string;
  configPath: string;
  logPath: string;
  runcRoot: string;
  fifoDir: string;
  hostsDir: string;
  cniConfDir: string;
  cniIpamDir: string;
  bridge: string;
  network: string;
  podCidr: string;
  ownerPid: number;
  containerdPid?: number;
  /** Which shared directories existed before we started (only those we made are removed). */
  preexisting: { paths: string[]; cgroupTops: string[] };
}

/** What stop() learned about containers, accumulated so leftovers() can check it later. */
interface Inventory {
  namespaces: Set<string>;
  cgroupDirs: Set<string>;
  shimSockets: Set<string>;
  veths: Set<string>;
  /** Container and sandbox ids (libcni's cache files are named after them). */
  ids: Set<string>;
}

// ---------------------------------------------------------------------------------------
// start

export async function startContainerd(opts: ContainerdOptions): Promise<Containerd> {
  const parentDir = path.resolve(opts.parentDir ?? os.tmpdir());
  await fsp.mkdir(parentDir, { recursive: true });
  // Crashed runs leave instance dirs whose owner is gone: clean them first so they do
  // not hold a bridge or subnet. Best effort: a failure here must not block a start.
  await cleanupStale(parentDir).catch(() => undefined);

  const { index, base } = await claimInstanceDir(parentDir);
  const state = path.join(base, "state");
  const rec: InstanceRecord = {
    index,
    base,
    root: path.join(base, "root"),
    state,
    socket: path.join(state, "containerd.sock"),
    configPath: path.join(base, "config.toml"),
    logPath: path.join(base, "containerd.log"),
    runcRoot: path.join(state, "runc"),
    fifoDir: path.join(state, "fifo"),
    hostsDir: path.join(base, "certs.d"),
    cniConfDir: path.join(base, "cni", "net.d"),
    cniIpamDir: path.join(base, "cni", "ipam"),
    bridge: `berthc${index}`,
    network: `berthc${index}`,
    podCidr: opts.podCidr ?? `10.233.${index}.0/24`,
    ownerPid: process.pid,
    preexisting: {
      paths: [RUN_CONTAINERD, `${RUN_CONTAINERD}/s`, `${RUN_CONTAINERD}/fifo`, `${RUN_CONTAINERD}/runc`]
        .concat([VAR_LIB_CNI, `${VAR_LIB_CNI}/results`])
        .concat(readdirSafe(`${RUN_CONTAINERD}/runc`).map((ns) => `${RUN_CONTAINERD}/runc/${ns}`))
        .filter((p) => fs.existsSync(p)),
      cgroupTops: listCgroupTops(),
    },
  };
  await writeRecord(rec);
  const inv = newInventory();

  let child: ReturnType<typeof spawn> | undefined;
  try {
    await writeConfig(rec, opts);
    const logFd = fs.openSync(rec.logPath, "a");
    try {
      child = spawn(opts.containerdBin ?? "containerd", ["--config", rec.configPath], {
        detached: true, // its own process group: a ^C to the test run must not half-kill it
        stdio: ["ignore", logFd, logFd],
        env: { ...process.env, PATH: `${process.env.PATH ?? ""}:${SYSTEM_PATH}` },
      });
    } finally {
      fs.closeSync(logFd);
    }
    const spawned = child;
    let exited: string | undefined;
    spawned.once("exit", (code, sig) => {
      exited = sig ? `signal ${sig}` : `code ${code}`;
    });
    await new Promise<void>((resolve, reject) => {
      spawned.once("spawn", resolve);
      spawned.once("error", reject);
    });
    spawned.unref();
    rec.containerdPid = spawned.pid;
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

async function claimInstanceDir(parentDir: string): Promise<{ index: number; base: string }> {
  for (let index = 0; index < MAX_INSTANCES; index++) {
    if (fs.existsSync(`/sys/class/net/berthc${index}`)) continue; // someone else's (or stale)
    const base = path.join(parentDir, `${INSTANCE_PREFIX}${index}`);
    try {
      await fsp.mkdir(base, { mode: 0o711 });
      return { index, base };
    } catch (err) {
      if (errnoOf(err) !== "EEXIST") throw err;
    }
  }
  throw new Error(`no free containerd test instance slot in ${parentDir} (${MAX_INSTANCES} in use)`);
}

async function writeRecord(rec: InstanceRecord): Promise<void> {
  const file = path.join(rec.base, RECORD_FILE);
  await fsp.writeFile(`${file}.tmp`, `${JSON.stringify(rec, null, 2)}\n`);
  await fsp.rename(`${file}.tmp`, file);
}

const tomlString = (s: string) => JSON.stringify(s); // a JSON string is a valid TOML basic string

async function writeConfig(rec: InstanceRecord, opts: ContainerdOptions): Promise<void> {
  const cri = `plugins."io.containerd.grpc.v1.cri"`;
  const lines = [
    "version = 2",
    `root = ${tomlString(rec.root)}`,
    `state = ${tomlString(rec.state)}`,
    // Negative adjustments need CAP_SYS_RESOURCE, which even root lacks on some hosts.
    "oom_score = 0",
    // Snapshotters that cannot work here only add noise (or errors) to the log.
    `disabled_plugins = ${JSON.stringify([
      "io.containerd.snapshotter.v1.aufs",
      "io.containerd.snapshotter.v1.btrfs",
      "io.containerd.snapshotter.v1.devmapper",
      "io.containerd.snapshotter.v1.zfs",
      "io.containerd.tracing.processor.v1.otlp",
      "io.containerd.internal.v1.tracing",
    ])}`,
    "",
    "[grpc]",
    `  address = ${tomlString(rec.socket)}`,
    "[ttrpc]",
    `  address = ${tomlString(`${rec.socket}.ttrpc`)}`,
    "[debug]",
    `  address = ""`,
    `  level = ${tomlString(opts.logLevel ?? "info")}`,
    "[metrics]",
    `  address = ""`,
    "",
    "[plugins]",
    `  [plugins."io.containerd.internal.v1.opt"]`,
    `    path = ${tomlString(path.join(rec.base, "opt"))}`,
    `  [${cri}]`,
    `    sandbox_image = ${tomlString(opts.sandboxImage)}`,
    "    restrict_oom_score_adj = true",
    "    enable_selinux = false",
    "    disable_apparmor = true",
    "    disable_tcp_service = true",
    `    stream_server_address = "127.0.0.1"`,
    `    stream_server_port = "0"`,
    // Pod netns bind mounts under <state>, not /run/netns: ours alone, and found by
    // unmounting everything under the base dir.
    "    netns_mounts_under_state_dir = true",
    `    [${cri}.containerd]`,
    `      snapshotter = "overlayfs"`,
    `      default_runtime_name = "runc"`,
    `      [${cri}.containerd.runtimes.runc]`,
    `        runtime_type = "io.containerd.runc.v2"`,
    `        [${cri}.containerd.runtimes.runc.options]`,
    "          SystemdCgroup = false",
    `          Root = ${tomlString(rec.runcRoot)}`,
    `    [${cri}.cni]`,
    `      bin_dir = ${tomlString(CNI_BIN_DIR)}`,
    `      conf_dir = ${tomlString(rec.cniConfDir)}`,
    "      max_conf_num = 1",
    `    [${cri}.registry]`,
    `      config_path = ${tomlString(rec.hostsDir)}`,
    "",
  ];
  if (opts.extraConfig) lines.push(opts.extraConfig, "");
  await fsp.mkdir(rec.cniConfDir, { recursive: true });
  await fsp.mkdir(rec.cniIpamDir, { recursive: true });
  await fsp.mkdir(rec.hostsDir, { recursive: true });
  await fsp.writeFile(rec.configPath, lines.join("\n"));

  // The CRI plugin adds the loopback network itself (go-cni WithLoNetwork), so the
  // conflist holds only the pod network: bridge + host-local, then portmap for hostPorts.
  const conflist = {
    cniVersion: "1.0.0",
    name: rec.network,
    plugins: [
      {
        type: "bridge",
        bridge: rec.bridge,
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: "host-local",
          ranges: [[{ subnet: rec.podCidr }]],
          routes: [{ dst: "0.0.0.0/0" }],
          dataDir: rec.cniIpamDir,
        },
      },
      { type: "portmap", capabilities: { portMappings: true } },
    ],
  };
  await fsp.writeFile(
    path.join(rec.cniConfDir, "10-berth.conflist"),
    `${JSON.stringify(conflist, null, 2)}\n`,
  );

  for (const host of opts.registryHosts ?? []) {
    const dir = path.join(rec.hostsDir, host);
    await fsp.mkdir(dir, { recursive: true });
    const hosts = [
      `server = ${tomlString(`http://${host}`)}`,
      "",
      `[host.${tomlString(`http://${host}`)}]`,
      `  capabilities = ["pull", "resolve", "push"]`,
      "  skip_verify = true",
      "",
    ];
    await fsp.writeFile(path.join(dir, "hosts.toml"), hosts.join("\n"));
  }
}

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

// ---------------------------------------------------------------------------------------
// the handle

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
  const pid = rec.containerdPid ?? 0;
  return {
    endpoint: `unix://${rec.socket}`,
    socket: rec.socket,
    baseDir: rec.base,
    root: rec.root,
    state: rec.state,
    pid,
    configPath: rec.configPath,
    logPath: rec.logPath,
    cniConfDir: rec.cniConfDir,
    runcRoot: rec.runcRoot,
    hostsDir: rec.hostsDir,
    bridge: rec.bridge,
    podCidr: rec.podCidr,
    env: { CONTAINERD_ADDRESS: rec.socket, CONTAINER_RUNTIME_ENDPOINT: `unix://${rec.socket}` },
    ctr: (args, o) => runCtr(rec, injectCtrFlags(rec, args), o),
    cri: (method, body, timeoutMs) => grpcUnary(rec.socket, method, body ?? new Uint8Array(), timeoutMs),
    logTail: (lines = 30) => tailFile(rec.logPath, lines),
    leftovers: () => findLeftovers(rec, inv),
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

// ---------------------------------------------------------------------------------------
// ctr

async function runCtr(
  rec: InstanceRecord,
  args: string[],
  opts: { timeoutMs?: number; input?: string } = {},
): Promise<string> {
  const res = await run("ctr", ["--address", rec.socket, ...args], opts);
  if (res.code !== 0) {
    throw new Error(`ctr ${args.join(" ")}: ${res.err.trim() || res.out.trim() || `exit ${res.code}`}`);
  }
  return res.out;
}

const GLOBAL_WITH_VALUE = new Set(["-n", "--namespace", "-a", "--address", "--timeout", "--connect-timeout"]);

/** Adds this instance's runc root / fifo dir / hosts dir to the ctr commands that take them. */
export function injectCtrFlags(
  rec: { runcRoot: string; fifoDir: string; hostsDir: string },
  args: string[],
): string[] {
  let i = 0;
  while (i < args.length && args[i]?.startsWith("-")) {
    const a = args[i] as string;
    i += GLOBAL_WITH_VALUE.has(a) ? 2 : 1;
  }
  const cmd = args[i];
  const has = (flag: string) => args.some((a) => a === flag || a.startsWith(`${flag}=`));
  const insertAt = (at: number, extra: string[]) => [...args.slice(0, at), ...extra, ...args.slice(at)];
  if (cmd === "run") {
    const extra: string[] = [];
    if (!has("--runc-root")) extra.push("--runc-root", rec.runcRoot);
    if (!has("--fifo-dir")) extra.push("--fifo-dir", rec.fifoDir);
    return insertAt(i + 1, extra);
  }
  const sub = args[i + 1];
  if (cmd === "t" || cmd === "task" || cmd === "tasks") {
    if ((sub === "start" || sub === "exec") && !has("--fifo-dir")) {
      return insertAt(i + 2, ["--fifo-dir", rec.fifoDir]);
    }
  }
  if (cmd === "i" || cmd === "image" || cmd === "images") {
    if ((sub === "pull" || sub === "push" || sub === "fetch") && !has("--hosts-dir")) {
      return insertAt(i + 2, ["--hosts-dir", rec.hostsDir]);
    }
  }
  return args;
}

// ---------------------------------------------------------------------------------------
// stop

function newInventory(): Inventory {
  return {
    namespaces: new Set(),
    cgroupDirs: new Set(),
    shimSockets: new Set(),
    veths: new Set(),
    ids: new Set(),
  };
}

async function cleanupInstance(rec: InstanceRecord, inv: Inventory, stopTimeoutMs = 10_000): Promise<void> {
  const errors: string[] = [];
  const step = async (name: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      errors.push(`${name}: ${messageOf(err)}`);
    }
  };
  const alive = () => isOurContainerd(rec);
  // The graceful steps talk to containerd; when it dies under them (crashed, killed by a
  // test) that is no error: the brute-force steps after them clean up instead.
  const apiStep = async (name: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      if (rec.containerdPid) await waitGone(rec.containerdPid, 500);
      if (alive()) errors.push(`${name}: ${messageOf(err)}`);
    }
  };

  await step("inventory", () => collectInventory(rec, inv));

  // 1. CRI pods, through the CRI: StopPodSandbox runs CNI DEL and tears the netns down.
  if (alive() && fs.existsSync(rec.socket)) {
    await apiStep("CRI pod cleanup", async () => {
      const ids = await listPodSandboxIds(rec.socket);
      for (const id of ids) inv.ids.add(id);
      const errs: string[] = [];
      for (const id of ids) {
        const body = pbString(1, id);
        for (const m of ["StopPodSandbox", "RemovePodSandbox"]) {
          try {
            await grpcUnary(rec.socket, `${CRI}/${m}`, body, 30_000);
          } catch (err) {
            errs.push(`${m} ${id}: ${messageOf(err)}`);
          }
        }
      }
      if (errs.length) throw new Error(errs.join("; "));
    });
  }

  // 2. Every task and container in every namespace, through containerd.
  if (alive() && fs.existsSync(rec.socket)) {
    await apiStep("containerd task cleanup", async () => {
      const errs: string[] = [];
      const nss = (await runCtr(rec, ["namespaces", "ls", "-q"], { timeoutMs: 10_000 })).split("\n");
      for (const ns of nss.map((s) => s.trim()).filter(Boolean)) {
        inv.namespaces.add(ns);
        const tasks = await runCtr(rec, ["-n", ns, "tasks", "ls", "-q"], { timeoutMs: 10_000 });
        for (const id of lines(tasks)) {
          await runCtr(rec, ["-n", ns, "tasks", "delete", "-f", id], { timeoutMs: 20_000 }).catch((e) =>
            errs.push(messageOf(e)),
          );
        }
        const ctrs = await runCtr(rec, ["-n", ns, "containers", "ls", "-q"], { timeoutMs: 10_000 });
        for (const id of lines(ctrs)) {
          inv.ids.add(id);
          await runCtr(rec, ["-n", ns, "containers", "delete", id], { timeoutMs: 20_000 }).catch((e) =>
            errs.push(messageOf(e)),
          );
        }
      }
      if (errs.length) throw new Error(errs.join("; "));
    });
  }
  await step("inventory", () => collectInventory(rec, inv));

  // 3. Whatever runc still has (containerd wedged or dead): kill and delete directly.
  await step("runc cleanup", () => runcCleanup(rec));

  // 4. containerd itself.
  await step("containerd shutdown", async () => {
    const pid = rec.containerdPid;
    if (!pid || !alive()) return;
    process.kill(pid, "SIGTERM");
    if (await waitGone(pid, stopTimeoutMs)) return;
    process.kill(pid, "SIGKILL");
    if (!(await waitGone(pid, 5_000))) throw new Error(`containerd pid ${pid} survives SIGKILL`);
  });

  // 5. Shims (they outlive containerd), container processes, stray helpers.
  await step("processes", async () => {
    const pids = ourProcesses(rec, inv).map((p) => p.pid);
    for (const pid of pids) signal(pid, "SIGTERM");
    const deadline = Date.now() + 3_000;
    while (Date.now() < deadline && pids.some(isAlive)) await sleep(50);
    for (const pid of pids.filter(isAlive)) signal(pid, "SIGKILL");
    const deadline2 = Date.now() + 3_000;
    while (Date.now() < deadline2 && pids.some(isAlive)) await sleep(50);
    const rest = ourProcesses(rec, inv);
    if (rest.length) throw new Error(`still running: ${rest.map((p) => `${p.pid} ${p.cmd}`).join(", ")}`);
  });

  // 6. Mounts under the base dir (rootfs, shm, netns), deepest first.
  await step("unmount", () => unmountUnder(rec.base));

  // 7. Network: veths still on our bridge, the bridge, libcni's cache.
  await step("network", () => networkCleanup(rec, inv));

  // 8. Cgroups of our containers, and the namespace dirs above them we created.
  await step("cgroups", () => cgroupCleanup(rec, inv));

  // 9. Files outside the base dir, then the base dir itself.
  await step("files", async () => {
    for (const s of inv.shimSockets) await fsp.rm(s, { force: true });
    for (const d of [`${RUN_CONTAINERD}/s`, `${RUN_CONTAINERD}/fifo`]) rmdirIfCreated(rec, d);
    for (const ns of inv.namespaces) rmdirIfCreated(rec, `${RUN_CONTAINERD}/runc/${ns}`);
    rmdirIfCreated(rec, `${RUN_CONTAINERD}/runc`);
    rmdirIfCreated(rec, RUN_CONTAINERD);
    rmdirIfCreated(rec, `${VAR_LIB_CNI}/results`);
    rmdirIfCreated(rec, VAR_LIB_CNI);
  });
  await step("base dir", async () => {
    if (!fs.existsSync(rec.base)) return;
    const mounts = mountsUnder(rec.base);
    if (mounts.length) throw new Error(`not removing ${rec.base}: still mounted: ${mounts.join(", ")}`);
    // --one-file-system: never follow a mount we failed to see into someone else's data.
    const res = await run("rm", ["-rf", "--one-file-system", rec.base], { timeoutMs: 60_000 });
    if (res.code !== 0 || fs.existsSync(rec.base)) throw new Error(`rm -rf ${rec.base}: ${res.err.trim()}`);
  });

  if (errors.length) {
    throw new Error(`stopping containerd ${rec.base} left problems:\n  ${errors.join("\n  ")}`);
  }
}

/** Reads bundles and runc state to learn namespaces, cgroups and shim sockets. */
async function collectInventory(rec: InstanceRecord, inv: Inventory): Promise<void> {
  const hierarchies = cgroupHierarchies();
  // Never adopt a hierarchy root or a cgroup we ourselves live in (we would kill ourselves).
  const addCgroupDir = (dir: string) => {
    const h = hierarchies.find((x) => dir.startsWith(`${x.mount}/`));
    if (!h) return;
    const rel = dir.slice(h.mount.length);
    if (h.ownPath === rel || h.ownPath.startsWith(`${rel}/`)) return;
    inv.cgroupDirs.add(dir);
  };
  const addCgroupsPath = (cgPath: string | undefined) => {
    if (!cgPath || cgPath.includes(":")) return; // systemd-style paths are not used here
    for (const h of hierarchies) {
      const rel = cgPath.startsWith("/") ? cgPath : path.join(h.ownPath, cgPath);
      addCgroupDir(path.join(h.mount, rel));
    }
  };
  const bundles = path.join(rec.state, "io.containerd.runtime.v2.task");
  for (const ns of readdirSafe(bundles)) {
    inv.namespaces.add(ns);
    for (const id of readdirSafe(path.join(bundles, ns))) {
      inv.ids.add(id);
      const dir = path.join(bundles, ns, id);
      const spec = readJsonSafe(path.join(dir, "config.json")) as
        | { linux?: { cgroupsPath?: string } }
        | undefined;
      addCgroupsPath(spec?.linux?.cgroupsPath);
      const addr = readFileSafe(path.join(dir, "address"))?.trim();
      if (addr?.startsWith("unix://")) inv.shimSockets.add(addr.slice("unix://".length));
    }
  }
  for (const { id, state } of runcStates(rec)) {
    inv.ids.add(id);
    for (const p of Object.values(state.cgroup_paths ?? {})) if (p) addCgroupDir(p);
  }
  for (const ns of readdirSafe(rec.runcRoot)) inv.namespaces.add(ns);
}

interface RuncState {
  id?: string;
  init_process_pid?: number;
  cgroup_paths?: Record<string, string>;
  config?: { labels?: string[] };
}

/** runc containers of this instance: all in our runc root, and those in the default root with our bundles. */
function runcStates(rec: InstanceRecord): { root: string; id: string; state: RuncState }[] {
  const out: { root: string; id: string; state: RuncState }[] = [];
  const roots: { dir: string; mine: boolean }[] = [{ dir: rec.runcRoot, mine: true }];
  roots.push({ dir: `${RUN_CONTAINERD}/runc`, mine: false });
  for (const r of roots) {
    for (const ns of readdirSafe(r.dir)) {
      const root = path.join(r.dir, ns);
      for (const id of readdirSafe(root)) {
        const state = readJsonSafe(path.join(root, id, "state.json")) as RuncState | undefined;
        if (!state) continue;
        const bundle = state.config?.labels?.find((l) => l.startsWith("bundle="))?.slice("bundle=".length);
        if (r.mine || bundle?.startsWith(`${rec.state}/`)) out.push({ root, id, state });
      }
    }
  }
  return out;
}

async function runcCleanup(rec: InstanceRecord): Promise<void> {
  const errs: string[] = [];
  for (const { root, id, state } of runcStates(rec)) {
    const res = await run("runc", ["--root", root, "delete", "--force", id], { timeoutMs: 20_000 });
    if (res.code !== 0 && fs.existsSync(path.join(root, id))) {
      // runc could not: kill the init by pid, then drop its state dir.
      const pid = state.init_process_pid;
      if (pid && isAlive(pid)) signal(pid, "SIGKILL");
      await fsp.rm(path.join(root, id), { recursive: true, force: true });
      errs.push(`runc delete ${id}: ${res.err.trim()}`);
    }
  }
  if (errs.length) throw new Error(errs.join("; "));
}

async function networkCleanup(rec: InstanceRecord, inv: Inventory): Promise<void> {
  const errs: string[] = [];
  for (const v of enslavedTo(rec.bridge)) inv.veths.add(v);
  // A veth dies with its netns once the last process and bind mount are gone; give
  // the kernel a moment, then delete what is left.
  const deadline = Date.now() + 3_000;
  while (Date.now() < deadline && [...inv.veths].some(linkExists)) await sleep(50);
  for (const v of [...inv.veths].filter(linkExists)) {
    const res = await run("ip", ["link", "del", v]);
    if (res.code !== 0 && linkExists(v)) errs.push(`ip link del ${v}: ${res.err.trim()}`);
  }
  if (linkExists(rec.bridge)) {
    const res = await run("ip", ["link", "del", rec.bridge]);
    if (res.code !== 0 && linkExists(rec.bridge)) errs.push(`ip link del ${rec.bridge}: ${res.err.trim()}`);
  }
  for (const f of cniCacheFiles(rec, inv)) await fsp.rm(f, { force: true, recursive: true });
  if (errs.length) throw new Error(errs.join("; "));
}

async function cgroupCleanup(rec: InstanceRecord, inv: Inventory): Promise<void> {
  const errs: string[] = [];
  // Deepest first, so a pod's children go before it.
  const dirs = [...inv.cgroupDirs].sort((a, b) => b.length - a.length);
  for (const dir of dirs) {
    if (!fs.existsSync(dir)) continue;
    let lastErr: unknown;
    for (let attempt = 0; attempt < 40 && fs.existsSync(dir); attempt++) {
      try {
        for (const sub of subdirs(dir).sort((a, b) => b.length - a.length)) fs.rmdirSync(sub);
        fs.rmdirSync(dir);
      } catch (err) {
        lastErr = err;
        for (const pid of cgroupProcs(dir)) signal(pid, "SIGKILL");
        await sleep(50); // a dead task leaves its cgroup a moment later
      }
    }
    if (fs.existsSync(dir)) errs.push(`rmdir ${dir}: ${messageOf(lastErr)}`);
  }
  for (const dir of createdCgroupAncestors(rec, inv)) {
    try {
      fs.rmdirSync(dir); // fails while another instance still has containers there
    } catch {}
  }
  if (errs.length) throw new Error(errs.join("; "));
}

/** Ancestors of our cgroups (e.g. /sys/fs/cgroup/memory/k8s.io) under a top-level dir that did not exist at start. */
function createdCgroupAncestors(rec: InstanceRecord, inv: Inventory): string[] {
  const pre = new Set(rec.preexisting.cgroupTops);
  const out = new Set<string>();
  for (const h of cgroupHierarchies()) {
    for (const dir of inv.cgroupDirs) {
      if (!dir.startsWith(`${h.mount}/`)) continue;
      const parts = dir.slice(h.mount.length + 1).split("/");
      const top = `${h.mount}/${parts[0]}`;
      if (pre.has(top)) continue;
      for (let n = parts.length - 1; n >= 1; n--) out.add(`${h.mount}/${parts.slice(0, n).join("/")}`);
    }
  }
  return [...out].sort((a, b) => b.length - a.length);
}

function rmdirIfCreated(rec: InstanceRecord, dir: string) {
  if (rec.preexisting.paths.includes(dir)) return;
  try {
    fs.rmdirSync(dir); // only when empty: a parallel instance may still use it
  } catch {}
}

// ---------------------------------------------------------------------------------------
// leftovers

async function findLeftovers(rec: InstanceRecord, inv: Inventory): Promise<Leftover[]> {
  if (fs.existsSync(rec.base)) await collectInventory(rec, inv).catch(() => undefined);
  const out: Leftover[] = [];
  for (const p of ourProcesses(rec, inv)) out.push({ kind: "process", what: `${p.pid} ${p.cmd}` });
  if (rec.containerdPid && isOurContainerd(rec)) {
    if (!out.some((l) => l.what.startsWith(`${rec.containerdPid} `)))
      out.push({ kind: "process", what: `${rec.containerdPid} containerd` });
  }
  for (const m of mountsUnder(rec.base)) {
    out.push({ kind: m.includes("/netns/") ? "netns" : "mount", what: m });
  }
  for (const l of [rec.bridge, ...inv.veths, ...enslavedTo(rec.bridge)]) {
    if (linkExists(l) && !out.some((o) => o.kind === "link" && o.what === l))
      out.push({ kind: "link", what: l });
  }
  for (const d of inv.cgroupDirs) if (fs.existsSync(d)) out.push({ kind: "cgroup", what: d });
  for (const d of createdCgroupAncestors(rec, inv)) {
    if (fs.existsSync(d) && subdirs(d).length === 0) out.push({ kind: "cgroup", what: d });
  }
  if (fs.existsSync(rec.base)) out.push({ kind: "file", what: rec.base });
  for (const s of inv.shimSockets) if (fs.existsSync(s)) out.push({ kind: "file", what: s });
  for (const f of cniCacheFiles(rec, inv)) out.push({ kind: "file", what: f });
  return out;
}

// ---------------------------------------------------------------------------------------
// stale instances

/**
 * Cleans instance dirs under parentDir whose owning process is gone (a test run that
 * crashed or never called stop()). Returns the dirs it cleaned.
 */
export async function cleanupStale(parentDir: string = os.tmpdir()): Promise<string[]> {
  const cleaned: string[] = [];
  const errs: string[] = [];
  for (const name of readdirSafe(parentDir)) {
    if (!name.startsWith(INSTANCE_PREFIX)) continue;
    const base = path.join(parentDir, name);
    const rec = readJsonSafe(path.join(base, RECORD_FILE)) as InstanceRecord | undefined;
    if (!rec) {
      // Being claimed right now, or unusable: leave young ones alone.
      const age = Date.now() - (fs.statSync(base, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age < 10 * 60_000) continue;
      errs.push(`${base}: no ${RECORD_FILE}; remove it by hand`);
      continue;
    }
    if (rec.base !== base || isAlive(rec.ownerPid)) continue;
    try {
      await cleanupInstance(rec, newInventory());
      cleaned.push(base);
    } catch (err) {
      errs.push(messageOf(err));
    }
  }
  if (errs.length) throw new Error(errs.join("\n"));
  return cleaned;
}

// ---------------------------------------------------------------------------------------
// processes, mounts, links, cgroups

interface Proc {
  pid: number;
  argv: string[];
  cmd: string;
}

function listProcs(): Proc[] {
  const out: Proc[] = [];
  for (const name of readdirSafe("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const raw = readFileSafe(`/proc/${name}/cmdline`);
    if (!raw) continue; // kernel thread, zombie, or gone
    const argv = raw.split("\0");
    if (argv[argv.length - 1] === "") argv.pop();
    out.push({ pid: Number(name), argv, cmd: argv.join(" ").slice(0, 200) });
  }
  return out;
}

/** Our containerd, its shims, anything pointing into the base dir, and every process in our cgroups. */
function ourProcesses(rec: InstanceRecord, inv: Inventory): Proc[] {
  const byCgroup = new Set<number>();
  for (const d of inv.cgroupDirs) for (const pid of cgroupProcs(d)) byCgroup.add(pid);
  const prefix = `${rec.base}/`;
  return listProcs().filter((p) => {
    if (p.pid === process.pid) return false;
    if (byCgroup.has(p.pid)) return true;
    if (p.argv.some((a) => a === rec.base || a.startsWith(prefix))) return true;
    const root = readlinkSafe(`/proc/${p.pid}/root`);
    return root?.startsWith(prefix) ?? false;
  });
}

function isOurContainerd(rec: InstanceRecord): boolean {
  const pid = rec.containerdPid;
  if (!pid) return false;
  const raw = readFileSafe(`/proc/${pid}/cmdline`);
  return raw?.split("\0").includes(rec.configPath) ?? false;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return errnoOf(err) === "EPERM";
  }
  // A zombie is dead for our purposes.
  const stat = readFileSafe(`/proc/${pid}/stat`);
  return !stat || !/^\d+ \(.*\) Z/.test(stat);
}

function signal(pid: number, sig: NodeJS.Signals) {
  try {
    process.kill(pid, sig);
  } catch {}
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await sleep(50);
  }
  return !isAlive(pid);
}

/** Mount points under dir, deepest first (mountinfo escapes space, tab, newline, backslash). */
function mountsUnder(dir: string): string[] {
  const info = readFileSafe("/proc/self/mountinfo") ?? "";
  const prefix = `${dir}/`;
  const out: string[] = [];
  for (const line of info.split("\n")) {
    const field = line.split(" ")[4];
    if (!field) continue;
    const mp = field.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
    if (mp === dir || mp.startsWith(prefix)) out.push(mp);
  }
  return [...new Set(out)].sort((a, b) => b.split("/").length - a.split("/").length || b.length - a.length);
}

async function unmountUnder(dir: string): Promise<void> {
  for (let pass = 0; pass < 5; pass++) {
    const mounts = mountsUnder(dir);
    if (!mounts.length) return;
    for (const m of mounts) {
      const res = await run("umount", [m]);
      if (res.code !== 0) await run("umount", ["-l", m]);
    }
  }
  const rest = mountsUnder(dir);
  if (rest.length) throw new Error(`still mounted: ${rest.join(", ")}`);
}

function linkExists(name: string): boolean {
  return fs.existsSync(`/sys/class/net/${name}`);
}

function enslavedTo(bridge: string): string[] {
  return readdirSafe(`/sys/class/net/${bridge}/brif`);
}

/** libcni's result cache of our pods: <network>-<id>-<ifname>, and the CRI's loopback network's. */
function cniCacheFiles(rec: InstanceRecord, inv: Inventory): string[] {
  const dir = `${VAR_LIB_CNI}/results`;
  return readdirSafe(dir)
    .filter((f) => {
      if (f.startsWith(`${rec.network}-`)) return true;
      const m = /^cni-loopback-(.+)-lo$/.exec(f);
      return m?.[1] !== undefined && inv.ids.has(m[1]);
    })
    .map((f) => path.join(dir, f));
}

interface Hierarchy {
  mount: string;
  /** This process's cgroup in that hierarchy (where relative cgroupsPaths are rooted). */
  ownPath: string;
}

function cgroupHierarchies(): Hierarchy[] {
  const info = readFileSafe("/proc/self/mountinfo") ?? "";
  const own = (readFileSafe("/proc/self/cgroup") ?? "").split("\n").filter(Boolean);
  const out: Hierarchy[] = [];
  for (const line of info.split("\n")) {
    const [pre, post] = line.split(" - ");
    if (!pre || !post) continue;
    const mount = pre.split(" ")[4];
    const [fstype, , superOpts = ""] = post.split(" ");
    if (!mount || (fstype !== "cgroup" && fstype !== "cgroup2")) continue;
    let ownPath = "/";
    if (fstype === "cgroup2") {
      ownPath = own.find((l) => l.startsWith("0::"))?.slice(3) ?? "/";
    } else {
      const ctrls = superOpts.split(",").filter((o) => o !== "rw" && o !== "ro" && !o.startsWith("relatime"));
      for (const l of own) {
        const [, names = "", p = "/"] = l.split(/:(.*?):/);
        const set = names.split(",");
        if (set.length && set.every((n) => ctrls.includes(n)) && ctrls.some((c) => set.includes(c)))
          ownPath = p;
      }
    }
    out.push({ mount, ownPath });
  }
  return out;
}

/** Top-level dirs in every cgroup hierarchy, to know later which ones we created. */
function listCgroupTops(): string[] {
  const out: string[] = [];
  for (const h of cgroupHierarchies()) {
    for (const d of subdirs(h.mount, 1)) out.push(d);
  }
  return out;
}

function subdirs(dir: string, depth = Number.POSITIVE_INFINITY): string[] {
  const out: string[] = [];
  if (depth <= 0) return out;
  for (const e of readdirEntriesSafe(dir)) {
    if (!e.isDirectory()) continue;
    const p = path.join(dir, e.name);
    out.push(p, ...subdirs(p, depth - 1));
  }
  return out;
}

function cgroupProcs(dir: string): number[] {
  const raw = readFileSafe(path.join(dir, "cgroup.procs"));
  const pids = raw ? raw.split("\n").filter(Boolean).map(Number) : [];
  for (const sub of subdirs(dir)) {
    const r = readFileSafe(path.join(sub, "cgroup.procs"));
    if (r) pids.push(...r.split("\n").filter(Boolean).map(Number));
  }
  return pids.filter((p) => p !== process.pid);
}

// ---------------------------------------------------------------------------------------
// a minimal gRPC client (unary calls over h2c on a unix socket) and protobuf wire helpers

/** One unary gRPC call; resolves with the response message bytes, rejects on a non-OK status. */
export function grpcUnary(
  socket: string,
  method: string,
  body: Uint8Array,
  timeoutMs = 30_000,
): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const session = http2.connect("http://localhost", { createConnection: () => net.connect(socket) });
    let settled = false;
    const finish = (err: Error | undefined, data?: Uint8Array) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.close();
      session.destroy();
      if (err) reject(err);
      else resolve(data ?? new Uint8Array());
    };
    const timer = setTimeout(
      () => finish(new Error(`${method}: no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    session.on("error", (err) => finish(new Error(`${method}: ${err.message}`)));
    const req = session.request({
      ":method": "POST",
      ":path": method,
      "content-type": "application/grpc",
      te: "trailers",
    });
    const chunks: Buffer[] = [];
    let status: string | undefined;
    let message = "";
    const takeStatus = (h: http2.IncomingHttpHeaders) => {
      if (h["grpc-status"] !== undefined) {
        status = String(h["grpc-status"]);
        message = decodeURIComponent(String(h["grpc-message"] ?? ""));
      }
    };
    req.on("response", takeStatus);
    req.on("trailers", takeStatus);
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("error", (err) => finish(new Error(`${method}: ${err.message}`)));
    req.on("end", () => {
      if (status !== "0") {
        finish(new Error(`${method}: grpc status ${status ?? "missing"}${message ? `: ${message}` : ""}`));
        return;
      }
      const buf = Buffer.concat(chunks);
      if (buf.length < 5) return finish(undefined, new Uint8Array());
      const len = buf.readUInt32BE(1);
      finish(undefined, new Uint8Array(buf.subarray(5, 5 + len)));
    });
    const frame = Buffer.alloc(5 + body.length);
    frame.writeUInt32BE(body.length, 1);
    frame.set(body, 5);
    req.end(frame);
  });
}

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

/** A length-delimited field (string, bytes or an embedded message already encoded). */
export function pbBytes(field: number, data: Uint8Array): Uint8Array {
  return Uint8Array.from([...varint((field << 3) | 2), ...varint(data.length), ...data]);
}
export const pbString = (field: number, s: string) => pbBytes(field, new TextEncoder().encode(s));
export function pbVarint(field: number, n: number): Uint8Array {
  return Uint8Array.from([...varint(field << 3), ...varint(n)]);
}
/** Concatenates encoded fields into one message. */
export function pbMessage(...fields: Uint8Array[]): Uint8Array {
  return Uint8Array.from(fields.flatMap((f) => [...f]));
}

/** Decodes one message level: field number -> values (varints as numbers, the rest as bytes). */
export function pbDecode(buf: Uint8Array): Map<number, (number | Uint8Array)[]> {
  const out = new Map<number, (number | Uint8Array)[]>();
  let i = 0;
  const readVarint = () => {
    let v = 0;
    let mul = 1;
    for (;;) {
      const b = buf[i++];
      if (b === undefined) throw new Error("protobuf: truncated varint");
      v += (b & 0x7f) * mul;
      mul *= 128;
      if (b < 0x80) return v;
    }
  };
  while (i < buf.length) {
    const key = readVarint();
    const field = Math.floor(key / 8);
    let value: number | Uint8Array;
    switch (key & 7) {
      case 0:
        value = readVarint();
        break;
      case 1:
        value = buf.subarray(i, i + 8);
        i += 8;
        break;
      case 2: {
        const len = readVarint();
        value = buf.subarray(i, i + len);
        i += len;
        break;
      }
      case 5:
        value = buf.subarray(i, i + 4);
        i += 4;
        break;
      default:
        throw new Error(`protobuf: unsupported wire type ${key & 7}`);
    }
    const list = out.get(field) ?? [];
    list.push(value);
    out.set(field, list);
  }
  return out;
}

export function pbGetString(msg: Map<number, (number | Uint8Array)[]>, field: number): string | undefined {
  const v = msg.get(field)?.[0];
  return v instanceof Uint8Array ? new TextDecoder().decode(v) : undefined;
}

async function listPodSandboxIds(socket: string): Promise<string[]> {
  const resp = pbDecode(await grpcUnary(socket, `${CRI}/ListPodSandbox`, new Uint8Array(), 15_000));
  return (resp.get(1) ?? [])
    .filter((v): v is Uint8Array => v instanceof Uint8Array)
    .map((item) => pbGetString(pbDecode(item), 1))
    .filter((id): id is string => !!id);
}

// ---------------------------------------------------------------------------------------
// small helpers

interface RunResult {
  code: number;
  out: string;
  err: string;
}

function run(
  cmd: string,
  args: string[],
  opts: { timeoutMs?: number; input?: string } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      {
        timeout: opts.timeoutMs ?? 30_000,
        maxBuffer: 64 * 1024 * 1024,
        env: { ...process.env, PATH: `${process.env.PATH ?? ""}:${SYSTEM_PATH}` },
      },
      (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { code?: number | string; killed?: boolean }) | null;
        let code = 0;
        if (e) code = typeof e.code === "number" ? e.code : 1;
        let errText = String(stderr);
        if (e && typeof e.code !== "number") errText ||= e.message;
        if (e?.killed) errText = `timed out after ${opts.timeoutMs ?? 30_000} ms; ${errText}`;
        resolve({ code, out: String(stdout), err: errText });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const lines = (s: string) =>
  s
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);

function errnoOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function readdirSafe(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

function readdirEntriesSafe(dir: string): fs.Dirent[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

function readFileSafe(file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

function readlinkSafe(file: string): string | undefined {
  try {
    return fs.readlinkSync(file);
  } catch {
    return undefined;
  }
}

function readJsonSafe(file: string): unknown {
  const raw = readFileSafe(file);
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

function tailFile(file: string, n: number): string {
  const raw = readFileSafe(file);
  if (!raw) return "";
  return raw.trimEnd().split("\n").slice(-n).join("\n");
}
