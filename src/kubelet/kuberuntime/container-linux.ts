// pkg/kubelet/kuberuntime/kuberuntime_container_linux.go (kubelet 1.28): the Linux part of a container's
// CRI config — cgroup resources (shares, quota, memory, OOM score, hugepages, swap, MemoryQoS) and the
// security context. Upstream reads the host (cgroup version, page size, swap controller, hugepage sizes)
// where berth takes them from the node's facts in KubeRuntimeSettings, so the same pod and facts always
// give the same config.
import { create } from "@bufbuild/protobuf";
import type { Container, Pod, ResourceRequirements } from "kubernetes-types/core/v1.js";
import {
  type HugepageLimit,
  HugepageLimitSchema,
  type LinuxContainerConfig,
  LinuxContainerConfigSchema,
  type LinuxContainerResources,
  LinuxContainerResourcesSchema,
  NamespaceMode,
} from "../../cri/gen/runtime/v1/api_pb.js";
import type { Quantity } from "../api/quantity.js";
import {
  containerLimits,
  containerRequests,
  hugePageSizeFromResourceName,
  hugePageUnitSizeFromByteSize,
  isHugePageResourceName,
  parseResourceList,
  ResourceCPU,
  ResourceMemory,
  resourceOf,
} from "../api/resources.js";
import {
  Cgroup2MaxSwapFilename,
  Cgroup2MemoryHigh,
  Cgroup2MemoryMin,
  hugePageSizes,
  milliCPUToShares,
  QuotaPeriod,
} from "../cm/helpers-linux.js";
import type { ContainerID } from "../container/runtime.js";
import { getContainerOOMScoreAdjust } from "../qos/policy.js";
import { getPodQOS, PodQOSBurstable } from "../qos/qos.js";
import { milliCPUToQuota } from "./helpers-linux.js";
import { determineEffectiveSecurityContext } from "./security-context.js";
import type { KubeRuntimeSettings } from "./settings.js";

/** applyPlatformSpecificContainerConfig's test: MemoryQoS is enforced only with the gate and cgroup v2. */
export function shouldEnforceMemoryQoS(s: KubeRuntimeSettings): boolean {
  return s.featureGates.MemoryQoS && s.node.cgroupVersion === "v2";
}

/**
 * generateLinuxContainerConfig: resources and security context. With `nsTarget` (a debug container
 * aimed at another container) a container that would get its own PID namespace joins the target's.
 */
export function generateLinuxContainerConfig(
  s: KubeRuntimeSettings,
  container: Container,
  pod: Pod,
  uid: bigint | undefined,
  username: string,
  nsTarget: ContainerID | undefined,
  enforceMemoryQoS: boolean,
): LinuxContainerConfig {
  const lc = create(LinuxContainerConfigSchema, {
    resources: generateLinuxContainerResources(s, pod, container, enforceMemoryQoS),
    securityContext: determineEffectiveSecurityContext(pod, container, uid, username, s),
  });
  const namespaces = lc.securityContext?.namespaceOptions;
  if (nsTarget && namespaces?.pid === NamespaceMode.CONTAINER) {
    namespaces.pid = NamespaceMode.TARGET;
    namespaces.targetId = nsTarget.id;
  }
  return lc;
}

/** generateLinuxContainerResources: calculateLinuxResources, then OOM score, hugepages, swap and MemoryQoS. */
export function generateLinuxContainerResources(
  s: KubeRuntimeSettings,
  pod: Pod,
  container: Container,
  enforceMemoryQoS: boolean,
): LinuxContainerResources {
  const requests = containerRequests(container);
  const limits = containerLimits(container);
  const lcr = calculateLinuxResources(
    requests[ResourceCPU],
    resourceOf(limits, ResourceCPU),
    resourceOf(limits, ResourceMemory),
    s,
  );
  lcr.oomScoreAdj = BigInt(
    getContainerOOMScoreAdjust(pod, container, s.node.memoryCapacityBytes, s.featureGates),
  );
  lcr.hugepageLimits = getHugepageLimitsFromResources(container.resources, s.node.hugePageSizes);
  configureContainerSwapResources(s, lcr, pod, container);

  if (enforceMemoryQoS) {
    const unified: Record<string, string> = {};
    const memoryRequest = resourceOf(requests, ResourceMemory).value();
    const memoryLimit = resourceOf(limits, ResourceMemory).value();
    if (memoryRequest !== 0n) unified[Cgroup2MemoryMin] = String(memoryRequest);
    // Requests equal to limits (the guaranteed case) get no memory.high: the limit alone applies.
    if (memoryRequest !== memoryLimit) {
      // Throttle once usage passes the request plus memoryThrottlingFactor of the room up to the
      // limit, rounded down to whole pages. Without a limit upstream measures the room up to the
      // node's allocatable memory; the node facts carry its capacity, which berth uses instead.
      const ceiling = memoryLimit !== 0n ? memoryLimit : s.node.memoryCapacityBytes;
      let memoryHigh = 0n;
      if (ceiling > 0n) {
        const request = Number(memoryRequest);
        const pages = Math.floor(
          (request + (Number(ceiling) - request) * s.memoryThrottlingFactor) / s.node.pageSizeBytes,
        );
        memoryHigh = BigInt(pages) * BigInt(s.node.pageSizeBytes);
      }
      if (memoryHigh !== 0n && memoryHigh > memoryRequest) unified[Cgroup2MemoryHigh] = String(memoryHigh);
    }
    Object.assign(lcr.unified, unified);
  }
  return lcr;
}

