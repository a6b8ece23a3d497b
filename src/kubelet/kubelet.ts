// The kubelet (pkg/kubelet/kubelet.go): pod sources merged into one stream, one worker per
// pod, and the sync loop that reacts to config changes, runtime events (PLEG), the periodic
// resync and housekeeping. syncPod is the pod-level half of the seed's SyncPod: status,
// cgroups, directories and volumes, then the runtime manager's syncPod with its eight
// steps. syncTerminatingPod and syncTerminatedPod take a pod down in two stages.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { PodStatus as ApiPodStatus, Pod } from "kubernetes-types/core/v1.js";
import { type ImageServiceClient, newRemoteImageService } from "../cri/remote-image.js";
import { newRemoteRuntimeService } from "../cri/remote-runtime.js";
import { type CriConnection, dialCri } from "../cri/transport.js";
import { messageOf, wrap } from "../lib/errdefs.js";
import type { Logger } from "../lib/log.js";
import { sleepUnlessAborted, until } from "../lib/wait.js";
import { newCgroupManager } from "./cm/cgroup-manager.js";
import { nodeCapacity, setupNode } from "./cm/node-allocatable.js";
import { detectNodeCapacity, detectNodeFacts } from "./cm/node-facts.js";
import { newPodContainerManager, type PodContainerManager } from "./cm/pod-container-manager.js";
import type { QOSContainerManager } from "./cm/qos-container-manager.js";
import { ApiSource } from "./config/api-source.js";
import { SourceFile } from "./config/file-source.js";
import { type KubeletConfiguration, kubeRuntimeSettings } from "./config/kubelet-configuration.js";
import { ApiSource as ApiSourceName, FileSource, PodConfig, type PodUpdate } from "./config/pod-config.js";
import { Cache } from "./container/cache.js";
import { defaultGCPolicy, type GCPolicy, newContainerGC } from "./container/container-gc.js";
import { Backoff, backOffPeriodMs, maxContainerBackOffMs } from "./container/helpers.js";
import { ContainerState, type PodStatus } from "./container/runtime.js";
import { ErrCrashLoopBackOff, ErrImagePullBackOff } from "./container/sync-result.js";
import { EventRecorder, Reason } from "./events/event-recorder.js";
import {
  criImageGCRuntime,
  type StatsProvider as ImageFsStatsProvider,
  newImageGCManager,
} from "./images/image-gc-manager.js";
import { newImageManager } from "./images/image-manager.js";
import type { VolumeInfo } from "./kuberuntime/container.js";
import { ContainerGC } from "./kuberuntime/gc.js";
import {
  kubeletHost,
  nodeAllocatableOf,
  nodeConfigOf,
  podDirOf,
  readNodeFiles,
} from "./kuberuntime/host-facts.js";
import {
  newInstrumentedImageManagerService,
  newInstrumentedRuntimeService,
} from "./kuberuntime/instrumented-services.js";
import { KubeGenericRuntimeManager, runningPodOf } from "./kuberuntime/manager.js";
import { getPodStatus, podRuntime, type RuntimePod, type RuntimeView } from "./kuberuntime/pod-status.js";
import type { KubeRuntimeSettings } from "./kuberuntime/settings.js";
import { ContainerLogManager } from "./logs/container-log-manager.js";
import { KubeletMetrics } from "./metrics/metrics.js";
import { GenericPLEG } from "./pleg/generic.js";
import { PodWorkers, type PodWorkers as PodWorkersType, type SyncPodType } from "./pod-workers.js";
import { criCommandRunner } from "./prober/exec-probe.js";
import { ProberManager } from "./prober/prober-manager.js";
import type { ResultsManager, ResultUpdate } from "./prober/results-manager.js";
import { type LocalApiServer, serveLocalApi } from "./server/local-api.js";
import { type KubeletServers, startKubeletServers } from "./server/server.js";
import { SummaryProvider } from "./server/stats/summary.js";
import {
  type ContainerWaitingReason,
  generateAPIPodStatus,
  PodPhase,
  prepareStatusUpdate,
  updateReasonCache,
} from "./status/generate.js";
import { VolumeManager } from "./volumemanager/volume-manager.js";

