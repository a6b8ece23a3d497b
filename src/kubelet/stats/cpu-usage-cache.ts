// The CRI stats provider's cpuUsageCache (pkg/kubelet/stats/cri_stats_provider.go): CRI gives
// cumulative CPU time, and a rate needs two samples. Each sample is kept per container (or the
// node), and the rate between it and the previous one is the usage in nanocores.

/** How long an entry no sample refreshed is kept (defaultCachePeriod). */
const defaultCachePeriodMs = 10 * 60 * 1000;

export interface CpuSample {
  /** When it was taken, ns since the epoch. */
  timestampNs: bigint;
  usageCoreNanoSeconds: bigint;
}

interface CpuUsageRecord {
  sample: CpuSample;
  usageNanoCores?: number;
}

export class CpuUsageCache {
  private readonly records = new Map<string, CpuUsageRecord>();

  /**
   * getAndUpdateContainerUsageNanoCores: the usage since the previous sample of `id`, which this
   * one replaces. Undefined for a first sample, or after a counter that went back (a restarted
   * container under the same id): that sample becomes the new baseline. A sample no newer than
   * the previous one is an error upstream logs; here it leaves the cache as it was.
   */
  getAndUpdate(id: string, sample: CpuSample): number | undefined {
    const cached = this.records.get(id);
    if (!cached || sample.usageCoreNanoSeconds < cached.sample.usageCoreNanoSeconds) {
      this.records.set(id, { sample });
      return undefined;
    }
    const elapsedNs = sample.timestampNs - cached.sample.timestampNs;
    if (elapsedNs <= 0n) return undefined;
    const usageNanoCores = Math.trunc(
      (Number(sample.usageCoreNanoSeconds - cached.sample.usageCoreNanoSeconds) / Number(elapsedNs)) * 1e9,
    );
    this.records.set(id, { sample, usageNanoCores });
    return usageNanoCores;
  }

  /** getContainerUsageNanoCores: the last rate computed, without taking a sample. */
  get(id: string): number | undefined {
    return this.records.get(id)?.usageNanoCores;
  }

  /** cleanupOutdatedCaches: drops entries whose last sample is older than the cache period. */
  cleanup(nowMs = Date.now()): void {
    for (const [id, r] of this.records) {
      if (nowMs - Number(r.sample.timestampNs / 1_000_000n) > defaultCachePeriodMs) this.records.delete(id);
    }
  }
}
