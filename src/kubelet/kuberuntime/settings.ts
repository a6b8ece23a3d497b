// What the kuberuntime manager knows besides the pod (the fields of upstream's
// kubeGenericRuntimeManager that the config generators read): the kubelet configuration
// it runs with and the facts of the node. `berth explain --node` overrides the facts.
import type { FeatureGates } from "../features/features.js";

/** The node's facts, detected (cm/node-facts) or given to `berth explain`. */
export interface NodeFacts {
  nodeName: string;
  cgroupVersion: "v1" | "v2";
  memoryCapacityBytes: bigint;
  swapCapacityBytes: bigint;
  /** Page sizes the node supports for hugepages, as quantities: ["2Mi", "1Gi"]. */
  hugePageSizes: string[];
  pageSizeBytes: number;
  /** Whether memory.swap.max (v2) or memory.memsw.limit_in_bytes (v1) exists. */
  swapControllerAvailable: boolean;
}

export interface KubeRuntimeSettings {
  /** cpuCFSQuota: enforce CPU limits with CFS quota. */
  cpuCFSQuota: boolean;
  /** cpuCFSQuotaPeriod in microseconds (100000 = 100ms). */
  cpuCFSQuotaPeriodUs: number;
  /** memorySwap.swapBehavior: "" | "LimitedSwap" | "UnlimitedSwap". */
  memorySwapBehavior: string;
  /** memoryThrottlingFactor for MemoryQoS (0.9 by default). */
  memoryThrottlingFactor: number;
  /** seccompDefault: RuntimeDefault for containers that name no profile. */
  seccompDefault: boolean;
  /** Where container logs go: /var/log/pods/<ns>_<name>_<uid>/<container>/<n>.log. */
  podLogsRootDirectory: string;
  featureGates: FeatureGates;
  node: NodeFacts;
}