export interface KubeletOptions {
  config: KubeletConfiguration;
  /** berth's local API socket; none when undefined. */
  localApiSocket?: string;
  /** Overrides the hostname as the node's name. */
  nodeName?: string;
  /** Dead containers kept: --minimum-container-ttl-duration, --maximum-dead-containers(-per-container). */
  containerGCPolicy?: GCPolicy;
  /** berth's --container-gc-period and --image-gc-period: upstream's fixed 1 min and 5 min. */
  containerGCPeriodMs?: number;
  imageGCPeriodMs?: number;
  /** --pod-infra-container-image: the sandbox image, which image GC never removes. */
  podInfraContainerImage?: string;
  log: Logger;
}

const housekeepingPeriodMs = 2000;
/** The deadline of an image call: long enough for any pull over a slow link. */
const imagePullTimeoutMs = 60 * 60 * 1000;
const syncTickMs = 1000;
/** prober_probe_total's result label of each probe result (prober/worker.go). */
const probeResultLabel = { success: "successful", failure: "failed", unknown: "unknown" } as const;
/** ContainerGCPeriod and ImageGCPeriod (kubelet.go). */
const containerGCPeriodMs = 60_000;
const imageGCPeriodMs = 5 * 60_000;
/** The default of --pod-infra-container-image in kubelet 1.28. */
const defaultPodSandboxImage = "registry.k8s.io/pause:3.9";

export class Kubelet {
  readonly recorder: EventRecorder;
  readonly podConfig = new PodConfig();
  readonly cache = new Cache();
  /** The status manager: the API status of each pod as last generated. */
  readonly statuses = new Map<string, ApiPodStatus>();
  /** The kubelet's Prometheus metrics, served on /metrics. */
  readonly metrics = new KubeletMetrics();
  /** Pods by UID as the config sources have them (the pod manager). */
  readonly pods = new Map<string, Pod>();
  private readonly reasons = new Map<string, Map<string, ContainerWaitingReason>>();
  private readonly volumeInfos = new Map<string, Record<string, VolumeInfo>>();
  private readonly backOff = new Backoff(backOffPeriodMs, maxContainerBackOffMs);
  private readonly stopping = new AbortController();
  private readonly closers: { what: string; close: () => Promise<void> | void }[] = [];
  private readonly seenSources = new Set<string>();
  private loops: Promise<void>[] = [];
  podWorkers!: PodWorkersType;
  runtimeManager!: KubeGenericRuntimeManager;
  probeManager!: ProberManager;
  pleg!: GenericPLEG;
  apiSource?: ApiSource;
  localApi?: LocalApiServer;
  /** The healthz and read-only HTTP servers. */
  servers?: KubeletServers;
  /** When the sync loop last began an iteration (syncLoopMonitor). */
  private latestLoopEntry?: number;
  settings!: KubeRuntimeSettings;
  private view!: RuntimeView;
  private pcm!: PodContainerManager;
  private qos!: QOSContainerManager;
  private volumes!: VolumeManager;
  private conn!: CriConnection;

  private constructor(readonly o: KubeletOptions) {
    this.recorder = new EventRecorder(o.log);
  }

  get config(): KubeletConfiguration {
    return this.o.config;
  }

  get log(): Logger {
    return this.o.log;
  }

  /** NewMainKubelet + Run: everything set up, then the sync loop started. */
  static async start(o: KubeletOptions): Promise<Kubelet> {
    const k = new Kubelet(o);
    try {
      await k.setup();
    } catch (err) {
      await k.stop();
      throw err;
    }
    return k;
  }

