// CPU % from two cumulative usage samples, as crictl stats computes it.
export interface CpuSample {
  /** Nanoseconds since the epoch when the sample was taken. */
  timestamp: bigint;
  /** Cumulative CPU time in nanoseconds. */
  usageCoreNanoSeconds: bigint;
}

export function cpuPercent(first: CpuSample | undefined, second: CpuSample | undefined): number {
  if (!first || !second) return 0;
  const dt = Number(second.timestamp - first.timestamp);
  const du = Number(second.usageCoreNanoSeconds - first.usageCoreNanoSeconds);
  return dt > 0 && du > 0 ? (du / dt) * 100 : 0;
}

export function cpuSample(
  cpu: { timestamp: bigint; usageCoreNanoSeconds?: { value: bigint } } | undefined,
): CpuSample | undefined {
  return cpu?.usageCoreNanoSeconds
    ? { timestamp: cpu.timestamp, usageCoreNanoSeconds: cpu.usageCoreNanoSeconds.value }
    : undefined;
}
