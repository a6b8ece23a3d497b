// The CRI service (containerd's pkg/cri/server/service.go): what every RPC shares — the
// stores of sandboxes and containers, the tasks, the pod network — and RuntimeService and
// ImageService assembled from one module per RPC, named as containerd names its files
// (sandbox-run.ts, container-create.ts, image-pull.ts …).
import { join } from "node:path";
import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import { Images } from "../../cri/gen/berth/v1/images_pb.js";
import { ContainerEventType, ImageService, RuntimeService } from "../../cri/gen/runtime/v1/api_pb.js";
import { dateNs, nowNs } from "../../lib/clock.js";
import { messageOf, notImplemented, wrap } from "../../lib/errdefs.js";
import type { Logger } from "../../lib/log.js";
import { exitReason } from "../../shim/process-state.js";
import type { Cni } from "../cni/cni.js";
import type { ContainerStore } from "../core/containers/containers.js";
import type { ImageManager } from "../images/image-manager.js";
import { imagesApi } from "../images/images-api.js";
import type { GrpcService } from "../plugin.js";
import type { OverlaySnapshotter } from "../snapshots/overlay/overlay.js";
import type { TaskManager } from "../tasks/task-manager.js";
import type { CriConfig } from "./config.js";
import { createContainer } from "./container-create.js";
import { ContainerEvents } from "./container-events.js";
import { execSync } from "./container-execsync.js";
import { listContainers } from "./container-list.js";
import { reopenContainerLog } from "./container-log-reopen.js";
import { removeContainerRpc } from "./container-remove.js";
import { startContainer } from "./container-start.js";
import { containerStats, listContainerStats } from "./container-stats.js";
import { containerStatus } from "./container-status.js";
import { stopContainerRpc } from "./container-stop.js";
import { updateContainerResources } from "./container-update.js";
import { listImages } from "./image-list.js";
import { pullImage } from "./image-pull.js";
import { removeImage } from "./image-remove.js";
import { imageStatus } from "./image-status.js";
import { CriImageStore, CriNamespace } from "./image-store.js";
import { imageFsInfo } from "./imagefs-info.js";
import { recover } from "./restart.js";
import { listPodSandbox } from "./sandbox-list.js";
import { removePodSandbox } from "./sandbox-remove.js";
import { runPodSandbox } from "./sandbox-run.js";
import { listPodSandboxStats, podSandboxStats } from "./sandbox-stats.js";
import { podSandboxStatus } from "./sandbox-status.js";
import { stopPodSandbox } from "./sandbox-stop.js";
import { UsageNanoCores, type WritableLayerUsage } from "./stats.js";
import { status } from "./status.js";
import {
  type ContainerStatus,
  ContainerStatusExtension,
  type CriContainer,
  encodeContainerStatus,
} from "./store/container.js";
import { NameIndex, ObjectStore } from "./store/id-index.js";
import type { Sandbox } from "./store/sandbox.js";
import { updateRuntimeConfig } from "./update-runtime-config.js";
import { version } from "./version.js";

/** containerd's snapshots syncer period. */
const layerSyncIntervalMs = 10_000;

export interface CriServiceDeps {
  config: CriConfig;
  /** <root>/grpc.cri and <state>/grpc.cri: the plugin's own directories. */
  rootDir: string;
  stateDir: string;
  imageManager: ImageManager;
  snapshotter: OverlaySnapshotter;
  containers: ContainerStore;
  tasks: TaskManager;
  cni: Cni;
  /** The CNI result cache the Cni writes: recovery lists it for allocations no sandbox owns. */
  cniCacheDir: string;
  log: Logger;
}

