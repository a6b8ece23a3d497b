// berth's name and version (containerd's version/version.go); the version is package.json's.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const RuntimeName = "berth";

let cached: string | undefined;

/** The version in berth's package.json, found above this module in src/ and in dist/. */
export function berthVersion(): string {
  cached ??= findVersion();
  return cached;
}

function findVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, "package.json");
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, "utf8")) as { name?: string; version?: string };
      if (pkg.name === RuntimeName && pkg.version) return pkg.version;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error("cannot find berth's package.json");
    dir = parent;
  }
}
