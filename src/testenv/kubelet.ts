import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rename, rm, rmdir, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Pod } from "kubernetes-types/core/v1.js";
import { parse, stringify } from "yaml";
import { messageOf } from "../lib/errdefs.js";
import { freePort } from "../lib/free-port.js";
import type { LogLevel } from "../lib/log.js";
import { DaemonProcess, type Exit, logTail } from "../up/daemon-process.js";
import { cgroupHierarchies, cgroupProcs, subdirs } from "./containerd/cgroups.js";
import { readdirSafe, readFileSafe } from "./containerd/files.js";
import type { Leftover } from "./containerd/leftovers.js";
import { mountsUnder, unmountUnder } from "./containerd/mounts.js";
import { repoRoot } from "./images.js";

export interface BerthKubeletOptions {
  /** The CRI endpoint, unix://<socket>. */
  runtimeEndpoint: string;
  /** Static pod manifests (default <dir>/manifests, made empty). */
  staticPodDir?: string;
  /** Keys set over the harness's KubeletConfiguration, e.g. { syncFrequency: "1s" }. */
  configOverrides?: Record<string, unknown>;
  /** --log-level (default "debug", so a failing test has the whole story in the log). */
  logLevel?: LogLevel;
  /** --node-name (default "berth-e2e"): static pods are named <name>-<nodeName>. */
  nodeName?: string;
  /** Node flags before bin/berth, e.g. --cpu-prof (which NODE_OPTIONS may not carry). */
  nodeArgs?: string[];
  /** How long to wait for the local API to answer (default 20 s). */
  startTimeoutMs?: number;
  /** Flags after the harness's own, e.g. ["--container-gc-period", "2s"]. */
  extraArgs?: string[];
}

export type KubeletExit = Exit;

export interface BerthKubelet {
  readonly dir: string;
  readonly rootDir: string;
  /** The local API socket. */
  readonly socket: string;
  readonly staticPodDir: string;
  readonly configPath: string;
  readonly logPath: string;
  /** --cgroup-root, e.g. "/berth-kubelet-123-1", made in every mounted hierarchy. */
  readonly cgroupRoot: string;
  readonly nodeName: string;
  /** http://127.0.0.1:<healthzPort>/healthz (a free port unless configOverrides set one; none for 0). */
  readonly healthzUrl?: string;
  /** http://127.0.0.1:<readOnlyPort>, the read-only API (a free port unless configOverrides set one; none for 0). */
  readonly readOnlyUrl?: string;
  /** The running kubelet's pid (a new one after restart()). */
  readonly pid: number;
  /** PUT to the local API: creates the pod or replaces the one of its name; the stored pod. */
  apply(pod: string | Pod): Promise<Pod>;
  /** A graceful DELETE (the pod's grace period unless one is given); the pod marked for deletion. */
  delete(namespace: string, name: string, gracePeriodSeconds?: number): Promise<Pod>;
  /** The pod with the kubelet's status; undefined once it is gone. */
  getPod(namespace: string, name: string): Promise<Pod | undefined>;
  /** Every pod the local API holds. */
  listPods(): Promise<Pod[]>;
  /** Polls getPod until `predicate` holds (it sees undefined for a pod that is gone); the last pod. */
  waitFor(
    namespace: string,
    name: string,
    predicate: (pod: Pod | undefined) => boolean,
    timeoutMs: number,
  ): Promise<Pod | undefined>;
  /** Writes a manifest into the static pod dir in one rename (a half-written file is never read). */
  writeStaticPod(file: string, pod: string | Pod): Promise<void>;
  removeStaticPod(file: string): Promise<void>;
  logTail(lines?: number): string;
  /** SIGTERM and wait for the exit (undefined when not running); dirs and cgroups stay. */
  terminate(): Promise<KubeletExit | undefined>;
  /** SIGTERM (if running) and start again with the same dirs and flags. */
  restart(): Promise<void>;
  /** SIGKILL and wait: what a crash leaves stays, for restart() to find. */
  kill9(): Promise<void>;
  /** Terminates it if running, removes its cgroup tree bottom-up and its dir; idempotent. */
  stop(): Promise<KubeletExit | undefined>;
  /**
   * What of this kubelet's pods is still on the machine (processes and pod cgroups below its cgroup
   * root, mounts under its dir); after stop() also the kubelet itself, its cgroup root and its dir.
   */
  leftovers(): Promise<Leftover[]>;
}

const berthBin = join(repoRoot(), "bin", "berth");
let instances = 0;

/** The mount points of the cgroup hierarchies this host has mounted (v1 controllers and v2). */
function mountedHierarchies(): string[] {
  return cgroupHierarchies()
    .map((h) => h.mount)
    .filter((m) => m.startsWith("/sys/fs/cgroup/"));
}

