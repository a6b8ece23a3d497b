// pkg/kubelet/stats/cri_stats_provider.go and cri_stats_provider_linux.go (kubelet 1.28): pod and
// container stats from CRI alone, the path upstream takes with PodAndContainerStatsFromCRI (berth has
// no cAdvisor to fill in from). ListPodSandboxStats gives each pod's cgroup, network and processes
// with its containers; the kubelet adds what only it knows — log files, /etc/hosts, volumes — and the
// CPU rate when the runtime gives none. The builders are pure; CriStatsProvider gathers their input.

import type { Pod } from "kubernetes-types/core/v1.js";
import type {
  Container as CriContainer,
  ContainerStats as CriContainerStats,
  PodSandbox,
  PodSandboxStats,
  UInt64Value,
} from "../../cri/gen/runtime/v1/api_pb.js";
import { ContainerState as CriContainerState, PodSandboxState } from "../../cri/gen/runtime/v1/api_pb.js";
import type { ImageServiceClient } from "../../cri/remote-image.js";
import type { RuntimeServiceClient } from "../../cri/remote-runtime.js";
import { BerthError, messageOf, wrap } from "../../lib/errdefs.js";
import type { Logger } from "../../lib/log.js";
import { CpuUsageCache } from "./cpu-usage-cache.js";
import { type FsInfo, getDirFsInfo } from "./fs-info.js";
import type { HostStatsProvider } from "./host-stats-provider.js";
import {
  type ContainerStats,
  type CPUStats,
  type FsStats,
  formatStatsTime,
  type InterfaceStats,
  type MemoryStats,
  type PodStats,
  statsTimeOfNs,
  type VolumeStats,
} from "./types.js";

const value = (v: UInt64Value | undefined): number | undefined =>
  v === undefined ? undefined : Number(v.value);

/** buildPodStats: the pod as its sandbox names it; the start time is the sandbox's creation. */
export function buildPodStats(sandbox: PodSandbox): PodStats {
  return {
    podRef: {
      name: sandbox.metadata?.name ?? "",
      namespace: sandbox.metadata?.namespace ?? "",
      uid: sandbox.metadata?.uid ?? "",
    },
    startTime: statsTimeOfNs(sandbox.createdAt),
    containers: [],
  };
}

export interface ContainerStatsExtras {
  /** The CPU rate the kubelet worked out when the runtime reports none. */
  usageNanoCores?: number;
  /** The filesystem of the writable layer (its fsId mountpoint), if known. */
  writableLayerFs?: FsInfo;
  logs?: FsStats;
  /** For stats the runtime left out: now. */
  nowMs: number;
}

/**
 * makeContainerStats: CRI's numbers for one container. Upstream takes only the working set from CRI
 * and the rest of the memory numbers from cAdvisor; berth has no cAdvisor, so CRI's other memory
 * fields (which the runtime reads from the same cgroup) stand in for it.
 */
export function makeContainerStats(
  stats: CriContainerStats,
  container: CriContainer,
  x: ContainerStatsExtras,
): ContainerStats {
  const now = formatStatsTime(x.nowMs);
  const cpu: CPUStats = stats.cpu
    ? {
        time: statsTimeOfNs(stats.cpu.timestamp),
        usageNanoCores: value(stats.cpu.usageNanoCores) ?? x.usageNanoCores,
        usageCoreNanoSeconds: value(stats.cpu.usageCoreNanoSeconds),
      }
    : { time: now, usageNanoCores: 0, usageCoreNanoSeconds: 0 };
  const memory: MemoryStats = stats.memory ? memoryStatsOf(stats.memory) : { time: now, workingSetBytes: 0 };
  const layer = stats.writableLayer;
  const rootfs: FsStats = layer
    ? {
        time: statsTimeOfNs(layer.timestamp),
        usedBytes: value(layer.usedBytes),
        inodesUsed: value(layer.inodesUsed),
      }
    : { time: now };
  if (x.writableLayerFs) {
    Object.assign(rootfs, {
      availableBytes: x.writableLayerFs.available,
      capacityBytes: x.writableLayerFs.capacity,
      inodesFree: x.writableLayerFs.inodesFree,
      inodes: x.writableLayerFs.inodes,
    });
  }
  return {
    name: stats.attributes?.metadata?.name ?? "",
    startTime: statsTimeOfNs(container.createdAt),
    cpu,
    memory,
    rootfs,
    logs: x.logs,
  };
}

