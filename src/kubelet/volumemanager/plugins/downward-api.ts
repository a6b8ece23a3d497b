// Port of kubelet 1.28 pkg/volume/downwardapi/downwardapi.go: the pod's own fields and its containers'
// resources as files, on a tmpfs. Labels and annotations are key="value" lines in key order, so a
// process watching the ..data link sees them change when the pod's metadata does.
import type { DownwardAPIVolumeFile, Pod, ResourceFieldSelector } from "kubernetes-types/core/v1.js";
import { invalidArgument, notFound } from "../../../lib/errdefs.js";
import {
  containerResourceRuntimeValue,
  defaultPodLimitsForDownwardAPI,
  podFieldSelectorRuntimeValue,
} from "../../kuberuntime/container.js";
import type { FileProjection } from "../atomic-writer.js";
import { cleanPath, newAggregate } from "../volume-plugin.js";
import { atomicVolumePlugin, defaultFileMode } from "./atomic-volume.js";

export const downwardAPIPluginName = "kubernetes.io/downward-api";

export const downwardAPIPlugin = atomicVolumePlugin({
  name: downwardAPIPluginName,
  source: "downwardAPI",
  medium: "Memory",
  async collect(host, pod, volume) {
    const source = volume.downwardAPI ?? {};
    return collectData(source.items ?? [], pod, host.nodeAllocatable, source.defaultMode ?? defaultFileMode);
  },
});

/**
 * CollectData: one file per item, at its cleaned path. Every item is tried, and the failures come
 * back together as one aggregate error.
 */
export function collectData(
  items: DownwardAPIVolumeFile[],
  pod: Pod,
  nodeAllocatable: Record<string, string>,
  defaultMode: number,
): Map<string, FileProjection> {
  const errors: unknown[] = [];
  const data = new Map<string, FileProjection>();
  for (const item of items) {
    let value = "";
    try {
      if (item.fieldRef) value = extractFieldPathAsString(pod, item.fieldRef.fieldPath);
      else if (item.resourceFieldRef)
        value = extractResourceValue(item.resourceFieldRef, pod, nodeAllocatable);
    } catch (err) {
      errors.push(err);
    }
    data.set(cleanPath(item.path), { data: Buffer.from(value, "utf8"), mode: item.mode ?? defaultMode });
  }
  const err = newAggregate(errors);
  if (err) throw err;
  return data;
}

// fieldpath.ExtractFieldPathAsString: volumes see the pod's metadata only (name, namespace, uid,
// labels, annotations, one label or annotation by key); node and status fields are for env vars.
// podFieldSelectorRuntimeValue reads metadata exactly so.
function extractFieldPathAsString(pod: Pod, fieldPath: string): string {
  if (!fieldPath.startsWith("metadata.")) throw invalidArgument(`unsupported fieldPath: ${fieldPath}`);
  return podFieldSelectorRuntimeValue({ fieldPath }, pod, "", [], []);
}

/**
 * ExtractResourceValueByContainerNameAndNodeAllocatable: the named container's (init containers
 * included) request or limit, an unset limit reading as the node's allocatable amount.
 */
function extractResourceValue(
  fs: ResourceFieldSelector,
  pod: Pod,
  nodeAllocatable: Record<string, string>,
): string {
  const name = fs.containerName ?? "";
  const container =
    pod.spec?.containers.find((c) => c.name === name) ??
    pod.spec?.initContainers?.find((c) => c.name === name);
  if (!container) throw notFound(`container ${name} not found`);
  const [, withLimits] = defaultPodLimitsForDownwardAPI(pod, container, nodeAllocatable);
  return containerResourceRuntimeValue({ ...fs, containerName: undefined }, pod, withLimits);
}
