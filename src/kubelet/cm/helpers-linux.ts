// pkg/kubelet/cm/helpers_linux.go (kubelet 1.28): the arithmetic from pod resources to cgroup values —
// CPU shares and CFS quota, the pod cgroup's ResourceConfig — plus the conversions the cgroup manager
// (cgroup_manager_linux.go) makes when it writes a ResourceConfig: cgroup v2 cpu.weight and the
// per-page-size hugetlb limits.
import type { Pod } from "kubernetes-types/core/v1.js";
import { parseQuantity } from "../api/quantity.js";
import {
  hugePageSizeFromResourceName,
  hugePageUnitSizeFromByteSize,
  isHugePageResourceName,
  podLimits,
  podRequests,
  ResourceCPU,
  type ResourceList,
  ResourceMemory,
} from "../api/resources.js";
import type { FeatureGates } from "../features/features.js";
import { getPodQOS, PodQOSBurstable, PodQOSGuaranteed } from "../qos/qos.js";

// The kernel's bounds for cpu.shares.
export const MinShares = 2n;
export const MaxShares = 262144n;
export const SharesPerCPU = 1024n;
export const MilliCPUToCPU = 1000n;
/** The default CFS period: 100ms in microseconds. */
export const QuotaPeriod = 100_000n;
/** The kernel rejects a CFS quota below 1ms. */
export const MinQuotaPeriod = 1_000n;

export const Cgroup2MemoryMin = "memory.min";
export const Cgroup2MemoryHigh = "memory.high";
export const Cgroup2MaxCpuLimit = "max";
export const Cgroup2MaxSwapFilename = "memory.swap.max";

/** cm.ResourceConfig: what a pod or QoS cgroup is set to; unset fields are left alone. */
export interface ResourceConfig {
  memory?: bigint;
  cpuShares?: bigint;
  cpuQuota?: bigint;
  cpuPeriod?: bigint;
  /** Page size in bytes → limit in bytes. */
  hugePageLimit?: Map<bigint, bigint>;
  pidsLimit?: bigint;
  /** cgroup v2 files written as given, such as memory.min. */
  unified?: Record<string, string>;
}

/**
 * MilliCPUToQuota: the CFS quota (µs per period) for a CPU limit; 0 for no limit. Without the
 * CustomCPUCFSQuotaPeriod gate the period is always 100ms, whatever is asked.
 */
export function milliCPUToQuota(
  milliCPU: bigint,
  period: bigint,
  gates: Pick<FeatureGates, "CustomCPUCFSQuotaPeriod">,
): bigint {
  if (milliCPU === 0n) return 0n;
  const effectivePeriod = gates.CustomCPUCFSQuotaPeriod ? period : QuotaPeriod;
  const quota = (milliCPU * effectivePeriod) / MilliCPUToCPU;
  if (quota < MinQuotaPeriod) return MinQuotaPeriod;
  return quota;
}

/**
 * MilliCPUToShares: cpu.shares for a CPU request. No request is the kernel's minimum (2), not the
 * runtime's default of 1024, so that a pod without a request gets the least weight.
 */
export function milliCPUToShares(milliCPU: bigint): bigint {
  if (milliCPU === 0n) return MinShares;
  const shares = (milliCPU * SharesPerCPU) / MilliCPUToCPU;
  if (shares < MinShares) return MinShares;
  return shares > MaxShares ? MaxShares : shares;
}

/** HugePageLimits: page size (bytes) → summed amount (bytes). A malformed page size counts as size 0, as upstream. */
export function hugePageLimits(resourceList: ResourceList): Map<bigint, bigint> {
  const limits = new Map<bigint, bigint>();
  for (const [name, amount] of Object.entries(resourceList)) {
    if (!isHugePageResourceName(name)) continue;
    const pageSize = hugePageSizeFromResourceName(name) ?? 0n;
    limits.set(pageSize, (limits.get(pageSize) ?? 0n) + amount.value());
  }
  return limits;
}

/**
 * ResourceConfigForPod: the pod cgroup's values. Guaranteed pods get shares, quota and memory limit;
 * burstable pods get shares, and quota or memory limit only when every container sets that limit
 * (one unlimited container leaves the whole pod unlimited); best-effort pods get the minimum shares.
 * Without enforceCPULimits the quota is -1 (unlimited). MemoryQoS adds memory.min = the pod's requests.
 */
