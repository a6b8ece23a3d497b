// What the configMap, secret, downwardAPI and projected plugins of kubelet 1.28 share (each of their
// SetUpAt and TearDownAt): files gathered from the pod and its objects, written with the atomic writer
// into an emptyDir that the plugin wraps, and read-only to containers.
import type { KeyToPath, Pod, Volume } from "kubernetes-types/core/v1.js";
import { isNotFound } from "../../../lib/errdefs.js";
import { type FileProjection, writeAtomic } from "../atomic-writer.js";
import { makeNestedMountpoints } from "../nested-mountpoints.js";
import { podUidOf, type VolumeHost, type VolumePlugin } from "../volume-plugin.js";
import { setUpEmptyDir, tearDownEmptyDir, wrappedVolumeName } from "./empty-dir.js";

/** Mode of projected files when the volume sets none (the API's defaulting). */
export const defaultFileMode = 0o644;

export interface AtomicVolumeSpec {
  name: string;
  source: keyof Volume;
  /** The wrapped emptyDir's medium: Memory keeps secrets off the node's disks. */
  medium: "" | "Memory";
  /** The files of the volume; an error leaves what is on disk as it was. */
  collect(host: VolumeHost, pod: Pod, volume: Volume): Promise<Map<string, FileProjection>>;
}

/** A plugin that projects `collect`'s files and refreshes them on every sync (RequiresRemount). */
export function atomicVolumePlugin(spec: AtomicVolumeSpec): VolumePlugin {
  const tearDown = (host: VolumeHost, podUid: string, volumeName: string) =>
    tearDownEmptyDir(
      host,
      podUid,
      wrappedVolumeName(volumeName),
      host.getPodVolumeDir(podUid, spec.name, volumeName),
    );
  return {
    name: spec.name,
    source: spec.source,
    requiresRemount: true,
    async setUp(host, pod, volume) {
      const uid = podUidOf(pod);
      const dir = host.getPodVolumeDir(uid, spec.name, volume.name);
      const payload = await spec.collect(host, pod, volume);
      await setUpEmptyDir(host, pod, wrappedVolumeName(volume.name), { medium: spec.medium }, dir);
      await makeNestedMountpoints(volume.name, dir, pod);
      try {
        await writeAtomic(dir, payload);
      } catch (err) {
        // As upstream: a volume that could not be written goes whole, and the next sync sets it up anew.
        await tearDown(host, uid, volume.name).catch((tearDownErr) =>
          host.log.error(
            { err: tearDownErr, volume: volume.name },
            "error tearing down volume after failed setup",
          ),
        );
        throw err;
      }
      return { hostPath: dir, readOnly: true };
    },
    tearDown,
  };
}

/** The object `get` fetches; undefined when it does not exist and the volume marks it optional. */
export async function getOptional<T>(get: Promise<T>, optional: boolean): Promise<T | undefined> {
  try {
    return await get;
  } catch (err) {
    if (optional && isNotFound(err)) return undefined;
    throw err;
  }
}

/**
 * The key-to-file mapping of configMap and secret volumes: every key as a file of its name, or only the
 * listed items at their paths. A listed key the object lacks is an error unless the source is optional.
 */
export function projectKeys(
  items: KeyToPath[] | undefined,
  data: Map<string, Buffer>,
  defaultMode: number,
  optional: boolean,
  missingKey: (key: string) => Error,
): Map<string, FileProjection> {
  const payload = new Map<string, FileProjection>();
  if (!items || items.length === 0) {
    for (const [key, bytes] of data) payload.set(key, { data: bytes, mode: defaultMode });
    return payload;
  }
  for (const item of items) {
    const bytes = data.get(item.key);
    if (bytes === undefined) {
      if (optional) continue;
      throw missingKey(item.key);
    }
    payload.set(item.path, { data: bytes, mode: item.mode ?? defaultMode });
  }
  return payload;
}
