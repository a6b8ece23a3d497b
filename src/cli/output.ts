// How the CLI prints: crictl-style tables, and proto3 JSON (or its YAML) for -o json|yaml.
import { type DescMessage, type MessageShape, toJson } from "@bufbuild/protobuf";
import { stringify } from "yaml";
import { invalidArgument } from "../lib/errdefs.js";

export type OutputFormat = "table" | "json" | "yaml";

export function parseOutputFormat(value: string | undefined, fallback: OutputFormat = "table"): OutputFormat {
  if (value === undefined || value === "") return fallback;
  if (value === "table" || value === "json" || value === "yaml") return value;
  throw invalidArgument(`unsupported output format "${value}" (want table, json or yaml)`);
}

/** A message as proto3 JSON with every field present, as crictl prints it. */
export function messageToJson<D extends DescMessage>(schema: D, msg: MessageShape<D>): unknown {
  return toJson(schema, msg, { alwaysEmitImplicit: true });
}

export function formatDocument(value: unknown, format: "json" | "yaml"): string {
  return format === "json" ? `${JSON.stringify(value, null, 2)}\n` : stringify(value);
}

/**
 * Rows aligned in columns like Go's tabwriter as crictl sets it up
 * (minimum cell width 20, padding 3); the last column is not padded.
 */
export function formatTable(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(17, ...all.map((r) => (r[i] ?? "").length)) + 3);
  return all
    .map((r) =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join("")
        .trimEnd(),
    )
    .map((line) => `${line}\n`)
    .join("");
}

/** crictl shows ids cut to 13 characters unless --no-trunc. */
export function truncateId(id: string, noTrunc = false): string {
  const bare = id.startsWith("sha256:") ? id.slice("sha256:".length) : id;
  return noTrunc ? id : bare.slice(0, 13);
}

/** "5 seconds ago", "About a minute ago", "2 hours ago": Docker's HumanDuration wording. */
export function humanAgo(nanos: bigint, now = Date.now()): string {
  if (nanos === 0n) return "Unknown";
  const seconds = Math.max(0, Math.floor((now - Number(nanos / 1_000_000n)) / 1000));
  return `${humanDuration(seconds)} ago`;
}

export function humanDuration(seconds: number): string {
  if (seconds < 1) return "Less than a second";
  if (seconds === 1) return "1 second";
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(seconds / 60);
  if (minutes === 1) return "About a minute";
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(seconds / 3600);
  if (hours === 1) return "About an hour";
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(hours / 24 / 365)} years`;
}

/** Bytes as Docker's units.HumanSize prints them (base 1000, 3 significant digits). */
export function humanSize(bytes: number | bigint): string {
  let n = Number(bytes);
  const units = ["B", "kB", "MB", "GB", "TB", "PB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${Number(n.toPrecision(4))}${units[i]}`;
}