export async function startBerthKubelet(opts: BerthKubeletOptions): Promise<BerthKubelet> {
  instances += 1;
  const dir = await mkdtemp(join(tmpdir(), "berth-kubelet-"));
  const rootDir = join(dir, "root");
  const socket = join(dir, "kubelet.sock");
  const staticPodDir = opts.staticPodDir ?? join(dir, "manifests");
  const configPath = join(dir, "kubelet.yaml");
  const logPath = join(dir, "kubelet.log");
  const cgroupRoot = `/berth-kubelet-${process.pid}-${instances}`;
  const nodeName = opts.nodeName ?? "berth-e2e";
  const cgroupDirs = mountedHierarchies().map((h) => join(h, cgroupRoot));
  // Ports of its own for every harness kubelet, so that tests never share one.
  const healthzPort = await freePort();
  let readOnlyPort = await freePort();
  while (readOnlyPort === healthzPort) readOnlyPort = await freePort();
  const config = {
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    cgroupRoot,
    podLogsDir: join(dir, "logs"),
    resolvConf: "/etc/resolv.conf",
    fileCheckFrequency: "2s",
    syncFrequency: "10s",
    healthzPort,
    readOnlyPort,
    ...opts.configOverrides,
  };
  const urlOf = (port: unknown, path: string) => (port ? `http://127.0.0.1:${port}${path}` : undefined);
  const healthzUrl = urlOf(config.healthzPort, "/healthz");
  const readOnlyUrl = urlOf(config.readOnlyPort, "");
  const args = [
    "--config",
    configPath,
    "--root-dir",
    rootDir,
    "--local-api-socket",
    socket,
    "--container-runtime-endpoint",
    opts.runtimeEndpoint,
    "--static-pod-path",
    staticPodDir,
    "--node-name",
    nodeName,
    "--log-level",
    opts.logLevel ?? "debug",
    ...(opts.extraArgs ?? []),
  ];
  const timeoutMs = opts.startTimeoutMs ?? 20_000;
  let proc: DaemonProcess | undefined;
  let stopped = false;

  const terminate = async (): Promise<KubeletExit> => {
    if (!proc) throw new Error("berth kubelet is not running");
    const exit = await proc.stop(15_000);
    proc = undefined;
    return exit;
  };
  const start = async () => {
    proc = await DaemonProcess.start({
      command: "kubelet",
      args,
      logPath,
      nodeArgs: opts.nodeArgs ?? [],
      script: berthBin,
      readyTimeoutMs: timeoutMs,
      ready: async () => (await localApi(socket, "GET", "/api/v1/pods")).code === 200,
    });
  };
  const removeCgroupTree = async (): Promise<string[]> => {
    const errors: string[] = [];
    for (const top of cgroupDirs) {
      if (!existsSync(top)) continue;
      // Children before parents: rmdir takes only empty cgroups.
      const all = [top, ...subdirs(top)].sort((a, b) => b.length - a.length);
      for (const d of all) {
        await rmdir(d).catch((err: unknown) => errors.push(`rmdir ${d}: ${messageOf(err)}`));
      }
    }
    return errors;
  };

  const api = (method: string, path: string, body?: unknown) => localApi(socket, method, path, body);
  const getPod = async (namespace: string, name: string): Promise<Pod | undefined> => {
    const r = await api("GET", podPath(namespace, name));
    if (r.code === 404) return undefined;
    return expectOk(r, `get pod ${namespace}/${name}`) as Pod;
  };

  try {
    await mkdir(staticPodDir, { recursive: true });
    await writeFile(configPath, stringify(config));
    // --cgroup-root must exist beforehand; only in hierarchies that are mounted, since a dir made
    // directly in the /sys/fs/cgroup tmpfs would be an ordinary directory on the host.
    for (const d of cgroupDirs) await mkdir(d);
    await start();
  } catch (err) {
    await removeCgroupTree();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }

  return {
    dir,
    rootDir,
    socket,
    staticPodDir,
    configPath,
    logPath,
    cgroupRoot,
    nodeName,
    ...(healthzUrl ? { healthzUrl } : {}),
    ...(readOnlyUrl ? { readOnlyUrl } : {}),
    get pid() {
      if (!proc) throw new Error("berth kubelet is not running");
      return proc.pid;
    },
    apply: async (pod) => {
      const obj = (typeof pod === "string" ? parse(pod) : pod) as Pod;
      const ns = obj.metadata?.namespace || "default";
      const r = await api("PUT", `/api/v1/namespaces/${encodeURIComponent(ns)}/pods`, obj);
      return expectOk(r, `apply pod ${ns}/${obj.metadata?.name}`) as Pod;
    },
    delete: async (namespace, name, gracePeriodSeconds) => {
      const query = gracePeriodSeconds === undefined ? "" : `?gracePeriodSeconds=${gracePeriodSeconds}`;
      const r = await api("DELETE", `${podPath(namespace, name)}${query}`);
      return expectOk(r, `delete pod ${namespace}/${name}`) as Pod;
    },
    getPod,
    listPods: async () => {
      const r = await api("GET", "/api/v1/pods");
      return (expectOk(r, "list pods") as { items: Pod[] }).items;
    },
    waitFor: async (namespace, name, predicate, waitMs) => {
      const deadline = Date.now() + waitMs;
      let last: Pod | undefined;
      for (;;) {
        last = await getPod(namespace, name);
        if (predicate(last)) return last;
        if (Date.now() > deadline) {
          throw new Error(
            `pod ${namespace}/${name}: condition not met within ${waitMs} ms; last seen:\n` +
              `${JSON.stringify(last?.status ?? "gone", null, 1)}\n--- kubelet log ---\n${logTail(logPath, 15)}`,
          );
        }
        await sleep(200);
      }
    },
    writeStaticPod: async (file, pod) => {
      const text = typeof pod === "string" ? pod : stringify(pod);
      // The file source skips dotfiles, so the temporary name is never read.
      const tmp = join(staticPodDir, `.${file}.tmp`);
      await writeFile(tmp, text);
      await rename(tmp, join(staticPodDir, file));
    },
    removeStaticPod: (file) => rm(join(staticPodDir, file), { force: true }),
    logTail: (lines = 40) => logTail(logPath, lines),
    terminate: async () => (proc ? terminate() : undefined),
    restart: async () => {
      if (proc) await terminate();
      await start();
    },
    kill9: async () => {
      if (!proc) throw new Error("berth kubelet is not running");
      await proc.kill();
      proc = undefined;
    },
    stop: async () => {
      if (stopped) return undefined;
      stopped = true;
      const exit = proc ? await terminate() : undefined;
      const errors = await removeCgroupTree();
      try {
        // An rm -r through a mount point would empty the mounted filesystem.
        await unmountUnder(dir);
        await rm(dir, { recursive: true, force: true });
      } catch (err) {
        errors.push(messageOf(err));
      }
      if (errors.length > 0) throw new Error(`berth kubelet cleanup failed:\n${errors.join("\n")}`);
      return exit;
    },
    leftovers: async () => {
      const out: Leftover[] = [];
      const existing = cgroupDirs.filter((d) => existsSync(d));
      const below = existing.flatMap((d) => subdirs(d));
      const procs = new Set(existing.flatMap((d) => cgroupProcs(d)));
      const kubeletPid = proc?.pid ?? 0;
      for (const name of readdirSafe("/proc")) {
        const pid = Number(name);
        if (!/^\d+$/.test(name) || pid === process.pid || pid === kubeletPid) continue;
        const argv = (readFileSafe(`/proc/${name}/cmdline`) ?? "").split("\0").filter(Boolean);
        if (procs.has(pid) || argv.some((a) => a.includes(dir))) {
          out.push({ kind: "process", what: `${pid} ${argv.join(" ").slice(0, 200)}` });
        }
      }
      for (const m of mountsUnder(dir)) out.push({ kind: "mount", what: m });
      // While the kubelet runs, its node-level cgroups (kubepods and the QoS tiers) belong to it.
      const podCgroups = proc ? below.filter((d) => /\/pod[0-9a-f-]+(\/|$)/.test(d)) : below;
      for (const d of podCgroups) out.push({ kind: "cgroup", what: d });
      if (!proc) {
        for (const d of existing) out.push({ kind: "cgroup", what: d });
        if (existsSync(dir)) out.push({ kind: "file", what: dir });
      }
      return out;
    },
  };
}

interface ApiReply {
  code: number;
  body: unknown;
}

/** One request to the local API over its unix socket; the body is sent and read as JSON. */
function localApi(socket: string, method: string, path: string, body?: unknown): Promise<ApiReply> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath: socket,
        method,
        path,
        headers: payload
          ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }
          : {},
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          try {
            resolve({ code: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined });
          } catch (err) {
            reject(new Error(`${method} ${path}: answer is not JSON: ${text.slice(0, 200)}`, { cause: err }));
          }
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer within 10 s`)));
    req.on("error", reject);
    req.end(payload);
  });
}

function podPath(namespace: string, name: string): string {
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`;
}

function expectOk(r: ApiReply, what: string): unknown {
  if (r.code >= 200 && r.code < 300) return r.body;
  const message = (r.body as { message?: string } | undefined)?.message ?? JSON.stringify(r.body);
  throw new Error(`${what}: HTTP ${r.code}: ${message}`);
}
