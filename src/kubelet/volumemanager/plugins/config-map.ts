// Port of kubelet 1.28 pkg/volume/configmap/configmap.go: a ConfigMap's keys as files.
import type { ConfigMap, KeyToPath } from "kubernetes-types/core/v1.js";
import { invalidArgument } from "../../../lib/errdefs.js";
import type { FileProjection } from "../atomic-writer.js";
import { atomicVolumePlugin, defaultFileMode, getOptional, projectKeys } from "./atomic-volume.js";

export const configMapPluginName = "kubernetes.io/configmap";

export const configMapPlugin = atomicVolumePlugin({
  name: configMapPluginName,
  source: "configMap",
  // Upstream would rather use a tmpfs here but cannot charge its memory to the pod; so neither does berth.
  medium: "",
  async collect(host, pod, volume) {
    const source = volume.configMap ?? {};
    const optional = source.optional === true;
    const name = source.name ?? "";
    const configMap = await getOptional(host.getConfigMap(pod.metadata?.namespace ?? "", name), optional);
    return makePayload(source.items, configMap ?? {}, source.defaultMode ?? defaultFileMode, optional);
  },
});

/** MakePayload: the ConfigMap's data and binaryData (base64 in manifests) by projectKeys' rules. */
export function makePayload(
  items: KeyToPath[] | undefined,
  configMap: Pick<ConfigMap, "data" | "binaryData">,
  defaultMode: number,
  optional: boolean,
): Map<string, FileProjection> {
  const data = new Map<string, Buffer>();
  for (const [k, v] of Object.entries(configMap.data ?? {})) data.set(k, Buffer.from(v, "utf8"));
  for (const [k, v] of Object.entries(configMap.binaryData ?? {})) data.set(k, Buffer.from(v, "base64"));
  return projectKeys(items, data, defaultMode, optional, (key) =>
    invalidArgument(`configmap references non-existent config key: ${key}`),
  );
}
