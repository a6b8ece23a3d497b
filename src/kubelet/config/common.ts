// Port of kubelet 1.28 pkg/kubelet/config/common.go: how a pod from a file or from berth's local API is
// made ready for PodConfig — manifest documents decoded (YAML 1.1 as the kubelet's decoder reads it, so
// JSON too), the API defaults applied, then the source's own defaults, then validation.
import { createHash } from "node:crypto";
import type { Pod, PodStatus } from "kubernetes-types/core/v1.js";
import type { ObjectMeta } from "kubernetes-types/meta/v1.js";
import { parseAllDocuments } from "yaml";
import { ConfigHashAnnotationKey } from "./pod-config.js";
import { defaultPod } from "./pod-defaults.js";
import { checkPodTypes, type FieldError, validatePod } from "./pod-validation.js";

/** kubernetes-types marks what the server sets (uid, status, deletion) read-only; the sources set it. */
export type MutablePod = Omit<Pod, "metadata" | "status"> & {
  metadata?: { -readonly [K in keyof ObjectMeta]: ObjectMeta[K] };
  status?: PodStatus;
};

const NamespaceDefault = "default";

/** The largest manifest the kubelet reads (maxConfigLength). */
export const MaxConfigLength = 10 * 1024 * 1024;

/** generatePodName: a static pod's name is unique among nodes with the node's name appended. */
export function generatePodName(name: string, nodeName: string): string {
  return `${name}-${nodeName.toLowerCase()}`;
}

/**
 * applyDefaults for a pod from a file: a UID that stays the same as long as the manifest, the node and
 * the file do (a hash of the three), the name suffixed with the node's, the default namespace, the node,
 * the config hash annotation, a toleration of every NoExecute taint, and phase Pending.
 */
export function applyStaticPodDefaults(pod: MutablePod, file: string, nodeName: string): void {
  pod.metadata ??= {};
  const meta = pod.metadata;
  if (!meta.uid) {
    const hasher = createHash("md5");
    hasher.update(canonicalJson(pod));
    hasher.update(`host:${nodeName}`);
    hasher.update(`file:${file}`);
    meta.uid = hasher.digest("hex");
  }
  meta.name = generatePodName(meta.name ?? "", nodeName);
  meta.namespace ||= NamespaceDefault;
  pod.spec ??= { containers: [] };
  pod.spec.nodeName = nodeName;
  meta.annotations = { ...meta.annotations, [ConfigHashAnnotationKey]: meta.uid };
  // Node problems must not evict a static pod: nothing would bring it back.
  addOrUpdateToleration(pod, { operator: "Exists", effect: "NoExecute" });
  pod.status = { ...pod.status, phase: "Pending" };
}

type Toleration = NonNullable<NonNullable<Pod["spec"]>["tolerations"]>[number];

/** helper.AddOrUpdateTolerationInPod: a toleration matching in key, operator, value and effect is replaced. */
function addOrUpdateToleration(pod: MutablePod, toleration: Toleration): void {
  const spec = pod.spec as NonNullable<Pod["spec"]>;
  const same = (t: Toleration) =>
    (t.key ?? "") === (toleration.key ?? "") &&
    (t.operator ?? "") === (toleration.operator ?? "") &&
    (t.value ?? "") === (toleration.value ?? "") &&
    (t.effect ?? "") === (toleration.effect ?? "");
  const tolerations = [...(spec.tolerations ?? [])];
  const i = tolerations.findIndex(same);
  if (i >= 0) tolerations[i] = toleration;
  else tolerations.push(toleration);
  spec.tolerations = tolerations;
}

/**
 * From a decoded object to a pod PodConfig can take: field types checked, the API's defaults, then the
 * source's, then validation. Field errors leave the pod out.
 */
export function preparePod(
  raw: unknown,
  applySourceDefaults: (pod: MutablePod) => void,
): { pod: Pod; errors: [] } | { pod?: undefined; errors: FieldError[] } {
  const typeErrors = checkPodTypes(raw);
  if (typeErrors.length > 0) return { errors: typeErrors };
  const pod: MutablePod = defaultPod(raw as Pod);
  // Decoded objects carry their type as the API server's answers do, whatever the manifest wrote.
  pod.apiVersion = "v1";
  pod.kind = "Pod";
  applySourceDefaults(pod);
  const errors = validatePod(pod);
  return errors.length > 0 ? { errors } : { pod, errors: [] };
}

/** One document of a manifest, decoded; `error` says why it could not be. */
export interface ManifestDocument {
  /** 1-based. */
  index: number;
  value?: unknown;
  error?: string;
}

/**
 * A text that is one JSON object, parsed as JSON, as upstream's YAMLOrJSONDecoder sniffs JSON: several
 * times faster than the YAML parser, which takes it too and still reports, with line and column, what
 * is wrong with a text that fails here. A repeated key keeps its last value, as Go's encoding/json does.
 */
export function parseJsonObject(text: string): object | undefined {
  if (!/^\s*\{/.test(text)) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** The documents of a YAML or JSON manifest; empty documents are left out, bad ones carry their error. */
export function parseManifestDocuments(text: string): ManifestDocument[] {
  const json = parseJsonObject(text);
  if (json) return [{ index: 1, value: json }];
  const docs = parseAllDocuments(text, { version: "1.1", uniqueKeys: true });
  // A text with no document at all parses to an empty array-like list.
  const out: ManifestDocument[] = [];
  Array.from(docs).forEach((doc, i) => {
    const index = i + 1;
    const first = doc.errors[0];
    if (first) {
      const pos = first.linePos?.[0];
      const reason = first.message.split(" at line")[0] ?? first.message;
      out.push({ index, error: pos ? `line ${pos.line}, column ${pos.col}: ${reason}` : reason });
      return;
    }
    const value = doc.toJS({ mapAsMap: false }) as unknown;
    if (value !== null && value !== undefined) out.push({ index, value });
  });
  return out;
}

/** JSON with object keys sorted, so equal pods hash equally whatever order their fields came in. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}
