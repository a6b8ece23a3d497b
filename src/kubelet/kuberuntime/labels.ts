// Port of kubelet 1.28 pkg/kubelet/kuberuntime/labels.go: what the kubelet writes on sandboxes and
// containers so that it can rebuild its view of a pod from the runtime alone (after a restart, for
// status, for killing a container whose pod is gone).
import type { Container, ContainerPort, LifecycleHandler, Pod } from "kubernetes-types/core/v1.js";
import type { Logger } from "../../lib/log.js";
import { hashContainer } from "../container/hash.js";
import type { FeatureGates } from "../features/features.js";

// pkg/kubelet/types/labels.go
export const KubernetesPodNameLabel = "io.kubernetes.pod.name";
export const KubernetesPodNamespaceLabel = "io.kubernetes.pod.namespace";
export const KubernetesPodUIDLabel = "io.kubernetes.pod.uid";
export const KubernetesContainerNameLabel = "io.kubernetes.container.name";

export const podDeletionGracePeriodLabel = "io.kubernetes.pod.deletionGracePeriod";
export const podTerminationGracePeriodLabel = "io.kubernetes.pod.terminationGracePeriod";
export const containerHashLabel = "io.kubernetes.container.hash";
export const containerHashWithoutResourcesLabel = "io.kubernetes.container.hashWithoutResources";
export const containerRestartCountLabel = "io.kubernetes.container.restartCount";
export const containerTerminationMessagePathLabel = "io.kubernetes.container.terminationMessagePath";
export const containerTerminationMessagePolicyLabel = "io.kubernetes.container.terminationMessagePolicy";
export const containerPreStopHandlerLabel = "io.kubernetes.container.preStopHandler";
export const containerPortsLabel = "io.kubernetes.container.ports";

export interface LabeledPodSandboxInfo {
  /** The pod's own labels, without the three the kubelet adds. */
  labels: Record<string, string>;
  podName: string;
  podNamespace: string;
  podUID: string;
}

export interface AnnotatedPodSandboxInfo {
  annotations: Record<string, string>;
}

export interface LabeledContainerInfo {
  containerName: string;
  podName: string;
  podNamespace: string;
  podUID: string;
}

export interface AnnotatedContainerInfo {
  /** hashContainer's lowercase hex; "0" when missing or unreadable, as upstream reads a zero. */
  hash: string;
  hashWithoutResources: string;
  restartCount: number;
  podDeletionGracePeriod?: number;
  podTerminationGracePeriod?: number;
  terminationMessagePath: string;
  terminationMessagePolicy: string;
  preStopHandler?: LifecycleHandler;
  containerPorts?: ContainerPort[];
}

export function newPodLabels(pod: Pod): Record<string, string> {
  return {
    ...pod.metadata?.labels,
    [KubernetesPodNameLabel]: pod.metadata?.name ?? "",
    [KubernetesPodNamespaceLabel]: pod.metadata?.namespace ?? "",
    [KubernetesPodUIDLabel]: pod.metadata?.uid ?? "",
  };
}

export function newPodAnnotations(pod: Pod): Record<string, string> {
  return { ...pod.metadata?.annotations };
}

export function newContainerLabels(container: Container, pod: Pod): Record<string, string> {
  return {
    [KubernetesPodNameLabel]: pod.metadata?.name ?? "",
    [KubernetesPodNamespaceLabel]: pod.metadata?.namespace ?? "",
    [KubernetesPodUIDLabel]: pod.metadata?.uid ?? "",
    [KubernetesContainerNameLabel]: container.name,
  };
}

export function newContainerAnnotations(
  container: Container,
  pod: Pod,
  restartCount: number,
  gates: FeatureGates,
): Record<string, string> {
  const annotations: Record<string, string> = {};
  annotations[containerHashLabel] = hashContainer(container);
  if (gates.InPlacePodVerticalScaling) {
    annotations[containerHashWithoutResourcesLabel] = hashContainerWithoutResources(container);
  }
  annotations[containerRestartCountLabel] = String(restartCount);
  annotations[containerTerminationMessagePathLabel] = container.terminationMessagePath ?? "";
  annotations[containerTerminationMessagePolicyLabel] = container.terminationMessagePolicy ?? "";
  if (pod.metadata?.deletionGracePeriodSeconds !== undefined) {
    annotations[podDeletionGracePeriodLabel] = String(pod.metadata.deletionGracePeriodSeconds);
  }
  if (pod.spec?.terminationGracePeriodSeconds !== undefined) {
    annotations[podTerminationGracePeriodLabel] = String(pod.spec.terminationGracePeriodSeconds);
  }
  const preStop = container.lifecycle?.preStop;
  if (preStop) annotations[containerPreStopHandlerLabel] = goJson(lifecycleHandlerFields(preStop));
  if (container.ports?.length)
    annotations[containerPortsLabel] = goJson(container.ports.map(containerPortFields));
  return annotations;
}

export function getPodSandboxInfoFromLabels(labels: Record<string, string>): LabeledPodSandboxInfo {
  const own = { ...labels };
  delete own[KubernetesPodNameLabel];
  delete own[KubernetesPodNamespaceLabel];
  delete own[KubernetesPodUIDLabel];
  return {
    labels: own,
    podName: labels[KubernetesPodNameLabel] ?? "",
    podNamespace: labels[KubernetesPodNamespaceLabel] ?? "",
    podUID: labels[KubernetesPodUIDLabel] ?? "",
  };
}

export function getPodSandboxInfoFromAnnotations(
  annotations: Record<string, string>,
): AnnotatedPodSandboxInfo {
  return { annotations };
}

