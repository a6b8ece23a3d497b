// pkg/api/v1/resource/helpers.go (kubelet 1.28): what a pod asks for as a whole, plus the one piece of
// pod defaulting (pkg/apis/core/v1/defaults.go SetDefaults_Pod) that decides resources. The kubelet
// only ever sees defaulted pods: the API server defaults the ones it stores, and the kubelet decodes
// static pods through the same defaulting (pkg/kubelet/config/common.go), so berth's static pod path
// must call defaultPodResources before anything below looks at the pod.
import type { Container, Pod } from "kubernetes-types/core/v1.js";
import { parseQuantity, Quantity } from "./quantity.js";

export const ResourceCPU = "cpu";
export const ResourceMemory = "memory";
export const ResourceHugePagesPrefix = "hugepages-";

/** v1.ResourceList with its quantities parsed. */
export type ResourceList = Record<string, Quantity>;

/** Parses a manifest's resource list; an invalid quantity is an InvalidArgument naming it. */
export function parseResourceList(list: Record<string, string | number> | undefined): ResourceList {
  const parsed: ResourceList = {};
  for (const [name, amount] of Object.entries(list ?? {})) parsed[name] = parseQuantity(amount);
  return parsed;
}

/** ResourceList.Cpu() / .Memory() / .Name(): the amount, zero when absent. */
export function resourceOf(list: ResourceList, name: string): Quantity {
  return list[name] ?? Quantity.zero;
}

export function containerRequests(container: Container): ResourceList {
  return parseResourceList(container.resources?.requests);
}

export function containerLimits(container: Container): ResourceList {
  return parseResourceList(container.resources?.limits);
}

/**
 * SetDefaults_Pod's resource part: a container or init container that sets a limit but no request
 * for a resource requests its limit. Returns a defaulted copy; the pod itself is left as it is.
 */
export function defaultPodResources(pod: Pod): Pod {
  const copy = structuredClone(pod);
  for (const container of [...(copy.spec?.containers ?? []), ...(copy.spec?.initContainers ?? [])]) {
    const limits = container.resources?.limits;
    if (!limits) continue;
    const requests = { ...container.resources?.requests };
    for (const [name, amount] of Object.entries(limits)) {
      if (!(name in requests)) requests[name] = amount;
    }
    container.resources = { ...container.resources, requests };
  }
  return copy;
}

export type ContainerType = "Containers" | "InitContainers";

/** PodResourcesOptions, as far as the kubelet uses it. */
export interface PodResourcesOptions {
  /** InPlacePodVerticalScaling: a container's requests are at least what was allocated to it. */
  inPlacePodVerticalScalingEnabled?: boolean;
  /**
   * Whether init containers with restartPolicy Always count as sidecars (SidecarContainers). Upstream's
   * helper always honours the field and the gate works by the API server dropping it; static pods never
   * pass the API server, so berth applies the gate here. Defaults to true, as upstream's helper.
   */
  sidecarContainers?: boolean;
  /** Called with each container's effective requests (or limits). */
  containerFn?: (resources: ResourceList, containerType: ContainerType) => void;
}

/**
 * resource.PodRequests: the sum over containers (and sidecars), or the largest init container step if
 * larger, plus the pod overhead. An init container step is that init container plus every sidecar
 * started before it.
 */
export function podRequests(pod: Pod, opts: PodResourcesOptions = {}): ResourceList {
  const statuses = new Map((pod.status?.containerStatuses ?? []).map((s) => [s.name, s]));
  return sumOverPod(
    pod,
    opts,
    (container, type) => {
      const requests = containerRequests(container);
      const status = statuses.get(container.name);
      if (type !== "Containers" || !opts.inPlacePodVerticalScalingEnabled || !status) return requests;
      const allocated = parseResourceList(status.allocatedResources);
      // A resize the node cannot fit keeps the allocation; otherwise the larger of the two applies.
      return pod.status?.resize === "Infeasible" ? allocated : maxOf(requests, allocated);
    },
    (total, overhead) => addResourceList(total, overhead),
  );
}

/** resource.PodLimits: as podRequests over limits; overhead is added only to limits that are set. */
export function podLimits(pod: Pod, opts: PodResourcesOptions = {}): ResourceList {
  return sumOverPod(pod, opts, containerLimits, (total, overhead) => {
    for (const [name, amount] of Object.entries(overhead)) {
      const current = total[name];
      if (current) total[name] = current.add(amount);
    }
  });
}

function sumOverPod(
  pod: Pod,
  opts: PodResourcesOptions,
  resourcesOf: (container: Container, type: ContainerType) => ResourceList,
  addOverhead: (total: ResourceList, overhead: ResourceList) => void,
): ResourceList {
  const total: ResourceList = {};
  for (const container of pod.spec?.containers ?? []) {
    const resources = resourcesOf(container, "Containers");
    opts.containerFn?.(resources, "Containers");
    addResourceList(total, resources);
  }

  const sidecars: ResourceList = {};
  const initSteps: ResourceList = {};
  for (const container of pod.spec?.initContainers ?? []) {
    let step = resourcesOf(container, "InitContainers");
    if ((opts.sidecarContainers ?? true) && container.restartPolicy === "Always") {
      // A sidecar keeps running beside the app containers, and beside every later init container.
      addResourceList(total, step);
      addResourceList(sidecars, step);
      step = sidecars;
    } else {
      const withSidecars: ResourceList = {};
      addResourceList(withSidecars, step);
      addResourceList(withSidecars, sidecars);
      step = withSidecars;
    }
    opts.containerFn?.(step, "InitContainers");
    maxResourceList(initSteps, step);
  }
  maxResourceList(total, initSteps);

  if (pod.spec?.overhead) addOverhead(total, parseResourceList(pod.spec.overhead));
  return total;
}

function addResourceList(list: ResourceList, add: ResourceList): void {
  for (const [name, amount] of Object.entries(add)) list[name] = (list[name] ?? Quantity.zero).add(amount);
}

/** Raises each resource of `list` to the amount in `other` where that is larger. */
function maxResourceList(list: ResourceList, other: ResourceList): void {
  for (const [name, amount] of Object.entries(other)) {
    const current = list[name];
    if (!current || amount.cmp(current) > 0) list[name] = amount;
  }
}

function maxOf(a: ResourceList, b: ResourceList): ResourceList {
  const result: ResourceList = { ...b };
  maxResourceList(result, a);
  return result;
}

// pkg/apis/core/v1/helper/helpers.go: hugepage resource names ("hugepages-2Mi") and the page size
// strings cgroups use ("2MB").

export function isHugePageResourceName(name: string): boolean {
  return name.startsWith(ResourceHugePagesPrefix);
}

/** HugePageSizeFromResourceName: the page size in bytes; undefined when the name holds no quantity ("hugepages-2MB"). */
export function hugePageSizeFromResourceName(name: string): bigint | undefined {
  try {
    return parseQuantity(name.slice(ResourceHugePagesPrefix.length)).value();
  } catch {
    return undefined;
  }
}

const hugePageSizeUnits = ["B", "KB", "MB", "GB", "TB", "PB"];

/** HugePageUnitSizeFromByteSize: 2097152 → "2MB"; undefined when no unit divides the size evenly. */
export function hugePageUnitSizeFromByteSize(size: bigint): string | undefined {
  let unit = 0;
  while (size % 1024n === 0n && unit < hugePageSizeUnits.length - 1) {
    size /= 1024n;
    unit++;
  }
  if (size > 1024n && unit < hugePageSizeUnits.length - 1) return undefined;
  return `${size}${hugePageSizeUnits[unit]}`;
}
