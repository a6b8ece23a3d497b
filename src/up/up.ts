// `berth up`: a whole node on this machine, for as long as it runs. It builds the node's images
// from host binaries, starts `berth runtime` (or takes an existing runtime's endpoint) and
// `berth kubelet` as its children, gives the kubelet the pods through its local API, and shows
// them until Ctrl-C, SIGTERM or --duration. Then it takes everything down in the order a node
// is drained: pods deleted through the kubelet, the kubelet stopped, the pod sandboxes it left
// removed, the runtime stopped, the cgroup root and the temp dir removed. Everything it makes
// lives under one temp dir and one cgroup named after its pid, so several can run at once.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Pod, PodList } from "kubernetes-types/core/v1.js";
import { stringify } from "yaml";
import { KubeletClient, podsPath } from "../cli/kubelet-client.js";
import { newRemoteImageService } from "../cri/remote-image.js";
import { newRemoteRuntimeService, type RuntimeServiceClient } from "../cri/remote-runtime.js";
import { type CriConnection, dialCri } from "../cri/transport.js";
import { newCgroupManager, parseCgroupfsToCgroupName } from "../kubelet/cm/cgroup-manager.js";
import { KubernetesPodUIDLabel } from "../kubelet/kuberuntime/labels.js";
import { BerthError, failedPrecondition, isNotFound, messageOf, wrap } from "../lib/errdefs.js";
import { freePort } from "../lib/free-port.js";
import { newLogger } from "../lib/log.js";
import { readMountInfo } from "../lib/mount/mount.js";
import { buildNodeImages, NodeImages } from "../local-images/host-images.js";
import type { BuiltImage } from "../local-images/oci-image-builder.js";
import { ContainerLogs } from "./container-logs.js";
import { DaemonProcess } from "./daemon-process.js";
import type { PodManifest } from "./manifests.js";
import { hasImage, provideNodeImages } from "./node-images.js";
import { type PodNetwork, removeBridge, writePodNetwork } from "./pod-network.js";
import { newStatusView, type Output, type StatusView } from "./status-view.js";

export interface UpOptions {
  pods: readonly PodManifest[];
  /** Where the pods came from, for the messages. */
  source: string;
  /** An existing runtime to use instead of starting `berth runtime`. */
  runtimeEndpoint?: string;
  /** Stop by itself after this long with the pods applied. */
  durationMs?: number;
  out: Output;
  tty: boolean;
}

const stopSignals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
const refreshMs = 1000;
const runtimeReadyTimeoutMs = 30_000;
const kubeletReadyTimeoutMs = 30_000;
/** The local API answers from memory: a slow answer is a stuck kubelet. */
const kubeletCallTimeoutMs = 10_000;
/** Beyond the pods' own grace periods, how long the kubelet may take to confirm them gone. */
const deleteSlackMs = 30_000;

/** Runs the node until stopped; the exit code (0 once everything is gone again). */
export async function runUp(o: UpOptions): Promise<number> {
  const up = new BerthUp(o);
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (stop.signal.aborted) return up.note(`${signal}: already stopping, removing what was started`);
    stop.abort(signal);
  };
  // SIGHUP too: a closed terminal would otherwise leave the daemons, in their own sessions, running.
  for (const s of stopSignals) process.on(s, onSignal);
  let failed = false;
  let reason: string | undefined;
  try {
    await up.start(stop.signal);
    reason = await up.run(stop.signal);
  } catch (err) {
    // A signal while starting ends the start; it is no failure.
    if (!stop.signal.aborted) {
      failed = true;
      up.closeView();
      up.note(`failed: ${messageOf(err)}`);
    }
  } finally {
    if (stop.signal.aborted) reason = String(stop.signal.reason);
    failed = !(await up.teardown(reason)) || failed;
    for (const s of stopSignals) process.off(s, onSignal);
  }
  return failed ? 1 : 0;
}

