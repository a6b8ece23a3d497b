// The pods `berth up` runs, read as `berth apply -f` reads them (a file, or a directory's
// .yaml, .yml and .json files; several documents each, v1 Lists unrolled), and refused before
// anything starts if one is not a Pod, has no name or comes twice.
import { existsSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Pod } from "kubernetes-types/core/v1.js";
import { manifestFiles, parseManifests, toPod } from "../cli/apply.js";
import { invalidArgument } from "../lib/errdefs.js";

export interface PodManifest {
  pod: Pod;
  /** The file it came from. */
  file: string;
}

export async function loadPodManifests(path: string): Promise<PodManifest[]> {
  const manifests: PodManifest[] = [];
  const seen = new Map<string, string>();
  for (const file of await manifestFiles(path, false)) {
    for (const object of parseManifests(await readFile(file, "utf8"), file)) {
      const pod = toPod(object);
      const name = pod.metadata?.name;
      if (!name) throw invalidArgument(`a pod in ${file} has no metadata.name`);
      const key = `${pod.metadata?.namespace || "default"}/${name}`;
      const other = seen.get(key);
      if (other) throw invalidArgument(`pod "${key}" is in both ${other} and ${file}`);
      seen.set(key, file);
      manifests.push({ pod, file });
    }
  }
  if (manifests.length === 0) throw invalidArgument(`no pod manifests in ${path}`);
  return manifests;
}

/** examples/ of the berth checkout or package this module belongs to. */
export function defaultExamplesDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, "utf8")).name === "berth")
      return join(dir, "examples");
    const parent = dirname(dir);
    if (parent === dir) throw invalidArgument("cannot find berth's examples/ directory: give one with -f");
    dir = parent;
  }
}
