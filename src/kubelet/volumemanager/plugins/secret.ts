// Port of kubelet 1.28 pkg/volume/secret/secret.go: a Secret's keys as files, on a tmpfs.
import type { KeyToPath, Secret } from "kubernetes-types/core/v1.js";
import { invalidArgument } from "../../../lib/errdefs.js";
import type { FileProjection } from "../atomic-writer.js";
import { atomicVolumePlugin, defaultFileMode, getOptional, projectKeys } from "./atomic-volume.js";

export const secretPluginName = "kubernetes.io/secret";

export const secretPlugin = atomicVolumePlugin({
  name: secretPluginName,
  source: "secret",
  // Secrets never touch the node's disks.
  medium: "Memory",
  async collect(host, pod, volume) {
    const source = volume.secret ?? {};
    const optional = source.optional === true;
    const name = source.secretName ?? "";
    const secret = await getOptional(host.getSecret(pod.metadata?.namespace ?? "", name), optional);
    return makePayload(source.items, secret ?? {}, source.defaultMode ?? defaultFileMode, optional);
  },
});

/** MakePayload: as configMap's, over the Secret's decoded data. */
export function makePayload(
  items: KeyToPath[] | undefined,
  secret: Pick<Secret, "data" | "stringData">,
  defaultMode: number,
  optional: boolean,
): Map<string, FileProjection> {
  return projectKeys(items, secretBytes(secret), defaultMode, optional, (key) =>
    invalidArgument(`references non-existent secret key: ${key}`),
  );
}

// data is base64 in a manifest; stringData, which the API server folds into data when it stores a
// Secret, is honoured the same way for local ones and wins over data.
function secretBytes(secret: Pick<Secret, "data" | "stringData">): Map<string, Buffer> {
  const data = new Map<string, Buffer>();
  for (const [k, v] of Object.entries(secret.data ?? {})) data.set(k, Buffer.from(v, "base64"));
  for (const [k, v] of Object.entries(secret.stringData ?? {})) data.set(k, Buffer.from(v, "utf8"));
  return data;
}