  private async setup(): Promise<void> {
    const { config, log } = this;
    const facts = await detectNodeFacts();
    if (this.o.nodeName) facts.nodeName = this.o.nodeName;
    this.metrics.setNodeName(facts.nodeName);
    this.settings = kubeRuntimeSettings(config, facts);

    // The runtime: CRI over the configured endpoints, named by its Version answer.
    this.conn = dialCri(config.containerRuntimeEndpoint, { timeoutMs: config.runtimeRequestTimeout });
    this.closers.push({ what: "runtime connection", close: () => this.conn.close() });
    const runtime = newInstrumentedRuntimeService(newRemoteRuntimeService(this.conn), this.metrics);
    // Pulls may take long: image calls get a deadline far beyond runtimeRequestTimeout.
    const imageConn = dialCri(config.imageServiceEndpoint || config.containerRuntimeEndpoint, {
      timeoutMs: imagePullTimeoutMs,
    });
    this.closers.push({ what: "image connection", close: () => imageConn.close() });
    const images = newInstrumentedImageManagerService(newRemoteImageService(imageConn), this.metrics);
    const version = await runtime.version({}).catch((err) => {
      throw wrap(err, `failed to reach the container runtime at ${config.containerRuntimeEndpoint}`);
    });
    log.info({ runtime: version.runtimeName, version: version.runtimeVersion }, "container runtime");

    // The container manager: node allocatable, QoS and pod cgroups.
    const machine = await detectNodeCapacity(config.rootDir);
    const nodeConfig = nodeConfigOf(config);
    const cgroupManager = await newCgroupManager(facts.hugePageSizes, log);
    const node = await setupNode({
      cgroupManager,
      nodeConfig,
      machine,
      hugePageSizes: facts.hugePageSizes,
      unified: cgroupManager.subsystems.mode === "unified",
      featureGates: this.settings.featureGates,
      activePods: () => this.activePods(),
      log,
      signal: this.stopping.signal,
    });
    this.qos = node.qosContainerManager;
    this.closers.push({ what: "QoS manager", close: () => this.qos.stop() });
    this.pcm = newPodContainerManager({
      cgroupsPerQOS: config.cgroupsPerQOS,
      cgroupRoot: node.cgroupRoot,
      qosContainersInfo: this.qos.getQOSContainersInfo(),
      cgroupManager,
      subsystems: cgroupManager.subsystems,
      podPidsLimit: BigInt(config.podPidsLimit),
      enforceCPULimits: config.cpuCFSQuota,
      cpuCFSQuotaPeriod: BigInt(this.settings.cpuCFSQuotaPeriodUs),
      featureGates: this.settings.featureGates,
      log,
    });

    const nodeAllocatable = nodeAllocatableOf(nodeCapacity(machine), nodeConfig.nodeAllocatable);
    this.volumes = new VolumeManager({
      rootDir: config.rootDir,
      localObjects: () => ({ configMaps: {}, secrets: {} }),
      nodeName: facts.nodeName,
      nodeAllocatable,
      featureGates: this.settings.featureGates,
      recorder: this.recorder,
      log,
    });
    const nodeFiles = await readNodeFiles(config);
    const imageManager = newImageManager(images, {
      serializeImagePulls: config.serializeImagePulls,
      ...(config.maxParallelImagePulls !== undefined
        ? { maxParallelImagePulls: config.maxParallelImagePulls }
        : {}),
      registryPullQPS: config.registryPullQPS,
      registryBurst: config.registryBurst,
      recorder: (e) =>
        this.recorder.record(e.pod, {
          type: e.type,
          reason: e.reason,
          message: e.message,
          fieldPath: `spec.containers{${e.container.name}}`,
        }),
    });
    // Container log rotation; upstream rotates only for a remote runtime, which this always is.
    const logManager = new ContainerLogManager({
      runtime,
      maxSize: config.containerLogMaxSize,
      maxFiles: config.containerLogMaxFiles,
      monitorPeriodMs: config.containerLogMonitorInterval,
      log,
    });
    // The prober: its workers read the pods' statuses and run exec probes through the runtime.
    this.probeManager = new ProberManager({
      getPodStatus: (uid) => this.statuses.get(uid),
      runner: criCommandRunner(runtime, config.runtimeRequestTimeout),
      recorder: this.recorder,
      featureGates: this.settings.featureGates,
      log,
      onProbeResult: (o) =>
        this.metrics.recordProbe(
          {
            probeType: o.probeType,
            result: probeResultLabel[o.result],
            container: o.container.name,
            pod: o.pod.metadata?.name ?? "",
            namespace: o.pod.metadata?.namespace ?? "",
            podUID: o.pod.metadata?.uid ?? "",
          },
          o.durationMs / 1000,
        ),
    });
    this.closers.push({ what: "prober", close: () => this.probeManager.stop() });
    this.runtimeManager = new KubeGenericRuntimeManager({
      runtime,
      images,
      runtimeName: version.runtimeName,
      imageManager,
      settings: this.settings,
      host: kubeletHost(config, nodeFiles, nodeAllocatable, {
        volumes: (pod) => this.volumeInfos.get(pod.metadata?.uid ?? "") ?? {},
        localObjects: () => ({ configMaps: {}, secrets: {} }),
        cgroupParent: (pod) => this.pcm.getPodContainerName(pod).cgroupfs,
      }),
      recorder: this.recorder,
      metrics: this.metrics,
      livenessManager: this.probeManager.livenessManager,
      startupManager: this.probeManager.startupManager,
      logManager,
      log,
    });

    // The runtime's view of pods: PLEG relists it into the cache the workers read.
    this.view = {
      runtimeService: runtime,
      runtimeName: version.runtimeName,
      featureGates: this.settings.featureGates,
      log,
    };
    this.pleg = new GenericPLEG(podRuntime(this.view), this.cache, { log, metrics: this.metrics });
    this.pleg.start();
    this.closers.push({ what: "PLEG", close: () => this.pleg.stop() });
    // Started once the runtime answers, as initializeRuntimeDependentModules does.
    logManager.start();
    this.closers.push({ what: "container log manager", close: () => logManager.stop() });
    this.podWorkers = new PodWorkers(this, this.cache, {
      resyncIntervalMs: config.syncFrequency,
      metrics: this.metrics,
      log,
    });

    // Pod sources: the static pod path and berth's local API.
    if (config.staticPodPath) {
      const file = new SourceFile({
        path: config.staticPodPath,
        nodeName: facts.nodeName,
        periodMs: config.fileCheckFrequency,
        update: this.podConfig.channel(FileSource),
        logger: log,
      });
      file.run();
      this.closers.push({ what: "static pod source", close: () => file.close() });
    }
    if (this.o.localApiSocket) {
      this.apiSource = await ApiSource.open({
        rootDir: config.rootDir,
        nodeName: facts.nodeName,
        update: this.podConfig.channel(ApiSourceName),
        logger: log,
      });
      this.localApi = await serveLocalApi({
        socket: this.o.localApiSocket,
        source: this.apiSource,
        getPodStatus: (uid) => this.statuses.get(uid),
        getEvents: (uid) => this.recorder.eventsFor(uid),
        logger: log,
      });
      this.closers.push({ what: "local API", close: () => this.localApi?.close() });
    }
    const summary = new SummaryProvider({
      nodeName: facts.nodeName,
      rootDir: config.rootDir,
      podLogsDir: config.podLogsDir,
      runtime,
      images,
      getPodByUID: (uid) => this.pods.get(uid),
      log,
    });
    this.servers = await startKubeletServers(
      config,
      {
        getPods: () => this.getPods(),
        resyncIntervalMs: config.syncFrequency,
        latestLoopEntryTime: () => this.latestLoopEntry,
        summary,
        metrics: this.metrics,
      },
      log,
    );
    this.closers.push({ what: "HTTP servers", close: () => this.servers?.close() });
    this.loops = [this.configLoop(), this.plegLoop(), this.tickLoop(), ...this.probeLoops()];
    this.startGarbageCollection(images, summary.stats);
    log.info({ node: facts.nodeName, runtime: config.containerRuntimeEndpoint }, "kubelet started");
  }

