// Port of kubelet 1.28 pkg/volume/util/nested_volumes.go. A container may mount another volume inside
// a configMap, secret, downwardAPI or projected volume (/etc/app from a configMap, /etc/app/certs from
// a secret). Those volumes are read-only to the runtime, so the directory the inner volume is mounted
// on has to exist in the outer one before the container is created.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Container, Pod } from "kubernetes-types/core/v1.js";
import { invalidArgument, wrap } from "../../lib/errdefs.js";
import { cleanPath } from "./volume-plugin.js";

/**
 * getNestedMountpoints: the directories, relative to the volume, on which other volumes are mounted
 * beneath volume `name` in any container. Only the outermost of a nest is listed (for /a/b and /a/b/c
 * beneath /a, just "b"): the inner one lands in a volume of its own.
 */
export function getNestedMountpoints(name: string, pod: Pod): string[] {
  const result: string[] = [];
  const containers: Container[] = [
    ...(pod.spec?.initContainers ?? []),
    ...(pod.spec?.containers ?? []),
    ...((pod.spec?.ephemeralContainers ?? []) as Container[]),
  ];
  for (const container of containers) {
    const all: string[] = [];
    const mine: string[] = [];
    for (const m of container.volumeMounts ?? []) {
      const cleaned = cleanPath(m.mountPath);
      all.push(cleaned);
      if (m.name === name) mine.push(cleaned);
    }
    all.sort();
    for (const mountPoint of mine) {
      // A relative path climbing out would have the kubelet make directories outside the volume.
      if (mountPoint.startsWith("../")) throw invalidArgument(`invalid container mount point ${mountPoint}`);
      const withSlash = `${mountPoint}/`;
      // A list, not the last one seen: "/d/n/x" sorts after "/d/n-v", so nests are not contiguous.
      const outer: string[] = [];
      for (const mp of all) {
        if (!mp.startsWith(withSlash) || outer.some((o) => mp.startsWith(o))) continue;
        outer.push(`${mp}/`);
        result.push(mp.slice(withSlash.length));
      }
    }
  }
  return result;
}

/** MakeNestedMountpoints: creates those directories in the volume at `baseDir`. */
export async function makeNestedMountpoints(name: string, baseDir: string, pod: Pod): Promise<void> {
  for (const dir of getNestedMountpoints(name, pod)) {
    try {
      await mkdir(join(baseDir, dir), { recursive: true, mode: 0o755 });
    } catch (err) {
      throw wrap(err, "unable to create nested volume mountpoints");
    }
  }
}