/**
 * calculateLinuxResources: cpu.shares from the CPU request (the limit when no request is given at all),
 * memory limit, and with cpuCFSQuota a CFS quota over the period (100ms unless CustomCPUCFSQuotaPeriod).
 * On cgroup v2 the whole container is OOM-killed together (memory.oom.group).
 */
export function calculateLinuxResources(
  cpuRequest: Quantity | undefined,
  cpuLimit: Quantity | undefined,
  memoryLimit: Quantity | undefined,
  s: KubeRuntimeSettings,
): LinuxContainerResources {
  const resources = create(LinuxContainerResourcesSchema);
  const cpuShareSource = cpuRequest === undefined && cpuLimit !== undefined ? cpuLimit : cpuRequest;
  resources.cpuShares = milliCPUToShares(cpuShareSource?.milliValue() ?? 0n);
  const memLimit = memoryLimit?.value() ?? 0n;
  if (memLimit !== 0n) resources.memoryLimitInBytes = memLimit;

  if (s.cpuCFSQuota) {
    const cpuPeriod = s.featureGates.CustomCPUCFSQuotaPeriod ? BigInt(s.cpuCFSQuotaPeriodUs) : QuotaPeriod;
    resources.cpuQuota = milliCPUToQuota(cpuLimit?.milliValue() ?? 0n, cpuPeriod);
    resources.cpuPeriod = cpuPeriod;
  }

  if (s.node.cgroupVersion === "v2") resources.unified = { "memory.oom.group": "1" };
  return resources;
}

/**
 * GetHugepageLimitsFromResources: one entry per page size the node has, limited to the container's
 * hugepages-<size> limit or else to 0 — a container gets no hugepages it did not ask for.
 */
export function getHugepageLimitsFromResources(
  resources: ResourceRequirements | undefined,
  nodePageSizes: readonly string[],
): HugepageLimit[] {
  const required = new Map<string, bigint>();
  for (const [name, amount] of Object.entries(parseResourceList(resources?.limits))) {
    if (!isHugePageResourceName(name)) continue;
    const pageSize = hugePageSizeFromResourceName(name);
    const sizeString = pageSize === undefined ? undefined : hugePageUnitSizeFromByteSize(pageSize);
    if (sizeString !== undefined) required.set(sizeString, amount.value());
  }
  return hugePageSizes(nodePageSizes).map((pageSize) =>
    create(HugepageLimitSchema, { pageSize, limit: required.get(pageSize) ?? 0n }),
  );
}

/**
 * configureContainerSwapResources (1.28): nothing without a swap controller; no swap without NodeSwap;
 * LimitedSwap gives burstable containers swap in proportion to their memory request; any other
 * behaviour ("" or UnlimitedSwap) leaves swap unlimited. cgroup v1 never gets swap: there it is
 * expressed as memory+swap equal to the memory limit.
 */
function configureContainerSwapResources(
  s: KubeRuntimeSettings,
  lcr: LinuxContainerResources,
  pod: Pod,
  container: Container,
): void {
  if (!s.node.swapControllerAvailable) return;
  const swapMax = swapMaxFor(s, pod, container);
  if (s.node.cgroupVersion === "v2") lcr.unified[Cgroup2MaxSwapFilename] = swapMax;
  // cgroup v1 only ever gets "no swap": memory+swap held at the memory limit.
  else lcr.memorySwapLimitInBytes = lcr.memoryLimitInBytes;
}

/** memory.swap.max for the container: "0", "max" or its share of the node's swap in bytes. */
function swapMaxFor(s: KubeRuntimeSettings, pod: Pod, container: Container): string {
  if (!s.featureGates.NodeSwap || s.node.cgroupVersion !== "v2") return "0";
  if (s.memorySwapBehavior !== "LimitedSwap") return "max";
  const memoryRequest = resourceOf(containerRequests(container), ResourceMemory);
  const memoryLimit = resourceOf(containerLimits(container), ResourceMemory);
  const doesNotRequestMemory = memoryRequest.isZero() && memoryLimit.isZero();
  if (getPodQOS(pod) !== PodQOSBurstable || doesNotRequestMemory || memoryRequest.cmp(memoryLimit) === 0)
    return "0";
  const swapLimit = calcSwapForBurstablePods(
    memoryRequest.value(),
    s.node.memoryCapacityBytes,
    s.node.swapCapacityBytes,
  );
  // Upstream logs why and disallows swap when the share cannot be computed.
  return swapLimit === undefined ? "0" : String(swapLimit);
}

/**
 * calcSwapForBurstablePods: the container's share of the node's swap, in proportion to its share of
 * the node's memory (KEP-2400); undefined when the node reports no memory or the request exceeds it.
 */
export function calcSwapForBurstablePods(
  containerMemoryRequest: bigint,
  nodeTotalMemory: bigint,
  totalPodsSwapAvailable: bigint,
): bigint | undefined {
  if (nodeTotalMemory <= 0n || containerMemoryRequest > nodeTotalMemory) return undefined;
  const proportion = Number(containerMemoryRequest) / Number(nodeTotalMemory);
  return BigInt(Math.trunc(proportion * Number(totalPodsSwapAvailable)));
}