export function getContainerInfoFromLabels(labels: Record<string, string>): LabeledContainerInfo {
  return {
    podName: labels[KubernetesPodNameLabel] ?? "",
    podNamespace: labels[KubernetesPodNamespaceLabel] ?? "",
    podUID: labels[KubernetesPodUIDLabel] ?? "",
    containerName: labels[KubernetesContainerNameLabel] ?? "",
  };
}

/**
 * Reads back what newContainerAnnotations wrote. A malformed value is logged and read as its zero
 * value, as the kubelet does: a container with a damaged annotation must still be listed and killed.
 */
export function getContainerInfoFromAnnotations(
  annotations: Record<string, string>,
  gates: FeatureGates,
  log?: Logger,
): AnnotatedContainerInfo {
  const read = <T>(label: string, parse: (value: string) => T, zero: T): T => {
    const value = annotations[label];
    if (value === undefined) return zero;
    try {
      return parse(value);
    } catch (err) {
      log?.error({ err, label, annotations }, "Unable to get label value from annotations");
      return zero;
    }
  };
  const info: AnnotatedContainerInfo = {
    hash: read(containerHashLabel, parseHex64, "0"),
    hashWithoutResources: gates.InPlacePodVerticalScaling
      ? read(containerHashWithoutResourcesLabel, parseHex64, "0")
      : "0",
    restartCount: read(containerRestartCountLabel, parseDecimalInt, 0),
    terminationMessagePath: annotations[containerTerminationMessagePathLabel] ?? "",
    terminationMessagePolicy: annotations[containerTerminationMessagePolicyLabel] ?? "",
  };
  const deletionGrace = read<number | undefined>(podDeletionGracePeriodLabel, parseInt64, undefined);
  if (deletionGrace !== undefined) info.podDeletionGracePeriod = deletionGrace;
  const terminationGrace = read<number | undefined>(podTerminationGracePeriodLabel, parseInt64, undefined);
  if (terminationGrace !== undefined) info.podTerminationGracePeriod = terminationGrace;
  const preStop = read<LifecycleHandler | undefined>(
    containerPreStopHandlerLabel,
    parseJsonObject,
    undefined,
  );
  if (preStop !== undefined) info.preStopHandler = preStop;
  const ports = read<ContainerPort[] | undefined>(containerPortsLabel, parseJsonArray, undefined);
  if (ports !== undefined) info.containerPorts = ports;
  return info;
}

/**
 * kubecontainer.HashContainerWithoutResources: the hash with resources left out, so that with
 * in-place resize a changed resource does not read as a changed container.
 */
export function hashContainerWithoutResources(container: Container): string {
  return hashContainer({ ...container, resources: undefined });
}

// strconv.ParseUint(s, 16, 64) (hex digits only, no prefix or sign), written back in hashContainer's form.
function parseHex64(value: string): string {
  if (!/^[0-9a-fA-F]+$/.test(value)) throw new Error(`strconv.ParseUint: parsing "${value}": invalid syntax`);
  const n = BigInt(`0x${value}`);
  if (n > 0xffffffffffffffffn) throw new Error(`strconv.ParseUint: parsing "${value}": value out of range`);
  return n.toString(16);
}

// strconv.Atoi: an optional sign and decimal digits.
function parseDecimalInt(value: string): number {
  if (!/^[+-]?[0-9]+$/.test(value)) throw new Error(`strconv.Atoi: parsing "${value}": invalid syntax`);
  return Number(value);
}

// strconv.ParseInt(s, 10, 64); grace periods are seconds, so a number holds them exactly.
function parseInt64(value: string): number {
  if (!/^[+-]?[0-9]+$/.test(value)) throw new Error(`strconv.ParseInt: parsing "${value}": invalid syntax`);
  const n = BigInt(value);
  if (n > 0x7fffffffffffffffn || n < -0x8000000000000000n) {
    throw new Error(`strconv.ParseInt: parsing "${value}": value out of range`);
  }
  return Number(n);
}

function parseJsonObject<T>(value: string): T {
  const parsed: unknown = JSON.parse(value);
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new Error("json: cannot unmarshal into an object");
  }
  return parsed as T;
}

function parseJsonArray<T>(value: string): T[] {
  const parsed: unknown = JSON.parse(value);
  if (parsed !== null && !Array.isArray(parsed)) throw new Error("json: cannot unmarshal into an array");
  return (parsed ?? []) as T[];
}

// The kubelet stores these objects with Go's encoding/json, which writes struct fields in declaration
// order and drops empty `omitempty` fields; building them in that order keeps the annotations
// byte-identical to a real kubelet's, so either can read the other's containers.
function lifecycleHandlerFields(h: LifecycleHandler): object {
  const out: Record<string, unknown> = {};
  if (h.exec) out.exec = omitEmpty({ command: h.exec.command });
  if (h.httpGet) {
    out.httpGet = omitEmpty({
      path: h.httpGet.path,
      port: h.httpGet.port ?? 0,
      host: h.httpGet.host,
      scheme: h.httpGet.scheme,
      httpHeaders: h.httpGet.httpHeaders?.map((header) => ({ name: header.name, value: header.value })),
    });
  }
  if (h.tcpSocket) out.tcpSocket = omitEmpty({ port: h.tcpSocket.port ?? 0, host: h.tcpSocket.host });
  return out;
}

function containerPortFields(p: ContainerPort): object {
  return omitEmpty({
    name: p.name,
    hostPort: p.hostPort || undefined,
    containerPort: p.containerPort ?? 0,
    protocol: p.protocol,
    hostIP: p.hostIP,
  });
}

function omitEmpty(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(fields).filter(
      ([, v]) => v !== undefined && v !== "" && !(Array.isArray(v) && v.length === 0),
    ),
  );
}

/** JSON as Go's encoding/json writes it: HTML-sensitive characters escaped. */
export function goJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
