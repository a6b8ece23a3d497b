// The arithmetic and the table of the benchmark report.

export interface Summary {
  min: number;
  median: number;
  p95: number;
  max: number;
}

export function summarize(samples: number[]): Summary {
  if (samples.length === 0) throw new Error("no samples");
  const s = [...samples].sort((a, b) => a - b);
  return { min: s[0] as number, median: quantile(s, 0.5), p95: quantile(s, 0.95), max: s.at(-1) as number };
}

/**
 * The q-quantile of ascending samples, interpolating between the two nearest ranks (numpy's
 * and R's default), so that the median of an even count is the mean of the middle pair.
 */
export function quantile(sorted: number[], q: number): number {
  const h = (sorted.length - 1) * q;
  const lo = sorted[Math.floor(h)] as number;
  const hi = sorted[Math.ceil(h)] as number;
  return lo + (h - Math.floor(h)) * (hi - lo);
}

/** berth over containerd, rounded to two places: below 1 means berth is faster or smaller. */
export function ratio(berth: number, containerd: number): number {
  return Math.round((berth / containerd) * 100) / 100;
}

/** Rows as aligned columns, the first row being the header. */
export function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}
