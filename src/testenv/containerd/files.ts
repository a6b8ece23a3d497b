// Reads of /proc, /sys and our own files where "missing" is an answer, not an error:
// processes, mounts and cgroups come and go while we look.
import * as fs from "node:fs";

export function errnoOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

export function readdirSafe(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

export function readdirEntriesSafe(dir: string): fs.Dirent[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

export function readFileSafe(file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

export function readlinkSafe(file: string): string | undefined {
  try {
    return fs.readlinkSync(file);
  } catch {
    return undefined;
  }
}

export function readJsonSafe(file: string): unknown {
  const raw = readFileSafe(file);
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

export function tailFile(file: string, n: number): string {
  const raw = readFileSafe(file);
  if (!raw) return "";
  return raw.trimEnd().split("\n").slice(-n).join("\n");
}
