// pkg/kubelet/qos/policy.go (kubelet 1.28): the oom_score_adj a container runs with, so that under
// memory pressure the kernel kills best-effort work first and guaranteed work last. Also the
// critical-pod tests from pkg/kubelet/types/pod_update.go that the policy relies on.
import type { Container, Pod } from "kubernetes-types/core/v1.js";
import { containerRequests, parseResourceList, ResourceMemory, resourceOf } from "../api/resources.js";
import type { FeatureGates } from "../features/features.js";
import { getPodQOS, PodQOSBestEffort, PodQOSGuaranteed } from "./qos.js";

export const guaranteedOOMScoreAdj = -997;
export const besteffortOOMScoreAdj = 1000;

// pkg/apis/scheduling: priorities at or above this mark a critical pod.
const SystemCriticalPriority = 2_000_000_000;
const SystemNodeCritical = "system-node-critical";
const ConfigSourceAnnotationKey = "kubernetes.io/config.source";
const ConfigMirrorAnnotationKey = "kubernetes.io/config.mirror";
const ApiserverSource = "api";

/** IsCriticalPod: static and mirror pods, and pods at system-critical priority or above. */
export function isCriticalPod(pod: Pod): boolean {
  const annotations = pod.metadata?.annotations ?? {};
  const source = annotations[ConfigSourceAnnotationKey];
  if (source !== undefined && source !== ApiserverSource) return true; // static pod
  if (ConfigMirrorAnnotationKey in annotations) return true;
  return pod.spec?.priority !== undefined && pod.spec.priority >= SystemCriticalPriority;
}

/** IsNodeCriticalPod: a critical pod in the system-node-critical priority class. */
export function isNodeCriticalPod(pod: Pod): boolean {
  return isCriticalPod(pod) && pod.spec?.priorityClassName === SystemNodeCritical;
}

/**
 * GetContainerOOMScoreAdjust. Burstable containers get 1000 minus their memory request in thousandths
 * of the node's memory, kept between guaranteed (+3) and best-effort (-1): a container that requests
 * 10% of the node gets 900, and one that uses more than it asked for is among the first killed.
 */
export function getContainerOOMScoreAdjust(
  pod: Pod,
  container: Container,
  memoryCapacity: bigint,
  gates: Pick<FeatureGates, "InPlacePodVerticalScaling">,
): number {
  if (isNodeCriticalPod(pod)) return guaranteedOOMScoreAdj;
  switch (getPodQOS(pod)) {
    case PodQOSGuaranteed:
      return guaranteedOOMScoreAdj;
    case PodQOSBestEffort:
      return besteffortOOMScoreAdj;
  }

  let memoryRequest = resourceOf(containerRequests(container), ResourceMemory).value();
  if (gates.InPlacePodVerticalScaling) {
    const status = pod.status?.containerStatuses?.find((s) => s.name === container.name);
    if (status)
      memoryRequest = resourceOf(parseResourceList(status.allocatedResources), ResourceMemory).value();
  }
  const adjust = Number(1000n - (1000n * memoryRequest) / memoryCapacity);
  if (adjust < 1000 + guaranteedOOMScoreAdj) return 1000 + guaranteedOOMScoreAdj;
  if (adjust === besteffortOOMScoreAdj) return adjust - 1;
  return adjust;
}
