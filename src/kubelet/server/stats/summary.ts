// pkg/kubelet/server/stats/summary.go (kubelet 1.28): the Summary of /stats/summary — the node
// (CPU, memory, network, its root and image filesystems, pid limits) and every pod. Any part that
// cannot be read fails the whole summary, with the step in the message, as upstream.
import type { Pod } from "kubernetes-types/core/v1.js";
import type { ImageServiceClient } from "../../../cri/remote-image.js";
import type { RuntimeServiceClient } from "../../../cri/remote-runtime.js";
import { wrap } from "../../../lib/errdefs.js";
import type { Logger } from "../../../lib/log.js";
import { CpuUsageCache } from "../../stats/cpu-usage-cache.js";
import { CriStatsProvider } from "../../stats/cri-stats-provider.js";
import { fsStatsOfInfo, getDirFsInfo } from "../../stats/fs-info.js";
import { HostStatsProvider } from "../../stats/host-stats-provider.js";
import {
  readBootTime,
  readNodeCpu,
  readNodeMemory,
  readNodeNetwork,
  readRlimitStats,
} from "../../stats/node-stats.js";
import { type CPUStats, formatStatsTime, type NodeStats, type Summary } from "../../stats/types.js";

export interface SummaryProviderOptions {
  nodeName: string;
  /** The kubelet's root directory: its filesystem is the node's (RootFsInfo). */
  rootDir: string;
  /** podLogsDir: where the containers' log files are. */
  podLogsDir: string;
  runtime: RuntimeServiceClient;
  images: ImageServiceClient;
  /** The pod the kubelet runs under this UID: its volumes are measured. */
  getPodByUID(uid: string): Pod | undefined;
  log: Logger;
}

/** The node's key in the CPU usage cache: no container id looks like it. */
const nodeKey = "/";

export class SummaryProvider {
  private readonly nodeCpu = new CpuUsageCache();
  /** Also image GC's view of the image filesystem. */
  readonly stats: CriStatsProvider;
  private bootTime?: Promise<number>;

  constructor(private readonly o: SummaryProviderOptions) {
    this.stats = new CriStatsProvider({
      runtime: o.runtime,
      images: o.images,
      host: new HostStatsProvider({ rootDir: o.rootDir, podLogsDir: o.podLogsDir }),
      getPodByUID: o.getPodByUID,
      log: o.log,
    });
  }

  /** Get: the full summary, taking a CPU sample of the node and of every container. */
  async get(): Promise<Summary> {
    const rootFs = await getDirFsInfo(this.o.rootDir).catch((err) => {
      throw wrap(err, "failed to get rootFs stats");
    });
    const [cpu, memory, network, imageFs, pods, rlimit] = await Promise.all([
      this.nodeCpuStats(),
      step(readNodeMemory(), "failed to get root cgroup stats"),
      step(readNodeNetwork(), "failed to get root cgroup stats"),
      step(this.stats.imageFsStats(), "failed to get imageFs stats"),
      step(this.stats.listPodStats(rootFs), "failed to list pod stats"),
      step(readRlimitStats(), "failed to get rlimit stats"),
    ]);
    return {
      node: {
        ...(await this.nodeBase()),
        cpu,
        memory,
        network,
        fs: {
          ...fsStatsOfInfo(rootFs),
          usedBytes: rootFs.usage,
          inodesUsed: rootFs.inodes - rootFs.inodesFree,
        },
        runtime: { imageFs },
        rlimit,
      },
      pods,
    };
  }

  /** GetCPUAndMemoryStats: CPU and memory alone (the metrics-server's view); nothing read from disk. */
  async getCPUAndMemoryStats(): Promise<Summary> {
    const [cpu, memory, pods] = await Promise.all([
      this.nodeCpuStats(),
      step(readNodeMemory(), "failed to get root cgroup stats"),
      step(this.stats.listPodCPUAndMemoryStats(), "failed to list pod cpu and memory stats"),
    ]);
    return { node: { ...(await this.nodeBase()), cpu, memory }, pods };
  }

  private async nodeBase(): Promise<Pick<NodeStats, "nodeName" | "startTime">> {
    this.bootTime ??= readBootTime();
    return { nodeName: this.o.nodeName, startTime: formatStatsTime(await this.bootTime) };
  }

  private async nodeCpuStats(): Promise<CPUStats> {
    const sample = await step(readNodeCpu(), "failed to get root cgroup stats");
    const usageNanoCores = this.nodeCpu.getAndUpdate(nodeKey, {
      timestampNs: BigInt(sample.timestamp) * 1_000_000n,
      usageCoreNanoSeconds: BigInt(sample.usageCoreNanoSeconds),
    });
    return {
      time: formatStatsTime(sample.timestamp),
      usageNanoCores,
      usageCoreNanoSeconds: sample.usageCoreNanoSeconds,
    };
  }
}

function step<T>(p: Promise<T>, what: string): Promise<T> {
  return p.catch((err) => {
    throw wrap(err, what);
  });
}
