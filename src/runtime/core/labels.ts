// Labels the runtime's stores give meaning to (after containerd's labels/labels.go and
// metadata/gc.go), and the label rules every store shares: size limit and field-path updates.
import { invalidArgument } from "../../lib/errdefs.js";

/** Any value marks content or a snapshot as a GC root. */
export const LabelGCRoot = "containerd.io/gc.root";
/** `<prefix>` or `<prefix>.<name>` = digest: the labelled object keeps that content alive. */
export const LabelGCRefContent = "containerd.io/gc.ref.content";
/** `<prefix><snapshotter>` = key: the labelled object keeps that snapshot alive. */
export const LabelGCRefSnapshot = "containerd.io/gc.ref.snapshot.";
/** RFC 3339 time after which GC deletes the lease. */
export const LabelGCExpire = "containerd.io/gc.expire";
/** On a compressed layer: the digest of its uncompressed tar (the layer's diff ID). */
export const LabelUncompressed = "containerd.io/uncompressed";
/** `<prefix><registry host>` = repository the content was pulled from. */
export const LabelDistributionSource = "containerd.io/distribution.source.";

/** containerd's limit: key and value together, in bytes. */
const MaxLabelSize = 4096;

export function validateLabels(labels: Record<string, string>): void {
  for (const [key, value] of Object.entries(labels)) {
    if (Buffer.byteLength(key) + Buffer.byteLength(value) > MaxLabelSize) {
      throw invalidArgument(`label key and value of "${key.slice(0, 64)}" exceed ${MaxLabelSize} bytes`);
    }
  }
}

/**
 * The labels after an update: all of `given` without field paths or with "labels", only the
 * named keys for "labels.<key>" (a key missing from `given` or empty is removed). Other
 * paths are left to the caller; `isOwnPath` says which it handles, the rest are invalid.
 */
export function updateLabels(
  current: Record<string, string>,
  given: Record<string, string>,
  fieldpaths: string[] = [],
  isOwnPath: (path: string) => boolean = () => false,
): Record<string, string> {
  if (fieldpaths.length === 0) return withoutEmpty(given);
  let labels = { ...current };
  for (const path of fieldpaths) {
    if (path === "labels") {
      labels = withoutEmpty(given);
    } else if (path.startsWith("labels.")) {
      const key = path.slice("labels.".length);
      const value = given[key];
      if (value) labels[key] = value;
      else delete labels[key];
    } else if (!isOwnPath(path)) {
      throw invalidArgument(`cannot update field "${path}"`);
    }
  }
  return labels;
}

function withoutEmpty(labels: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).filter(([, v]) => v !== ""));
}
