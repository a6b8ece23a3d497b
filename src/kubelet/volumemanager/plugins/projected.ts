// Port of kubelet 1.28 pkg/volume/projected/projected.go: several secrets, configMaps and downward API
// items in one volume, on a tmpfs, written together with one atomic swap.
import { notImplemented } from "../../../lib/errdefs.js";
import type { FileProjection } from "../atomic-writer.js";
import { newAggregate } from "../volume-plugin.js";
import { atomicVolumePlugin, defaultFileMode, getOptional } from "./atomic-volume.js";
import { makePayload as configMapPayload } from "./config-map.js";
import { collectData } from "./downward-api.js";
import { makePayload as secretPayload } from "./secret.js";

export const projectedPluginName = "kubernetes.io/projected";

export const projectedPlugin = atomicVolumePlugin({
  name: projectedPluginName,
  source: "projected",
  medium: "Memory",
  // collectData: every source is tried and the failures come back as one aggregate error; a later
  // source's file wins over an earlier one's at the same path.
  async collect(host, pod, volume) {
    const defaultMode = volume.projected?.defaultMode ?? defaultFileMode;
    const namespace = pod.metadata?.namespace ?? "";
    const errors: unknown[] = [];
    const payload = new Map<string, FileProjection>();
    for (const source of volume.projected?.sources ?? []) {
      try {
        let files: Map<string, FileProjection>;
        if (source.secret) {
          const optional = source.secret.optional === true;
          const secret = await getOptional(host.getSecret(namespace, source.secret.name ?? ""), optional);
          files = secretPayload(source.secret.items, secret ?? {}, defaultMode, optional);
        } else if (source.configMap) {
          const optional = source.configMap.optional === true;
          const configMap = await getOptional(
            host.getConfigMap(namespace, source.configMap.name ?? ""),
            optional,
          );
          files = configMapPayload(source.configMap.items, configMap ?? {}, defaultMode, optional);
        } else if (source.downwardAPI) {
          files = collectData(source.downwardAPI.items ?? [], pod, host.nodeAllocatable, defaultMode);
        } else if (source.serviceAccountToken) {
          throw notImplemented(
            `cannot project a serviceAccountToken to ${JSON.stringify(source.serviceAccountToken.path)}: tokens are issued by an API server, and berth's kubelet runs without one`,
          );
        } else continue;
        for (const [path, file] of files) payload.set(path, file);
      } catch (err) {
        errors.push(err);
      }
    }
    const err = newAggregate(errors);
    if (err) throw err;
    return payload;
  },
});