function memoryStatsOf(m: NonNullable<CriContainerStats["memory"]>): MemoryStats {
  return {
    time: statsTimeOfNs(m.timestamp),
    availableBytes: value(m.availableBytes),
    usageBytes: value(m.usageBytes),
    workingSetBytes: value(m.workingSetBytes),
    rssBytes: value(m.rssBytes),
    pageFaults: value(m.pageFaults),
    majorPageFaults: value(m.majorPageFaults),
  };
}

/** addCRIPodCPUStats, addCRIPodMemoryStats, addCRIPodNetworkStats, addCRIPodProcessStats. */
export function addCRIPodStats(ps: PodStats, s: PodSandboxStats, cpuAndMemoryOnly = false): void {
  const linux = s.linux;
  if (!linux) return;
  if (linux.cpu) {
    ps.cpu = {
      time: statsTimeOfNs(linux.cpu.timestamp),
      usageNanoCores: value(linux.cpu.usageNanoCores),
      usageCoreNanoSeconds: value(linux.cpu.usageCoreNanoSeconds),
    };
  }
  if (linux.memory) ps.memory = memoryStatsOf(linux.memory);
  if (cpuAndMemoryOnly) return;
  if (linux.network) {
    const iface = (i: NonNullable<typeof linux.network.defaultInterface>): InterfaceStats => ({
      name: i.name,
      rxBytes: value(i.rxBytes),
      rxErrors: value(i.rxErrors),
      txBytes: value(i.txBytes),
      txErrors: value(i.txErrors),
    });
    ps.network = {
      time: statsTimeOfNs(linux.network.timestamp),
      ...(linux.network.defaultInterface ? iface(linux.network.defaultInterface) : { name: "" }),
      interfaces: linux.network.interfaces.map(iface),
    };
  }
  if (linux.process) ps.process_stats = { process_count: value(linux.process.processCount) };
}

/**
 * calcEphemeralStorage: the containers' writable layers and logs, the local ephemeral volumes, the
 * pod's own log files and /etc/hosts, against the node's root filesystem.
 */
export function calcEphemeralStorage(
  containers: readonly ContainerStats[],
  volumes: readonly VolumeStats[],
  rootFs: FsInfo,
  podLogStats: FsStats | undefined,
  etcHostsStats: FsStats | undefined,
): FsStats {
  const result: FsStats = {
    time: formatStatsTime(rootFs.timestamp),
    availableBytes: rootFs.available,
    capacityBytes: rootFs.capacity,
    inodesFree: rootFs.inodesFree,
    inodes: rootFs.inodes,
  };
  const add = (s: FsStats | undefined) => {
    if (!s) return;
    if (s.usedBytes !== undefined) result.usedBytes = (result.usedBytes ?? 0) + s.usedBytes;
    if (s.inodesUsed !== undefined) result.inodesUsed = (result.inodesUsed ?? 0) + s.inodesUsed;
    if (s.time > result.time) result.time = s.time;
  };
  for (const c of containers) {
    // A container's logs count only with its writable layer, as upstream's addContainerUsage has it.
    if (!c.rootfs) continue;
    add(c.rootfs);
    add(c.logs);
  }
  for (const v of volumes) add(v);
  add(podLogStats);
  add(etcHostsStats);
  return result;
}

/**
 * removeTerminatedPods: of the sandboxes of one pod (by name and namespace), the ready ones, or the
 * newest when none is ready; a pod recreated under its name leaves its old sandboxes behind.
 */
export function removeTerminatedPods(sandboxes: readonly PodSandbox[]): PodSandbox[] {
  const byPod = new Map<string, PodSandbox[]>();
  for (const s of [...sandboxes].sort((a, b) => compareBig(a.createdAt, b.createdAt))) {
    const key = `${s.metadata?.namespace}/${s.metadata?.name}`;
    byPod.set(key, [...(byPod.get(key) ?? []), s]);
  }
  const out: PodSandbox[] = [];
  for (const refs of byPod.values()) {
    const ready = refs.filter((s) => s.state === PodSandboxState.SANDBOX_READY);
    out.push(...(ready.length > 0 ? ready : refs.slice(-1)));
  }
  return out;
}