  /** Stops the loops and the sources; containers keep running, as a real kubelet leaves them. */
  async stop(): Promise<void> {
    this.stopping.abort();
    const names = ["config", "pleg", "tick", "liveness", "readiness", "startup"];
    await Promise.all(
      this.loops.map(async (l, i) => {
        const started = performance.now();
        await l.catch(() => {});
        this.log.debug({ what: `${names[i]} loop`, ms: Math.round(performance.now() - started) }, "closed");
      }),
    );
    for (const { what, close } of this.closers.splice(0).reverse()) {
      const started = performance.now();
      await Promise.resolve()
        .then(close)
        .catch((err) => this.log.warn({ what, err: messageOf(err) }, "close failed"));
      this.log.debug({ what, ms: Math.round(performance.now() - started) }, "closed");
    }
  }

  podDir(uid: string): string {
    return podDirOf(this.config.rootDir, uid);
  }

  /** GetPods: the sources' pods, each with the status last generated for it (no API server holds one). */
  getPods(): Pod[] {
    return [...this.pods.values()].map((p) => {
      const status = this.statuses.get(p.metadata?.uid ?? "");
      return status ? { ...p, status } : p;
    });
  }

  /** Pods the kubelet should run: known, and not terminated. */
  activePods(): Pod[] {
    return [...this.pods.values()].filter(
      (p) => !this.podWorkers?.isPodKnownTerminated(p.metadata?.uid ?? ""),
    );
  }

