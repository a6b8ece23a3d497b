// pkg/kubelet/container/helpers.go HashContainer (kubelet 1.28): a fingerprint of a container's spec,
// stored on the container when it is created and compared on every sync, so that any change to the
// spec restarts the container.
//
// Upstream hashes Go's own JSON encoding of v1.Container (struct field order, Go's quantity forms)
// through a reflection dump; those bytes cannot be rebuilt from the JSON berth receives. berth keeps
// the same role with its own bytes: FNV-1a 32 over canonical JSON (keys sorted; absent and null
// values, empty lists and empty objects dropped, so a spec with or without `env: []` hashes alike). The value
// therefore differs from upstream's, and only berth's own containers are compared against it.
import type { Container } from "kubernetes-types/core/v1.js";

/** The container's hash as lowercase hex without padding, as upstream writes it into the annotation. */
export function hashContainer(container: Container): string {
  return fnv1a32(Buffer.from(JSON.stringify(canonical(container) ?? {}), "utf8")).toString(16);
}

function fnv1a32(bytes: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (const byte of bytes) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** The value with object keys sorted and empty parts removed; undefined when nothing is left. */
function canonical(value: unknown): unknown {
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) {
    // Elements keep their place: an empty element still counts, so [a, {}] and [a] differ.
    return value.length === 0 ? undefined : value.map((v) => canonical(v) ?? null);
  }
  if (typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = canonical((value as Record<string, unknown>)[key]);
      if (v !== undefined) out[key] = v;
    }
    return Object.keys(out).length === 0 ? undefined : out;
  }
  return value;
}
