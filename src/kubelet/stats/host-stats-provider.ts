// pkg/kubelet/stats/host_stats_provider.go, with the volume stats of
// pkg/kubelet/server/stats/volume_stat_calculator.go: what a pod takes on the node's disk outside
// its containers' writable layers — its log files, its /etc/hosts and its volumes — measured by
// walking the directories (MetricsDu) and reported against the filesystem each lives on.
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import type { Pod, Volume } from "kubernetes-types/core/v1.js";
import { podDirOf } from "../kuberuntime/host-facts.js";
import { buildPodLogsDirectory } from "../kuberuntime/sandbox.js";
import { volumePlugins } from "../volumemanager/volume-manager.js";
import { escapeQualifiedName } from "../volumemanager/volume-plugin.js";
import { type DiskUsage, diskUsage, type FsInfo, fsStatsWithUsage, getDirFsInfo } from "./fs-info.js";
import type { FsStats, PodReference, VolumeStats } from "./types.js";

/** Volume types whose contents the kubelet writes and can measure (hostPath has no metrics upstream). */
const measuredVolumeSources = new Set<keyof Volume>([
  "emptyDir",
  "configMap",
  "secret",
  "downwardAPI",
  "projected",
]);

export interface HostStatsProviderOptions {
  rootDir: string;
  podLogsDir: string;
}

export interface PodVolumeStats {
  /** Every measured volume of the pod. */
  volumes: VolumeStats[];
  /** The ones counted in its ephemeral storage (IsLocalEphemeralVolume). */
  ephemeral: VolumeStats[];
}

export class HostStatsProvider {
  constructor(private readonly o: HostStatsProviderOptions) {}

  /** getPodContainerLogStats: the files of the container's log directory (the current log and rotated ones). */
  async getPodContainerLogStats(
    ref: PodReference,
    containerName: string,
    rootFs: FsInfo,
  ): Promise<FsStats | undefined> {
    const usages = await filesUsage(join(this.podLogsDirectory(ref), containerName));
    return usages && fsStatsWithUsage(rootFs, usages);
  }

  /** getPodLogStats: files directly in the pod's log directory; the containers' directories are counted apart. */
  async getPodLogStats(ref: PodReference, rootFs: FsInfo): Promise<FsStats | undefined> {
    const usages = await filesUsage(this.podLogsDirectory(ref));
    return usages && fsStatsWithUsage(rootFs, usages);
  }

  /** getPodEtcHostsStats: the /etc/hosts file the kubelet writes for the pod, if it did. */
  async getPodEtcHostsStats(uid: string, rootFs: FsInfo): Promise<FsStats | undefined> {
    const usage = await diskUsage(join(podDirOf(this.o.rootDir, uid), "etc-hosts"));
    return usage ? fsStatsWithUsage(rootFs, [usage]) : undefined;
  }

  /**
   * The pod's volumes that have a directory under <root-dir>/pods/<uid>/volumes, each against the
   * filesystem it is on (a memory-backed emptyDir against its tmpfs).
   */
  async getPodVolumeStats(pod: Pod): Promise<PodVolumeStats> {
    const uid = pod.metadata?.uid ?? "";
    const out: PodVolumeStats = { volumes: [], ephemeral: [] };
    for (const volume of pod.spec?.volumes ?? []) {
      const plugin = volumePlugins.find((p) => volume[p.source] !== undefined);
      if (!plugin || !measuredVolumeSources.has(plugin.source)) continue;
      const dir = join(
        podDirOf(this.o.rootDir, uid),
        "volumes",
        escapeQualifiedName(plugin.name),
        volume.name,
      );
      const usage = await diskUsage(dir);
      if (!usage) continue;
      const stats: VolumeStats = { name: volume.name, ...fsStatsWithUsage(await getDirFsInfo(dir), [usage]) };
      out.volumes.push(stats);
      if (isLocalEphemeralVolume(volume)) out.ephemeral.push(stats);
    }
    return out;
  }

  private podLogsDirectory(ref: PodReference): string {
    return buildPodLogsDirectory(this.o.podLogsDir, ref.namespace, ref.name, ref.uid);
  }
}

/** IsLocalEphemeralVolume: what counts against a pod's ephemeral-storage. */
function isLocalEphemeralVolume(v: Volume): boolean {
  return (
    v.gitRepo !== undefined || (v.emptyDir !== undefined && !v.emptyDir.medium) || v.configMap !== undefined
  );
}

/** fileMetricsByDir: the usage of each file (not directory) directly in `dir`; undefined when it is missing. */
async function filesUsage(dir: string): Promise<DiskUsage[] | undefined> {
  let entries: { name: string; isDirectory(): boolean }[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  const usages = await Promise.all(
    entries.filter((e) => !e.isDirectory()).map((e) => diskUsage(join(dir, e.name))),
  );
  return usages.filter((u): u is DiskUsage => u !== undefined);
}