export function resourceConfigForPod(
  pod: Pod,
  enforceCPULimits: boolean,
  cpuPeriod: bigint,
  enforceMemoryQoS: boolean,
  gates: Pick<FeatureGates, "CustomCPUCFSQuotaPeriod" | "InPlacePodVerticalScaling" | "SidecarContainers">,
): ResourceConfig {
  const reqs = podRequests(pod, {
    inPlacePodVerticalScalingEnabled: gates.InPlacePodVerticalScaling,
    sidecarContainers: gates.SidecarContainers,
  });
  let cpuLimitsDeclared = true;
  let memoryLimitsDeclared = true;
  const limits = podLimits(pod, {
    sidecarContainers: gates.SidecarContainers,
    containerFn: (res) => {
      if (res[ResourceCPU]?.isZero() ?? true) cpuLimitsDeclared = false;
      if (res[ResourceMemory]?.isZero() ?? true) memoryLimitsDeclared = false;
    },
  });

  const cpuRequests = reqs[ResourceCPU]?.milliValue() ?? 0n;
  const cpuLimits = limits[ResourceCPU]?.milliValue() ?? 0n;
  const memoryLimits = limits[ResourceMemory]?.value() ?? 0n;
  const cpuShares = milliCPUToShares(cpuRequests);
  const cpuQuota = enforceCPULimits ? milliCPUToQuota(cpuLimits, cpuPeriod, gates) : -1n;

  const result: ResourceConfig = {};
  switch (getPodQOS(pod)) {
    case PodQOSGuaranteed:
      Object.assign(result, { cpuShares, cpuQuota, cpuPeriod, memory: memoryLimits });
      break;
    case PodQOSBurstable:
      result.cpuShares = cpuShares;
      if (cpuLimitsDeclared) Object.assign(result, { cpuQuota, cpuPeriod });
      if (memoryLimitsDeclared) result.memory = memoryLimits;
      break;
    default:
      result.cpuShares = MinShares;
  }
  result.hugePageLimit = hugePageLimits(reqs);

  if (enforceMemoryQoS) {
    const memoryMin = reqs[ResourceMemory]?.value() ?? 0n;
    if (memoryMin > 0n) result.unified = { [Cgroup2MemoryMin]: String(memoryMin) };
  }
  return result;
}

/** getCPUWeight: cpu.shares [2, 262144] as cgroup v2 cpu.weight [1, 10000]; 0 when unset. */
export function getCPUWeight(cpuShares: bigint | undefined): bigint {
  if (cpuShares === undefined) return 0n;
  if (cpuShares >= MaxShares) return 10000n;
  return cpuSharesToCpuWeight(cpuShares);
}

/** CpuSharesToCpuWeight (KEP-2254's linear mapping). */
export function cpuSharesToCpuWeight(cpuShares: bigint): bigint {
  return ((cpuShares - 2n) * 9999n) / 262142n + 1n;
}

/** CpuWeightToCpuShares, the inverse, for reading a v2 cgroup back. */
export function cpuWeightToCpuShares(cpuWeight: bigint): bigint {
  return ((cpuWeight - 1n) * 262142n) / 9999n + 2n;
}

/**
 * libcontainer's HugePageSizes() from the node's facts: ["2Mi", "1Gi"] → ["2MB", "1GB"], the names
 * cgroups (and CRI's HugepageLimit.page_size) use.
 */
export function hugePageSizes(nodePageSizes: readonly string[]): string[] {
  return nodePageSizes.flatMap((size) => hugePageUnitSizeFromByteSize(parseQuantity(size).value()) ?? []);
}

/**
 * The hugetlb part of the cgroup manager's maybeSetHugetlb: each configured page size with its limit,
 * then every other page size of the node limited to 0 so that a pod gets no hugepages it did not ask for.
 */
export function hugetlbLimits(
  config: ResourceConfig,
  nodePageSizes: readonly string[],
): { pageSize: string; limit: bigint }[] {
  const result: { pageSize: string; limit: bigint }[] = [];
  for (const [size, limit] of config.hugePageLimit ?? []) {
    const pageSize = hugePageUnitSizeFromByteSize(size);
    if (pageSize !== undefined) result.push({ pageSize, limit });
  }
  for (const pageSize of hugePageSizes(nodePageSizes)) {
    if (!result.some((l) => l.pageSize === pageSize)) result.push({ pageSize, limit: 0n });
  }
  return result;
}
