// pkg/kubelet/kuberuntime/helpers_linux.go (kubelet 1.28): CPU conversions for container resources.
// Unlike cm's milliCPUToQuota this one takes the period as given: the caller has already decided it.
import {
  milliCPUToQuota as cmMilliCPUToQuota,
  MilliCPUToCPU,
  MinShares,
  SharesPerCPU,
} from "../cm/helpers-linux.js";

/** milliCPUToQuota: CFS quota (µs) for a CPU limit over `period` µs; 0 for no limit, at least 1ms otherwise. */
export function milliCPUToQuota(milliCPU: bigint, period: bigint): bigint {
  // cm's conversion with the period taken as given, as the custom-period gate would.
  return cmMilliCPUToQuota(milliCPU, period, { CustomCPUCFSQuotaPeriod: true });
}

/** sharesToMilliCPU: the CPU request that cpu.shares came from, rounded up; 0 below the kernel minimum. */
export function sharesToMilliCPU(shares: bigint): bigint {
  if (shares < MinShares) return 0n;
  const scaled = shares * MilliCPUToCPU;
  return scaled / SharesPerCPU + (scaled % SharesPerCPU === 0n ? 0n : 1n);
}

/** quotaToMilliCPU: the CPU limit a CFS quota and period stand for; 0 for no quota (-1). */
export function quotaToMilliCPU(quota: bigint, period: bigint): bigint {
  if (quota === -1n) return 0n;
  return (quota * MilliCPUToCPU) / period;
}