  /**
   * StartGarbageCollection: dead containers and sandboxes every containerGCPeriod, unused images
   * every imageGCPeriod (none when imageGCHighThresholdPercent is 100), each first at once. A failed
   * container collection is a node event; a failed image collection only when it fails twice in a row.
   */
  private startGarbageCollection(images: ImageServiceClient, imageFs: ImageFsStatsProvider): void {
    const { config, log, o } = this;
    const signal = this.stopping.signal;
    const containerGC = newContainerGC(
      new ContainerGC(this.runtimeManager, this.podWorkers),
      o.containerGCPolicy ?? defaultGCPolicy,
      { allReady: () => this.podConfig.seenAllSources(this.seenSources) },
    );
    let loggedContainerGCFailure = false;
    const loops = [
      until(
        async () => {
          try {
            await containerGC.garbageCollect();
            log[loggedContainerGCFailure ? "info" : "debug"]("Container garbage collection succeeded");
            loggedContainerGCFailure = false;
          } catch (err) {
            log.error({ err: messageOf(err) }, "Container garbage collection failed");
            this.recorder.recordNode({
              type: "Warning",
              reason: Reason.ContainerGCFailed,
              message: messageOf(err),
            });
            loggedContainerGCFailure = true;
          }
        },
        o.containerGCPeriodMs ?? containerGCPeriodMs,
        signal,
      ),
    ];
    if (config.imageGCHighThresholdPercent === 100) {
      log.debug("ImageGCHighThresholdPercent is set 100, Disable image GC");
    } else {
      const imageGC = newImageGCManager({
        runtime: criImageGCRuntime(images, (all) => podRuntime(this.view).getPods(all)),
        statsProvider: imageFs,
        recorder: (e) => this.recorder.recordNode(e),
        policy: {
          highThresholdPercent: config.imageGCHighThresholdPercent,
          lowThresholdPercent: config.imageGCLowThresholdPercent,
          minAgeMs: config.imageMinimumGCAge,
        },
        sandboxImage: o.podInfraContainerImage ?? defaultPodSandboxImage,
        log,
      });
      let prevImageGCFailed = false;
      loops.push(
        imageGC.start(signal),
        until(
          async () => {
            try {
              await imageGC.garbageCollect();
              log[prevImageGCFailed ? "info" : "debug"]("Image garbage collection succeeded");
              prevImageGCFailed = false;
            } catch (err) {
              if (prevImageGCFailed) {
                log.error({ err: messageOf(err) }, "Image garbage collection failed multiple times in a row");
                this.recorder.recordNode({
                  type: "Warning",
                  reason: Reason.ImageGCFailed,
                  message: messageOf(err),
                });
              } else {
                log.error(
                  { err: messageOf(err) },
                  "Image garbage collection failed once. Stats initialization may not have completed yet",
                );
              }
              prevImageGCFailed = true;
            }
          },
          o.imageGCPeriodMs ?? imageGCPeriodMs,
          signal,
        ),
      );
    }
    // Stopping aborts the loops; a collection under way finishes before the runtime connections close.
    this.closers.push({ what: "garbage collection", close: async () => void (await Promise.all(loops)) });
  }

