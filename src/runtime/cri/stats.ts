// CRI ContainerStats and PodSandboxStats messages from cgroup, snapshot and network numbers,
// filled field by field as containerd 1.6.20 fills them (pkg/cri/server/
// container_stats_list.go, container_stats_list_linux.go, sandbox_stats_linux.go), which
// test/stats-containerd.test.ts checks against a running containerd.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  ContainerAttributesSchema,
  ContainerStatsSchema,
  CpuUsageSchema,
  MemoryUsageSchema,
  NetworkUsageSchema,
  PodSandboxAttributesSchema,
  PodSandboxStatsSchema,
} from "../../cri/gen/runtime/v1/api_pb.js";
import type { CgroupStats } from "./cgroup-stats.js";
import type { InterfaceStats } from "./network-stats.js";

type ContainerStatsInit = MessageInitShape<typeof ContainerStatsSchema>;

/** The only interface containerd 1.6 reports for a pod. */
const DefaultIfName = "eth0";

/** What the snapshotter measured of a container's writable layer, and when. */
export interface WritableLayerUsage {
  timestamp: bigint;
  usedBytes: bigint;
  inodesUsed: bigint;
}

export interface ContainerStatsInput {
  attributes: MessageInitShape<typeof ContainerAttributesSchema>;
  /** Its cgroup's stats while its task runs; without them, as in containerd, no cpu or memory. */
  cgroup?: CgroupStats;
  /** Not yet measured: containerd then reports a zero timestamp and zero usage. */
  writableLayer?: WritableLayerUsage;
}

export interface PodSandboxStatsInput {
  attributes: MessageInitShape<typeof PodSandboxAttributesSchema>;
  /** Stats of the pod's cgroup parent, which holds the infra container and every container. */
  cgroup: CgroupStats;
  /** The pod netns's interfaces ([] when unreadable); absent for a pod on the host network. */
  network?: InterfaceStats[];
  /** Every container of the pod; running ones with cgroup stats read with `{ processes: true }`. */
  containers: ContainerStatsInput[];
}

/**
 * getUsageNanoCores: CPU use between the last two samples of each container or pod, in
 * nanocores. Every stats call takes a sample, so ContainerStats, ListContainerStats and
 * PodSandboxStats all move the same baseline, as they share containerd's stored stats.
 */
export class UsageNanoCores {
  readonly #last = new Map<string, { usage: bigint; timestamp: bigint }>();

  /** 0 for the first sample, and for one taken no later than the last (which keeps that baseline). */
  compute(id: string, s: Pick<CgroupStats, "timestamp" | "cpuUsageCoreNanoSeconds">): bigint {
    const last = this.#last.get(id);
    if (last !== undefined && s.timestamp <= last.timestamp) return 0n;
    this.#last.set(id, { usage: s.cpuUsageCoreNanoSeconds, timestamp: s.timestamp });
    // A counter that went back belongs to a recreated cgroup: start over rather than report
    // containerd's wrapped uint64.
    if (last === undefined || s.cpuUsageCoreNanoSeconds < last.usage) return 0n;
    const used = Number(s.cpuUsageCoreNanoSeconds - last.usage);
    // containerd's float64 arithmetic, truncated like its uint64 conversion.
    return BigInt(Math.trunc((used / Number(s.timestamp - last.timestamp)) * 1e9));
  }

  /** Drops the baseline of a removed container or pod. */
  forget(id: string): void {
    this.#last.delete(id);
  }
}

/** containerMetrics: attributes and writable layer always; cpu and memory only with cgroup stats. */
export function containerStatsOf(
  c: ContainerStatsInput,
  imageFsPath: string,
  nano: UsageNanoCores,
): ContainerStatsInit {
  const id = c.attributes.id ?? "";
  return {
    attributes: c.attributes,
    cpu: c.cgroup && cpuUsageOf(id, c.cgroup, nano),
    memory: c.cgroup && memoryUsageOf(c.cgroup),
    writableLayer: {
      timestamp: c.writableLayer?.timestamp ?? 0n,
      fsId: { mountpoint: imageFsPath },
      usedBytes: { value: c.writableLayer?.usedBytes ?? 0n },
      inodesUsed: { value: c.writableLayer?.inodesUsed ?? 0n },
    },
  };
}

/**
 * podSandboxStats: the pod cgroup's cpu and memory, eth0's counters, the processes of its
 * running containers (the infra process is not counted), and its containers' stats.
 */
export function podSandboxStatsOf(
  p: PodSandboxStatsInput,
  imageFsPath: string,
  nano: UsageNanoCores,
): MessageInitShape<typeof PodSandboxStatsSchema> {
  const { timestamp } = p.cgroup;
  const processCount = p.containers.reduce((n, c) => n + (c.cgroup?.processCount ?? 0n), 0n);
  return {
    attributes: p.attributes,
    linux: {
      cpu: cpuUsageOf(p.attributes.id ?? "", p.cgroup, nano),
      memory: memoryUsageOf(p.cgroup),
      network: p.network && networkUsageOf(p.network),
      process: { timestamp, processCount: { value: processCount } },
      containers: p.containers.map((c) => containerStatsOf(c, imageFsPath, nano)),
    },
  };
}

function cpuUsageOf(
  id: string,
  s: CgroupStats,
  nano: UsageNanoCores,
): MessageInitShape<typeof CpuUsageSchema> {
  return {
    timestamp: s.timestamp,
    usageCoreNanoSeconds: { value: s.cpuUsageCoreNanoSeconds },
    usageNanoCores: { value: nano.compute(id, s) },
  };
}

function memoryUsageOf(s: CgroupStats): MessageInitShape<typeof MemoryUsageSchema> {
  const m = s.memory;
  return {
    timestamp: s.timestamp,
    workingSetBytes: { value: m.workingSetBytes },
    availableBytes: { value: m.availableBytes },
    usageBytes: { value: m.usageBytes },
    rssBytes: { value: m.rssBytes },
    pageFaults: { value: m.pageFaults },
    majorPageFaults: { value: m.majorPageFaults },
  };
}

/** eth0 alone, zeros when it is missing, and no timestamp: what containerd 1.6 sends. */
function networkUsageOf(ifaces: InterfaceStats[]): MessageInitShape<typeof NetworkUsageSchema> {
  const eth0 = ifaces.find((i) => i.name === DefaultIfName);
  return {
    defaultInterface: {
      name: DefaultIfName,
      rxBytes: { value: eth0?.rxBytes ?? 0n },
      rxErrors: { value: eth0?.rxErrors ?? 0n },
      txBytes: { value: eth0?.txBytes ?? 0n },
      txErrors: { value: eth0?.txErrors ?? 0n },
    },
  };
}