class BerthUp {
  private dir = "";
  private readonly cgroupRoot = `/berth-up-${process.pid}`;
  private cgroupMade = false;
  private runtime?: DaemonProcess;
  private network?: PodNetwork;
  private kubelet?: DaemonProcess;
  private endpoint = "";
  private conn?: CriConnection;
  private runtimeName = "";
  /** Images berth up put into a runtime it did not start, to take out again. */
  private importedImages: string[] = [];
  private api?: KubeletClient;
  private applied: Pod[] = [];
  private view?: StatusView;
  private logs?: ContainerLogs;
  private stopAt?: number;
  private stopping = "";

  constructor(private readonly o: UpOptions) {}

  /** A line of its own: a live frame above it is left as it is. */
  note(text: string): void {
    this.view?.close();
    this.o.out.write(`berth up: ${text}\n`);
  }

  closeView(): void {
    this.view?.close();
  }

  async start(signal: AbortSignal): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), "berth-up-"));
    this.note(`working in ${this.dir}, pods in cgroup ${this.cgroupRoot}`);
    const images = await buildNodeImages(join(this.dir, "images"));
    this.note(
      `built ${images.map((i) => i.containerdName).join(", ")} from this host's busybox and catatonit`,
    );
    signal.throwIfAborted();

    if (this.o.runtimeEndpoint) {
      this.endpoint = this.o.runtimeEndpoint;
    } else {
      this.endpoint = await this.startRuntime(signal);
      signal.throwIfAborted();
    }
    this.conn = dialCri(this.endpoint, { timeoutMs: 60_000 });
    const version = await newRemoteRuntimeService(this.conn)
      .version({})
      .catch((err) => {
        throw wrap(err, `failed to reach the container runtime at ${this.endpoint}`);
      });
    this.runtimeName = version.runtimeName;
    if (this.o.runtimeEndpoint)
      this.note(`using ${version.runtimeName} ${version.runtimeVersion} at ${this.endpoint}`);
    await this.provideImages(images);
    signal.throwIfAborted();

    await this.makeCgroupRoot();
    await this.startKubelet(signal);
    signal.throwIfAborted();
    await this.applyPods();
  }

  private async startRuntime(signal: AbortSignal): Promise<string> {
    const rtDir = join(this.dir, "runtime");
    const socket = join(rtDir, "berth.sock");
    const endpoint = `unix://${socket}`;
    this.network = await writePodNetwork(join(this.dir, "cni"), process.pid);
    const config = join(this.dir, "runtime.toml");
    await writeFile(
      config,
      `[plugins.cri]\nsandbox_image = "${NodeImages.pause}"\n\n[plugins.cri.cni]\nconf_dir = "${this.network.confDir}"\n`,
    );
    this.runtime = await DaemonProcess.start({
      command: "runtime",
      args: [
        "--config",
        config,
        "--root",
        join(rtDir, "root"),
        "--state",
        join(rtDir, "state"),
        "--address",
        endpoint,
      ],
      logPath: join(this.dir, "runtime.log"),
      ready: () => this.answersVersion(endpoint),
      readyTimeoutMs: runtimeReadyTimeoutMs,
      signal,
    });
    this.note(
      `started berth runtime (pid ${this.runtime.pid}), CRI on ${endpoint}, pods on bridge ${this.network.bridge} (${this.network.subnet})`,
    );
    return endpoint;
  }

  private async answersVersion(endpoint: string): Promise<boolean> {
    const conn = dialCri(endpoint, { timeoutMs: 1000 });
    try {
      await newRemoteRuntimeService(conn).version({});
      return true;
    } finally {
      conn.close();
    }
  }

  /** The node's images into the runtime, and a word if the runtime's sandbox image is missing. */
  private async provideImages(built: readonly BuiltImage[]): Promise<void> {
    const conn = this.conn as CriConnection;
    const images = newRemoteImageService(conn);
    const provided = await provideNodeImages(conn, images, this.runtimeName, built);
    if (this.o.runtimeEndpoint) this.importedImages = provided.imported;
    if (provided.imported.length > 0)
      this.note(`imported ${provided.imported.join(", ")} into ${this.runtimeName}`);
    if (provided.missing.length > 0) {
      this.note(
        `${this.runtimeName} lacks ${provided.missing.join(", ")} and berth up cannot import into it: ` +
          "load them from the OCI archives `npm run images` builds, or pods using them will fail to pull",
      );
    }
    const sandboxImage = await runtimeSandboxImage(newRemoteRuntimeService(conn));
    if (sandboxImage && !(await hasImage(images, sandboxImage))) {
      this.note(
        `${this.runtimeName}'s sandbox image ${sandboxImage} is not there, so every pod waits for its pull; ` +
          `set its sandbox image to ${NodeImages.pause} to run with no registry`,
      );
    }
  }

  /** --cgroup-root must exist before the kubelet starts: the admin makes it, here berth up. */
  private async makeCgroupRoot(): Promise<void> {
    const cm = await newCgroupManager([], newLogger("warn"));
    await cm.create({ name: parseCgroupfsToCgroupName(this.cgroupRoot), resourceParameters: {} });
    this.cgroupMade = true;
  }

  private async startKubelet(signal: AbortSignal): Promise<void> {
    const kubeletDir = join(this.dir, "kubelet");
    const socket = join(kubeletDir, "kubelet.sock");
    const config = join(this.dir, "kubelet.yaml");
    const podLogsDir = join(kubeletDir, "logs");
    // Free loopback ports, so that berth up runs beside a kubelet that holds the default ones.
    const [healthzPort, readOnlyPort] = [await freePort(), await freePort()];
    await writeFile(
      config,
      stringify({
        apiVersion: "kubelet.config.k8s.io/v1beta1",
        kind: "KubeletConfiguration",
        cgroupRoot: this.cgroupRoot,
        podLogsDir,
        containerRuntimeEndpoint: this.endpoint,
        resolvConf: "/etc/resolv.conf",
        healthzPort,
        readOnlyPort,
      }),
    );
    const api = new KubeletClient(socket, kubeletCallTimeoutMs);
    this.kubelet = await DaemonProcess.start({
      command: "kubelet",
      args: [
        "--config",
        config,
        "--root-dir",
        join(kubeletDir, "root"),
        "--local-api-socket",
        socket,
        // Image GC keeps the sandbox image it is told of: berth up has no registry to pull it again.
        "--pod-infra-container-image",
        NodeImages.pause,
      ],
      logPath: join(this.dir, "kubelet.log"),
      ready: () => listPods(api).then(() => true),
      readyTimeoutMs: kubeletReadyTimeoutMs,
      signal,
    });
    this.api = api;
    this.logs = new ContainerLogs(podLogsDir);
    this.note(`started berth kubelet (pid ${this.kubelet.pid}), local API on ${socket}`);
    this.note(
      `kubelet endpoints: http://127.0.0.1:${healthzPort}/healthz, ` +
        `http://127.0.0.1:${readOnlyPort}/{pods,metrics,stats/summary}`,
    );
  }

  private async applyPods(): Promise<void> {
    const api = this.api as KubeletClient;
    for (const { pod, file } of this.o.pods) {
      try {
        const reply = await api.request("POST", podsPath(pod.metadata?.namespace || "default"), pod);
        this.applied.push(reply.body as Pod);
      } catch (err) {
        throw wrap(err, `failed to create pod "${pod.metadata?.name}" from ${file}`);
      }
    }
    this.note(
      `created ${count(this.applied.length, "pod")} from ${this.o.source}: ${this.applied.map((p) => p.metadata?.name).join(", ")}`,
    );
  }

  /** Shows the pods until a signal or the duration stops it; why it stopped, for a duration. */
  async run(signal: AbortSignal): Promise<string | undefined> {
    const { durationMs } = this.o;
    if (durationMs !== undefined) this.stopAt = Date.now() + durationMs;
    if (!this.o.tty) this.note(this.footer());
    this.view = newStatusView(this.o.out, this.o.tty, () => this.footer());
    while (!signal.aborted && (this.stopAt === undefined || Date.now() < this.stopAt)) {
      await this.refresh();
      const wait = Math.min(refreshMs, (this.stopAt ?? Number.POSITIVE_INFINITY) - Date.now());
      await sleep(Math.max(0, wait), undefined, { signal }).catch(() => undefined);
    }
    await this.refresh();
    this.view.close();
    return signal.aborted ? undefined : `--duration ${(durationMs ?? 0) / 1000}s is over`;
  }

  private async refresh(): Promise<Pod[]> {
    const pods = await listPods(this.api as KubeletClient);
    const lines = await (this.logs as ContainerLogs).poll(pods);
    this.view?.update(pods, lines, new Date());
    return pods;
  }

  private footer(): string {
    if (this.stopping) return this.stopping;
    const left =
      this.stopAt === undefined
        ? ""
        : `; stops by itself in ${Math.max(0, Math.ceil((this.stopAt - Date.now()) / 1000))}s`;
    return `Ctrl-C deletes the pods and removes everything berth up made${left}`;
  }

  /** Takes down whatever was started, each step even if one before failed; true if nothing is left. */
  async teardown(reason: string | undefined): Promise<boolean> {
    let clean = true;
    const step = async (what: string, fn: () => Promise<string | undefined>) => {
      try {
        const done = await fn();
        if (done) this.note(done);
      } catch (err) {
        clean = false;
        this.note(`failed to ${what}: ${messageOf(err)}`);
      }
    };
    this.note(`stopping${reason ? ` (${reason})` : ""}`);
    if (this.kubelet?.running && this.applied.length > 0)
      await step("delete the pods", () => this.deletePods());
    if (this.kubelet)
      await step("stop berth kubelet", () => stopDaemon(this.kubelet as DaemonProcess, 15_000));
    if (this.conn) {
      // Only a kubelet made sandboxes here.
      if (this.kubelet) await step("remove the pod sandboxes", () => this.removeSandboxes());
      if (this.importedImages.length > 0) await step("remove the imported images", () => this.removeImages());
      this.conn.close();
    }
    if (this.runtime)
      await step("stop berth runtime", () => stopDaemon(this.runtime as DaemonProcess, 20_000));
    const { network } = this;
    if (network)
      await step(`remove bridge ${network.bridge}`, async () =>
        (await removeBridge(network.bridge)) ? `removed bridge ${network.bridge}` : undefined,
      );
    if (this.cgroupMade) await step(`remove cgroup ${this.cgroupRoot}`, () => this.removeCgroupRoot());
    if (this.dir) await step(`remove ${this.dir}`, () => this.removeDir());
    this.note(clean ? "everything is removed" : "some things are left; see above");
    return clean;
  }

  /**
   * Deletes every pod through the kubelet and waits until it reports them gone. The kubelet
   * confirms the deletion of a pod it stops; of one that had finished before (a Succeeded
   * job) berth's kubelet does not confirm it yet, so such a pod is done once deleted.
   */
  private async deletePods(): Promise<string> {
    const api = this.api as KubeletClient;
    const started = Date.now();
    this.stopping = "stopping: the kubelet is stopping the pods' containers";
    const finished = new Set((await listPods(api)).filter(isTerminal).map((p) => p.metadata?.uid));
    for (const pod of this.applied) {
      await api
        .request("DELETE", podsPath(pod.metadata?.namespace || "default", pod.metadata?.name))
        .catch((err) => {
          if (!isNotFound(err)) throw err;
        });
    }
    const grace = Math.max(0, ...this.applied.map((p) => p.spec?.terminationGracePeriodSeconds ?? 30));
    const deadline = started + grace * 1000 + deleteSlackMs;
    for (;;) {
      const left = (await this.refresh()).filter((p) => !finished.has(p.metadata?.uid));
      if (left.length === 0) break;
      if (Date.now() > deadline) {
        const names = left.map((p) => p.metadata?.name).join(", ");
        const after = Math.round((Date.now() - started) / 1000);
        throw new BerthError("DeadlineExceeded", `the kubelet still has ${names} after ${after}s`);
      }
      await sleep(500);
    }
    this.view?.close();
    return `deleted ${count(this.applied.length, "pod")} through the kubelet in ${((Date.now() - started) / 1000).toFixed(1)}s`;
  }

  /**
   * The kubelet stops a deleted pod's sandbox but leaves its removal to its container garbage
   * collector's next pass (every minute), which berth up does not wait for: it removes the
   * sandboxes of its pods, and only those on a runtime it did not start.
   */
  private async removeSandboxes(): Promise<string | undefined> {
    const rt = newRemoteRuntimeService(this.conn as CriConnection);
    const ours = new Set(this.applied.map((p) => p.metadata?.uid));
    const sandboxes = (await rt.listPodSandbox({})).items.filter(
      (s) => !this.o.runtimeEndpoint || ours.has(s.labels[KubernetesPodUIDLabel]),
    );
    for (const s of sandboxes) {
      await rt.stopPodSandbox({ podSandboxId: s.id });
      await rt.removePodSandbox({ podSandboxId: s.id });
    }
    return sandboxes.length > 0
      ? `removed ${count(sandboxes.length, "stopped pod sandbox", "es")}`
      : undefined;
  }

  private async removeImages(): Promise<string> {
    const images = newRemoteImageService(this.conn as CriConnection);
    for (const image of this.importedImages) await images.removeImage({ image: { image } });
    return `removed ${this.importedImages.join(", ")} from ${this.runtimeName}`;
  }

  private async removeCgroupRoot(): Promise<string> {
    const cm = await newCgroupManager([], newLogger("warn"));
    await cm.destroy(parseCgroupfsToCgroupName(this.cgroupRoot));
    return `removed cgroup ${this.cgroupRoot}`;
  }

  /** A mount left under the dir would have rm delete what it shows: then the dir stays. */
  private async removeDir(): Promise<string> {
    const mounted = (await readMountInfo()).filter((m) => m.mountPoint.startsWith(`${this.dir}/`));
    if (mounted.length > 0)
      throw failedPrecondition(`still mounted there: ${mounted.map((m) => m.mountPoint).join(", ")}`);
    await rm(this.dir, { recursive: true, force: true });
    return `removed ${this.dir}`;
  }
}

function count(n: number, noun: string, plural = "s"): string {
  return `${n} ${noun}${n === 1 ? "" : plural}`;
}

function isTerminal(pod: Pod): boolean {
  return pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed";
}

async function listPods(api: KubeletClient): Promise<Pod[]> {
  return (await api.get<PodList>(podsPath(undefined))).items;
}

async function stopDaemon(d: DaemonProcess, graceMs: number): Promise<string> {
  const exit = await d.stop(graceMs);
  if (exit.code !== 0)
    throw new BerthError(
      "Unknown",
      `berth ${d.command} exited with ${exit.signal ?? `code ${exit.code}`}:\n${d.logTail()}`,
    );
  return `stopped berth ${d.command}`;
}

/** The runtime's sandbox image, from the config containerd and berth show in a verbose Status. */
async function runtimeSandboxImage(rt: RuntimeServiceClient): Promise<string | undefined> {
  const { info } = await rt.status({ verbose: true });
  try {
    return (JSON.parse(info.config ?? "{}") as { sandboxImage?: string }).sandboxImage;
  } catch {
    return undefined;
  }
}