  // ---- The sync loop: syncLoopIteration's channels, one loop each ----

  private async configLoop(): Promise<void> {
    const signal = this.stopping.signal;
    for await (const update of this.podConfig.updates(this.stopping.signal)) {
      if (signal.aborted) return;
      this.seenSources.add(update.source);
      this.handleConfigUpdate(update);
    }
  }

  private handleConfigUpdate(u: PodUpdate): void {
    this.log.debug(
      { op: u.op, source: u.source, pods: u.pods.map((p) => p.metadata?.name) },
      "config update",
    );
    switch (u.op) {
      case "ADD":
        // HandlePodAdditions: oldest first.
        for (const pod of [...u.pods].sort(byCreation)) {
          this.pods.set(pod.metadata?.uid ?? "", pod);
          this.podWorkers.updatePod({ updateType: "create", pod });
        }
        break;
      case "UPDATE":
      case "DELETE":
        // HandlePodUpdates: a graceful delete is an update with a deletionTimestamp.
        for (const pod of u.pods) {
          this.pods.set(pod.metadata?.uid ?? "", pod);
          this.podWorkers.updatePod({ updateType: "update", pod });
        }
        break;
      case "REMOVE":
        // HandlePodRemoves: the pod is gone from its source; the worker kills what runs.
        for (const pod of u.pods) {
          this.pods.delete(pod.metadata?.uid ?? "");
          this.podWorkers.updatePod({ updateType: "kill", pod });
        }
        break;
      case "RECONCILE":
      case "SET":
        break;
    }
  }