export class CriService implements GrpcService {
  readonly config: CriConfig;
  readonly rootDir: string;
  readonly stateDir: string;
  readonly imageManager: ImageManager;
  readonly snapshotter: OverlaySnapshotter;
  readonly containers: ContainerStore;
  readonly tasks: TaskManager;
  readonly cni: Cni;
  readonly cniCacheDir: string;
  readonly log: Logger;
  /** The images CRI sees: the k8s.io namespace grouped by image id. */
  readonly images: CriImageStore;
  readonly sandboxStore = new ObjectStore<Sandbox>();
  readonly sandboxNames = new NameIndex();
  readonly containerStore = new ObjectStore<CriContainer>();
  readonly containerNames = new NameIndex();
  readonly events = new ContainerEvents(this);
  /** Where pod network namespaces are pinned (containerd's netns_mounts_under_state_dir). */
  readonly netnsDir: string;
  /** The previous cpu sample of each container and pod, shared by every stats call. */
  readonly usageNanoCores = new UsageNanoCores();
  /** Each container's writable layer as last measured (containerd's snapshotsSyncer). */
  readonly layerUsage = new Map<string, WritableLayerUsage>();
  /** Ends the exit watchers when the daemon stops; the monitors keep running. */
  private readonly closing = new AbortController();
  private layerSync: NodeJS.Timeout | undefined;

  constructor(deps: CriServiceDeps) {
    ({
      config: this.config,
      rootDir: this.rootDir,
      stateDir: this.stateDir,
      imageManager: this.imageManager,
      snapshotter: this.snapshotter,
      containers: this.containers,
      tasks: this.tasks,
      cni: this.cni,
      cniCacheDir: this.cniCacheDir,
      log: this.log,
    } = deps);
    this.images = new CriImageStore(deps.imageManager, deps.log);
    this.netnsDir = join(deps.stateDir, "netns");
  }

  /** Loads the pod network config and recovers sandboxes and containers (restart.ts). */
  async init(): Promise<void> {
    await this.cni.load().catch((err) => this.log.warn({ err: messageOf(err) }, "CNI config not loaded"));
    await recover(this);
    this.layerSync = setInterval(() => void this.syncLayerUsage(), layerSyncIntervalMs).unref();
  }

  close(): void {
    this.closing.abort();
    clearInterval(this.layerSync);
  }

  /** Measures every container's writable layer; stats report the last figures, as containerd's do. */
  private async syncLayerUsage(): Promise<void> {
    for (const ctr of this.containerStore.list()) {
      try {
        const u = await this.snapshotter.usage(CriNamespace, ctr.id);
        this.layerUsage.set(ctr.id, {
          timestamp: nowNs(),
          usedBytes: BigInt(u.size),
          inodesUsed: BigInt(u.inodes),
        });
      } catch {
        // Removed meanwhile: its entry goes with it.
        this.layerUsage.delete(ctr.id);
      }
    }
  }

  /** Drops what stats remembered of a removed container or pod. */
  forgetStats(id: string): void {
    this.usageNanoCores.forget(id);
    this.layerUsage.delete(id);
  }

  /** What ImageFsInfo reports: the snapshotter's directory, as containerd reports its own. */
  get imageFsPath(): string {
    return this.snapshotter.root;
  }

  sandboxRootDir(id: string): string {
    return join(this.rootDir, "sandboxes", id);
  }

  sandboxStateDir(id: string): string {
    return join(this.stateDir, "sandboxes", id);
  }

  containerRootDir(id: string): string {
    return join(this.rootDir, "containers", id);
  }

  /**
   * The sandbox by id or unique prefix. `context` starts the error when there is none: each
   * RPC of containerd words it its own way, and the kubelet logs what it gets.
   */
  getSandbox(id: string, context = `an error occurred when try to find sandbox "${id}"`): Sandbox {
    try {
      return this.sandboxStore.get(id);
    } catch (err) {
      throw wrap(err, context);
    }
  }

  getContainer(id: string, context = `an error occurred when try to find container "${id}"`): CriContainer {
    try {
      return this.containerStore.get(id);
    } catch (err) {
      throw wrap(err, context);
    }
  }

  containersOf(sandboxId: string): CriContainer[] {
    return this.containerStore.list().filter((c) => c.metadata.sandboxId === sandboxId);
  }

  /** Changes the container's status and persists it before answering anyone. */
  async updateStatus(ctr: CriContainer, patch: Partial<ContainerStatus>): Promise<void> {
    const next = { ...ctr.status, ...patch };
    await this.containers.update(CriNamespace, ctr.id, {
      extensions: { [ContainerStatusExtension]: encodeContainerStatus(next) },
    });
    ctr.status = next;
  }

