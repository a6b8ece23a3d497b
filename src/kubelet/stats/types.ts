// k8s.io/kubelet/pkg/apis/stats/v1alpha1/types.go: the JSON of /stats/summary, field names as
// upstream serializes them. Times are metav1.Time strings (RFC 3339, whole seconds); byte and
// nanosecond counts are JSON numbers.

export interface Summary {
  node: NodeStats;
  pods: PodStats[];
}

export interface NodeStats {
  nodeName: string;
  /** When the node booted. */
  startTime: string;
  cpu?: CPUStats;
  memory?: MemoryStats;
  network?: NetworkStats;
  /** The filesystem of the kubelet's root directory. */
  fs?: FsStats;
  runtime?: RuntimeStats;
  rlimit?: RlimitStats;
}

export interface RuntimeStats {
  imageFs?: FsStats;
}

export interface RlimitStats {
  time: string;
  /** The kernel's pid_max. */
  maxpid?: number;
  /** Processes (threads) now running. */
  curproc?: number;
}

export interface PodReference {
  name: string;
  namespace: string;
  uid: string;
}

export interface PodStats {
  podRef: PodReference;
  /** When the pod's sandbox was created. */
  startTime: string;
  containers: ContainerStats[];
  cpu?: CPUStats;
  memory?: MemoryStats;
  network?: NetworkStats;
  volume?: VolumeStats[];
  "ephemeral-storage"?: FsStats;
  process_stats?: ProcessStats;
}

export interface ContainerStats {
  name: string;
  /** When the container was created. */
  startTime: string;
  cpu?: CPUStats;
  memory?: MemoryStats;
  /** The container's writable layer. */
  rootfs?: FsStats;
  logs?: FsStats;
}

export interface CPUStats {
  time: string;
  /** CPU use averaged over the last sampling interval, in billionths of a core. */
  usageNanoCores?: number;
  usageCoreNanoSeconds?: number;
}

export interface MemoryStats {
  time: string;
  availableBytes?: number;
  usageBytes?: number;
  workingSetBytes?: number;
  rssBytes?: number;
  pageFaults?: number;
  majorPageFaults?: number;
}

export interface InterfaceStats {
  name: string;
  rxBytes?: number;
  rxErrors?: number;
  txBytes?: number;
  txErrors?: number;
}

/** The default interface's numbers inline, then every interface. */
export interface NetworkStats extends InterfaceStats {
  time: string;
  interfaces?: InterfaceStats[];
}

export interface FsStats {
  time: string;
  availableBytes?: number;
  capacityBytes?: number;
  usedBytes?: number;
  inodesFree?: number;
  inodes?: number;
  inodesUsed?: number;
}

export interface VolumeStats extends FsStats {
  name: string;
}

export interface ProcessStats {
  process_count?: number;
}

/** metav1.Time's JSON: RFC 3339 in UTC, to the second. */
export function formatStatsTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

/** A CRI timestamp (ns since the epoch) as a stats time. */
export function statsTimeOfNs(ns: bigint): string {
  return formatStatsTime(Number(ns / 1_000_000n));
}
