// Go-style durations ("2s", "1m30s", "500ms"), the way crictl flags and kubelet
// configuration write them.
import { invalidArgument } from "./errdefs.js";

const unitMs: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Milliseconds in a Go duration string; a bare number is seconds, as crictl's --timeout allows. */
export function parseDuration(text: string): number {
  const s = text.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  if (s === "0") return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * (unitMs[m[2] as string] ?? 0);
    matched = re.lastIndex;
  }
  if (matched === 0 || matched !== s.length) {
    throw invalidArgument(`invalid duration "${text}" (examples: 30s, 2m, 1h30m, 500ms)`);
  }
  return total;
}

/** A duration the way Go's time.Duration prints it ("10s", "2m40s", "5m0s", "250ms"), as the kubelet's messages do. */
export function formatDuration(ms: number): string {
  const t = Math.trunc(ms);
  if (t < 1000) return t === 0 ? "0s" : `${t}ms`;
  const h = Math.floor(t / 3_600_000);
  const m = Math.floor((t % 3_600_000) / 60_000);
  const s = `${(t % 60_000) / 1000}s`;
  if (h > 0) return `${h}h${m}m${s}`;
  return m > 0 ? `${m}m${s}` : s;
}