  /** Waits for the infra process to exit, then marks the sandbox NOTREADY and deletes its task. */
  watchSandbox(sandbox: Sandbox): void {
    const { id } = sandbox;
    sandbox.exited = (async () => {
      await this.tasks.wait(id, this.closing.signal);
      sandbox.state = "notready";
      sandbox.pid = 0;
      await this.tasks.delete(CriNamespace, id);
    })().catch((err) => {
      if (!this.closing.signal.aborted)
        this.log.error({ sandbox: id, err: messageOf(err) }, "sandbox exit handling failed");
    });
  }

  /** Waits for the container's exit, records it, and deletes its task (containerd's handleContainerExit). */
  watchContainer(ctr: CriContainer): void {
    const { id } = ctr;
    ctr.exited = (async () => {
      const exit = await this.tasks.wait(id, this.closing.signal);
      const reason = exit.oomKilled ? exitReason(exit) : ctr.status.reason;
      await this.updateStatus(ctr, {
        pid: 0,
        finishedAt: dateNs(exit.exitedAt),
        exitCode: exit.exitCode,
        reason,
      });
      await this.tasks.delete(CriNamespace, id);
      this.events.publish(ctr, ContainerEventType.CONTAINER_STOPPED_EVENT);
    })().catch((err) => {
      if (!this.closing.signal.aborted)
        this.log.error({ container: id, err: messageOf(err) }, "container exit handling failed");
    });
  }

  register(router: ConnectRouter): void {
    router.service(RuntimeService, runtimeService(this));
    router.service(ImageService, imageService(this));
    router.service(Images, imagesApi(this));
  }
}

/** Streaming and port forwarding need a streaming server berth does not have yet. */
function noStreaming(rpc: string): never {
  throw notImplemented(`${rpc} is not supported by berth yet: it needs a streaming server`);
}

/** One line per RPC. */
function runtimeService(c: CriService): ServiceImpl<typeof RuntimeService> {
  return {
    version: (req) => version(c, req),
    runPodSandbox: (req) => runPodSandbox(c, req),
    stopPodSandbox: (req) => stopPodSandbox(c, req),
    removePodSandbox: (req) => removePodSandbox(c, req),
    podSandboxStatus: (req) => podSandboxStatus(c, req),
    listPodSandbox: (req) => listPodSandbox(c, req),
    createContainer: (req) => createContainer(c, req),
    startContainer: (req) => startContainer(c, req),
    stopContainer: (req) => stopContainerRpc(c, req),
    removeContainer: (req) => removeContainerRpc(c, req),
    listContainers: (req) => listContainers(c, req),
    containerStatus: (req) => containerStatus(c, req),
    updateContainerResources: (req) => updateContainerResources(c, req),
    reopenContainerLog: (req) => reopenContainerLog(c, req),
    execSync: (req) => execSync(c, req),
    exec: () => noStreaming("Exec"),
    attach: () => noStreaming("Attach"),
    portForward: () => noStreaming("PortForward"),
    containerStats: (req) => containerStats(c, req),
    listContainerStats: (req) => listContainerStats(c, req),
    podSandboxStats: (req) => podSandboxStats(c, req),
    listPodSandboxStats: (req) => listPodSandboxStats(c, req),
    updateRuntimeConfig: (req) => updateRuntimeConfig(c, req),
    status: (req) => status(c, req),
    checkpointContainer: () => {
      throw notImplemented("method CheckpointContainer not implemented");
    },
    getContainerEvents: (_req, ctx) => c.events.subscribe(ctx.signal),
    listMetricDescriptors: () => {
      throw notImplemented("method ListMetricDescriptors not implemented");
    },
    listPodSandboxMetrics: () => {
      throw notImplemented("method ListPodSandboxMetrics not implemented");
    },
    runtimeConfig: () => {
      throw notImplemented("method RuntimeConfig not implemented");
    },
  };
}

function imageService(c: CriService): ServiceImpl<typeof ImageService> {
  return {
    listImages: (req) => listImages(c, req),
    imageStatus: (req) => imageStatus(c, req),
    pullImage: (req) => pullImage(c, req),
    removeImage: (req) => removeImage(c, req),
    imageFsInfo: (req) => imageFsInfo(c, req),
  };
}