/** removeTerminatedContainers: only running containers count for usage. */
export function removeTerminatedContainers(containers: readonly CriContainer[]): CriContainer[] {
  return containers.filter((c) => c.state === CriContainerState.CONTAINER_RUNNING);
}

function compareBig(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A pod to report: its sandbox's stats, the PodStats being built, and its running containers' stats. */
interface CriPod {
  stats: PodSandboxStats;
  ps: PodStats;
  running: [CriContainerStats, CriContainer][];
}

export interface CriStatsProviderOptions {
  runtime: RuntimeServiceClient;
  images: ImageServiceClient;
  host: HostStatsProvider;
  /** The pod the kubelet runs under this UID: its volumes are measured. */
  getPodByUID(uid: string): Pod | undefined;
  log: Logger;
}

export class CriStatsProvider {
  private readonly cpuUsage = new CpuUsageCache();

  constructor(private readonly o: CriStatsProviderOptions) {}

  /**
   * ListPodStatsAndUpdateCPUNanoCoreUsage: every pod with a sandbox, its running containers and
   * what it takes on disk. Upstream's eviction manager takes the CPU samples every 10 s; berth
   * has none, so each full summary takes them.
   */
  async listPodStats(rootFs: FsInfo): Promise<PodStats[]> {
    const fsInfos = new Map<string, Promise<FsInfo | undefined>>();
    const out: PodStats[] = [];
    for (const { stats, ps, running } of await this.criPods()) {
      for (const [cs, container] of running) {
        const mountpoint = cs.writableLayer?.fsId?.mountpoint;
        ps.containers.push(
          makeContainerStats(cs, container, {
            usageNanoCores: this.cpuRate(cs, true),
            writableLayerFs: mountpoint ? await this.fsInfo(mountpoint, fsInfos) : undefined,
            logs: await this.logStats(ps, cs, rootFs),
            nowMs: Date.now(),
          }),
        );
      }
      addCRIPodStats(ps, stats);
      await this.makePodStorageStats(ps, rootFs);
      out.push(ps);
    }
    this.cpuUsage.cleanup();
    return out;
  }

  /** ListPodCPUAndMemoryStats: CPU and memory of every pod and its running containers, nothing read from disk. */
  async listPodCPUAndMemoryStats(): Promise<PodStats[]> {
    const out: PodStats[] = [];
    for (const { stats, ps, running } of await this.criPods()) {
      for (const [cs, container] of running) {
        const { cpu, memory, name, startTime } = makeContainerStats(cs, container, {
          usageNanoCores: this.cpuRate(cs, false),
          nowMs: Date.now(),
        });
        ps.containers.push({ name, startTime, cpu, memory });
      }
      addCRIPodStats(ps, stats, true);
      out.push(ps);
    }
    return out;
  }

  /** The pods to report (sandboxes kept by removeTerminatedPods), each with its running containers' stats. */
  private async criPods(): Promise<CriPod[]> {
    const { containers, sandboxes } = await this.getPodAndContainerMaps();
    const out: CriPod[] = [];
    for (const stats of await this.listSandboxStats(sandboxes)) {
      const sandbox = sandboxes.get(stats.attributes?.id ?? "");
      if (!sandbox) continue;
      const running: [CriContainerStats, CriContainer][] = [];
      for (const cs of stats.linux?.containers ?? []) {
        const container = containers.get(cs.attributes?.id ?? "");
        if (container) running.push([cs, container]);
      }
      out.push({ stats, ps: buildPodStats(sandbox), running });
    }
    return out;
  }

  /** ImageFsStats: the runtime's image filesystem, the first it reports, sized by statfs of its mountpoint. */
  async imageFsStats(): Promise<FsStats> {
    const { imageFilesystems } = await this.o.images.imageFsInfo({});
    const fs = imageFilesystems[0];
    if (!fs) throw new BerthError("Unavailable", "imageFs information is unavailable");
    const stats: FsStats = {
      time: statsTimeOfNs(fs.timestamp),
      usedBytes: value(fs.usedBytes),
      inodesUsed: value(fs.inodesUsed),
    };
    const info = fs.fsId?.mountpoint ? await this.fsInfo(fs.fsId.mountpoint, new Map()) : undefined;
    if (info) {
      Object.assign(stats, {
        availableBytes: info.available,
        capacityBytes: info.capacity,
        inodesFree: info.inodesFree,
        inodes: info.inodes,
      });
    }
    return stats;
  }

  private async getPodAndContainerMaps(): Promise<{
    containers: Map<string, CriContainer>;
    sandboxes: Map<string, PodSandbox>;
  }> {
    const { containers } = await this.o.runtime.listContainers({}).catch((err) => {
      throw wrap(err, "failed to list all containers");
    });
    const { items } = await this.o.runtime.listPodSandbox({}).catch((err) => {
      throw wrap(err, "failed to list all pod sandboxes");
    });
    return {
      containers: new Map(removeTerminatedContainers(containers).map((c) => [c.id, c])),
      sandboxes: new Map(removeTerminatedPods(items).map((s) => [s.id, s])),
    };
  }

  /**
   * ListPodSandboxStats, or PodSandboxStats per ready sandbox when that fails: containerd 1.6 fails
   * the whole list while any sandbox is stopped (later versions skip such sandboxes), and a stopped
   * sandbox stays until its pod is collected.
   */
  private async listSandboxStats(sandboxes: Map<string, PodSandbox>): Promise<PodSandboxStats[]> {
    try {
      return (await this.o.runtime.listPodSandboxStats({})).stats;
    } catch (err) {
      this.o.log.debug({ err: messageOf(err) }, "ListPodSandboxStats failed; asking each ready pod sandbox");
    }
    const ready = [...sandboxes.values()].filter((s) => s.state === PodSandboxState.SANDBOX_READY);
    const stats = await Promise.all(
      ready.map(async (s) => (await this.o.runtime.podSandboxStats({ podSandboxId: s.id })).stats),
    );
    return stats.filter((s): s is PodSandboxStats => s !== undefined);
  }

  /** The runtime's rate if it gives one; otherwise the cache's, updated by this sample when `update`. */
  private cpuRate(cs: CriContainerStats, update: boolean): number | undefined {
    const id = cs.attributes?.id ?? "";
    const cpu = cs.cpu;
    if (!cpu || cpu.usageNanoCores !== undefined) return undefined;
    if (!update || cpu.usageCoreNanoSeconds === undefined) return this.cpuUsage.get(id);
    return this.cpuUsage.getAndUpdate(id, {
      timestampNs: cpu.timestamp,
      usageCoreNanoSeconds: cpu.usageCoreNanoSeconds.value,
    });
  }

  private async logStats(ps: PodStats, cs: CriContainerStats, rootFs: FsInfo): Promise<FsStats | undefined> {
    const name = cs.attributes?.metadata?.name ?? "";
    try {
      return await this.o.host.getPodContainerLogStats(ps.podRef, name, rootFs);
    } catch (err) {
      this.o.log.error({ err: messageOf(err), containerName: name }, "Unable to fetch container log stats");
      return undefined;
    }
  }

  /** makePodStorageStats: the pod's volumes and its ephemeral storage. */
  private async makePodStorageStats(ps: PodStats, rootFs: FsInfo): Promise<void> {
    const pod = this.o.getPodByUID(ps.podRef.uid);
    const volumes = pod ? await this.o.host.getPodVolumeStats(pod) : { volumes: [], ephemeral: [] };
    if (volumes.volumes.length > 0) ps.volume = volumes.volumes;
    const [podLogs, etcHosts] = await Promise.all([
      this.o.host.getPodLogStats(ps.podRef, rootFs),
      this.o.host.getPodEtcHostsStats(ps.podRef.uid, rootFs),
    ]);
    ps["ephemeral-storage"] = calcEphemeralStorage(
      ps.containers,
      volumes.ephemeral,
      rootFs,
      podLogs,
      etcHosts,
    );
  }

  /** getFsInfo: statfs of a filesystem a runtime names, once per summary; undefined when it is not there. */
  private fsInfo(
    mountpoint: string,
    cache: Map<string, Promise<FsInfo | undefined>>,
  ): Promise<FsInfo | undefined> {
    let info = cache.get(mountpoint);
    if (!info) {
      info = getDirFsInfo(mountpoint).catch((err) => {
        this.o.log.debug(
          { mountpoint, err: messageOf(err) },
          "Failed to get the info of the filesystem with mountpoint",
        );
        return undefined;
      });
      cache.set(mountpoint, info);
    }
    return info;
  }
}