  private async plegLoop(): Promise<void> {
    const channel = this.pleg.watch();
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      const event = await channel.receive(signal).catch(() => undefined);
      if (!event) return;
      // HandlePodSyncs: the runtime changed under a pod the kubelet knows.
      const pod = this.pods.get(event.id);
      if (pod) this.podWorkers.updatePod({ updateType: "sync", pod });
    }
  }

  /**
   * The probe results' channels: a liveness failure syncs the pod so that computePodActions restarts
   * the container; a readiness or startup change syncs it so that its status is generated anew.
   */
  private probeLoops(): Promise<void>[] {
    const { livenessManager, readinessManager, startupManager } = this.probeManager;
    return [
      this.probeLoop(livenessManager, (u) => u.result === "failure"),
      this.probeLoop(readinessManager, () => true),
      this.probeLoop(startupManager, () => true),
    ];
  }

  private async probeLoop(results: ResultsManager, syncs: (u: ResultUpdate) => boolean): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      const update = await results.updates.receive(signal).catch(() => undefined);
      if (!update) return;
      // handleProbeSync: HandlePodSyncs for the pod of the container.
      const pod = this.pods.get(update.podUID);
      if (pod && syncs(update)) this.podWorkers.updatePod({ updateType: "sync", pod });
    }
  }

  private async tickLoop(): Promise<void> {
    const signal = this.stopping.signal;
    let lastHousekeeping = 0;
    while (!signal.aborted) {
      await sleepUnlessAborted(syncTickMs, signal);
      if (signal.aborted) return;
      this.latestLoopEntry = Date.now();
      for (const pod of this.podWorkers.podsDueForSync())
        this.podWorkers.updatePod({ updateType: "sync", pod });
      if (Date.now() - lastHousekeeping >= housekeepingPeriodMs) {
        lastHousekeeping = Date.now();
        await this.handlePodCleanups().catch((err) =>
          this.log.error({ err: messageOf(err) }, "failed cleaning pods"),
        );
      }
    }
  }

  // ---- The pod-level sync functions the workers call ----

  /** SyncPod (kubelet.go): status, cgroups, directories, volumes, then the runtime's syncPod. */
  async syncPod(_updateType: SyncPodType, pod: Pod, podStatus: PodStatus): Promise<boolean> {
    const uid = pod.metadata?.uid ?? "";
    const apiStatus = this.generateStatus(pod, podStatus, false);
    if (podStatus.ips.length === 0 && apiStatus.podIPs?.length)
      podStatus.ips = apiStatus.podIPs.map((p) => p.ip ?? "");
    this.metrics.observePodStart(pod, this.statuses.get(uid)?.phase, apiStatus.phase);
    this.setStatus(pod, apiStatus);
    // UpdatePodStatus's manual run: a started container not yet ready is probed now.
    this.probeManager.triggerReadinessProbes(uid, apiStatus);
    // A terminal pod is not set up again: the worker terminates it.
    if (apiStatus.phase === PodPhase.Succeeded || apiStatus.phase === PodPhase.Failed) return true;

    if (!this.podWorkers.isPodTerminationRequested(uid)) {
      const firstSync = !podStatus.containerStatuses.some((c) => c.state === ContainerState.Running);
      let podKilled = false;
      if (!(await this.pcm.exists(pod)) && !firstSync) {
        // The pod's cgroup went away under running containers: start it over.
        await this.runtimeManager.killPod(pod, runningPodOf(podStatus, this.view.runtimeName));
        podKilled = true;
      }
      if (!(podKilled && pod.spec?.restartPolicy === "Never") && !(await this.pcm.exists(pod))) {
        await this.qos.updateCgroups();
        await this.pcm.ensureExists(pod);
      }
    }
    await this.makePodDataDirs(uid);
    if (!this.podWorkers.isPodTerminationRequested(uid)) {
      try {
        this.volumeInfos.set(uid, await this.volumes.setUpPodVolumes(pod));
      } catch (err) {
        this.recorder.record(pod, {
          type: "Warning",
          reason: Reason.FailedMountVolume,
          message: `Unable to attach or mount volumes: ${messageOf(err)}`,
        });
        throw err;
      }
    }
    // Ensure the pod is being probed.
    this.probeManager.addPod(pod);
    const result = await this.runtimeManager.syncPod(pod, podStatus, this.backOff);
    const reasons = this.reasons.get(uid) ?? new Map<string, ContainerWaitingReason>();
    updateReasonCache(reasons, result);
    this.reasons.set(uid, reasons);
    const err = result.error();
    // Back-offs alone are not failures: the pod is waiting as it should.
    if (
      err &&
      result.syncResults.some(
        (r) => r.error && r.error !== ErrCrashLoopBackOff && r.error !== ErrImagePullBackOff,
      )
    ) {
      throw err;
    }
    return false;
  }

  /** SyncTerminatingPod: stop every container with the grace period, then record the final status. */
  async syncTerminatingPod(pod: Pod, podStatus: PodStatus, gracePeriodOverride?: number): Promise<void> {
    this.setStatus(pod, this.generateStatus(pod, podStatus, false));
    // A pod going away is not restarted by its probes; readiness is probed until its containers stop.
    this.probeManager.stopLivenessAndStartup(pod);
    await this.runtimeManager.killPod(
      pod,
      runningPodOf(podStatus, this.view.runtimeName),
      gracePeriodOverride,
    );
    this.probeManager.removePod(pod);
    await this.qos.updateCgroups();
    const uid = pod.metadata?.uid ?? "";
    const stopped = await getPodStatus(
      this.view,
      uid,
      pod.metadata?.name ?? "",
      pod.metadata?.namespace ?? "",
    );
    const running = stopped.containerStatuses
      .filter((c) => c.state === ContainerState.Running)
      .map((c) => c.name);
    if (running.length > 0) {
      throw new Error(
        `detected running containers after a successful KillPod, CRI violation: ${running.join(", ")}`,
      );
    }
    this.setStatus(pod, this.generateStatus(pod, stopped, true));
  }

  /** SyncTerminatingRuntimePod: an orphan the runtime runs and no source knows. */
  async syncTerminatingRuntimePod(runningPod: RuntimePod): Promise<void> {
    await this.runtimeManager.killPod(undefined, runningPod, 1);
  }

  /** SyncTerminatedPod: volumes and cgroups go, the status is final, an API pod being deleted is dropped. */
  async syncTerminatedPod(pod: Pod, podStatus: PodStatus): Promise<void> {
    const uid = pod.metadata?.uid ?? "";
    this.setStatus(pod, this.generateStatus(pod, podStatus, true));
    await this.volumes.tearDownPodVolumes(uid);
    this.volumeInfos.delete(uid);
    if (this.config.cgroupsPerQOS) await this.pcm.destroy(this.pcm.getPodContainerName(pod).name);
    // The pod as the sources have it now: a delete may have come while this step waited.
    if ((this.pods.get(uid) ?? pod).metadata?.deletionTimestamp) await this.apiSource?.podTerminated(uid);
    this.log.info({ pod: `${pod.metadata?.namespace}/${pod.metadata?.name}` }, "pod terminated");
  }

  /** HandlePodCleanups: orphans in the runtime are killed, orphaned cgroups and directories removed. */
  private async handlePodCleanups(): Promise<void> {
    if (!this.podConfig.seenAllSources(this.seenSources)) return;
    const desired = new Set(this.pods.keys());
    this.podWorkers.syncKnownPods(desired);
    const known = this.podWorkers.knownPods();
    // Probing stops for pods that can no longer be running.
    this.probeManager.cleanupPods(
      new Set([...known].filter(([, w]) => w === "sync" || w === "terminating").map(([uid]) => uid)),
    );
    // A deleted pod whose worker has finished is done with: its deletion completes (the status
    // manager's canBeDeleted), however the delete and the worker's last step were ordered.
    for (const [uid, pod] of this.pods) {
      if (pod.metadata?.deletionTimestamp && known.get(uid) === "finished")
        await this.apiSource?.podTerminated(uid);
    }
    for (const runningPod of await podRuntime(this.view).getPods(false)) {
      if (desired.has(runningPod.id) || known.has(runningPod.id)) continue;
      this.log.info(
        { podUID: runningPod.id, pod: `${runningPod.namespace}/${runningPod.name}` },
        "killing orphaned pod",
      );
      this.podWorkers.updatePod({ updateType: "kill", runningPod, gracePeriodOverride: 1 });
    }
    const inUse = new Set([...known.entries()].filter(([, w]) => w !== "finished").map(([uid]) => uid));
    for (const uid of desired) inUse.add(uid);
    for (const [uid, name] of await this.pcm.getAllPodsFromCgroups()) {
      if (!inUse.has(uid))
        await this.pcm
          .destroy(name)
          .catch((err) =>
            this.log.warn({ podUID: uid, err: messageOf(err) }, "failed to remove orphaned pod cgroup"),
          );
    }
    await this.volumes.cleanupOrphanedPodDirs(inUse);
    for (const uid of this.reasons.keys()) if (!inUse.has(uid)) this.reasons.delete(uid);
    this.backOff.gc();
  }

  private generateStatus(pod: Pod, podStatus: PodStatus, podIsTerminal: boolean): ApiPodStatus {
    const uid = pod.metadata?.uid ?? "";
    return generateAPIPodStatus(pod, podStatus, podIsTerminal, {
      ...(this.statuses.has(uid) ? { oldPodStatus: this.statuses.get(uid) } : {}),
      reasons: this.reasons.get(uid) ?? new Map(),
      readinessManager: this.probeManager.readinessManager,
      startupManager: this.probeManager.startupManager,
      nodeIPs: this.runtimeManager.deps.host.hostIPs,
    });
  }

  /** The status manager's SetPodStatus: an illegal transition (terminated back to running) is dropped. */
  private setStatus(pod: Pod, status: ApiPodStatus): void {
    const uid = pod.metadata?.uid ?? "";
    try {
      this.statuses.set(uid, prepareStatusUpdate(pod, status, this.statuses.get(uid), new Date()));
    } catch (err) {
      this.log.warn({ podUID: uid, err: messageOf(err) }, "status update refused");
    }
  }

  private async makePodDataDirs(uid: string): Promise<void> {
    const dir = this.podDir(uid);
    for (const sub of ["", "volumes", "plugins", "containers"])
      await mkdir(join(dir, sub), { recursive: true, mode: 0o750 });
  }
}

function byCreation(a: Pod, b: Pod): number {
  return String(a.metadata?.creationTimestamp ?? "").localeCompare(
    String(b.metadata?.creationTimestamp ?? ""),
  );
}
