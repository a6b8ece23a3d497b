// CRI timestamps: int64 nanoseconds since the epoch.

/** The wall clock at start-up, in nanoseconds, minus the monotonic clock then. */
const epochOffsetNs = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

/**
 * Nanoseconds since the epoch, for CRI timestamps: the wall clock taken at start-up
 * advanced by the monotonic clock, so that two events a microsecond apart still differ
 * and sort as they happened (the kubelet orders containers by createdAt).
 */
export function nowNs(): bigint {
  return epochOffsetNs + process.hrtime.bigint();
}

/** The nanosecond timestamp of a Date. */
export function dateNs(d: Date): bigint {
  return BigInt(d.getTime()) * 1_000_000n;
}
