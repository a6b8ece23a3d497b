// pkg/apis/core/v1/helper/qos/qos.go (kubelet 1.28): a pod's QoS class, from which the kubelet picks its
// cgroup parent (Guaranteed / burstable / besteffort) and its containers' OOM score adjustment.
import type { Pod } from "kubernetes-types/core/v1.js";
import {
  containerLimits,
  containerRequests,
  ResourceCPU,
  type ResourceList,
  ResourceMemory,
} from "../api/resources.js";

export const PodQOSGuaranteed = "Guaranteed";
export const PodQOSBurstable = "Burstable";
export const PodQOSBestEffort = "BestEffort";
export type PodQOSClass = typeof PodQOSGuaranteed | typeof PodQOSBurstable | typeof PodQOSBestEffort;

/** Only CPU and memory decide the class; hugepages and extended resources do not. */
const qosResources = new Set([ResourceCPU, ResourceMemory]);

/** GetPodQOS: the class recorded in the pod's status, computed when there is none. */
export function getPodQOS(pod: Pod): PodQOSClass {
  const recorded = pod.status?.qosClass;
  if (recorded) return recorded as PodQOSClass;
  return computePodQOS(pod);
}

/**
 * ComputePodQOS: BestEffort when no container (init containers included) requests or limits CPU or
 * memory; Guaranteed when every container limits both and the pod's summed requests equal its summed
 * limits; Burstable otherwise. Zero amounts count as unset.
 */
export function computePodQOS(pod: Pod): PodQOSClass {
  const requests: ResourceList = {};
  const limits: ResourceList = {};
  let isGuaranteed = true;
  for (const container of [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])]) {
    addPositive(requests, containerRequests(container));
    const found = addPositive(limits, containerLimits(container));
    if (!found.has(ResourceCPU) || !found.has(ResourceMemory)) isGuaranteed = false;
  }
  const requested = Object.entries(requests);
  const limited = Object.keys(limits);
  if (requested.length === 0 && limited.length === 0) return PodQOSBestEffort;
  if (isGuaranteed) isGuaranteed = requested.every(([name, request]) => limits[name]?.cmp(request) === 0);
  return isGuaranteed && requested.length === limited.length ? PodQOSGuaranteed : PodQOSBurstable;
}

/** Adds the positive CPU and memory amounts of `from` into `into`; returns the names it added. */
function addPositive(into: ResourceList, from: ResourceList): Set<string> {
  const found = new Set<string>();
  for (const [name, amount] of Object.entries(from)) {
    if (!qosResources.has(name) || amount.nanos <= 0n) continue;
    found.add(name);
    const current = into[name];
    into[name] = current ? current.add(amount) : amount;
  }
  return found;
}
