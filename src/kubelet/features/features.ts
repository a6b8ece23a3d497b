// The feature gates berth's kubelet knows, with kubelet 1.28's defaults
// (pkg/features/kube_features.go). A KubeletConfiguration's featureGates override them.
export const DefaultFeatureGates = {
  /** Alpha in 1.28: restartable ("sidecar") init containers. */
  SidecarContainers: false,
  /** Alpha: memory.min / memory.high on cgroup v2. */
  MemoryQoS: false,
  /** Beta, off by default in 1.28: swap for burstable pods (memorySwap.swapBehavior). */
  NodeSwap: false,
  /** Alpha: cpuCFSQuotaPeriod may differ from 100ms. */
  CustomCPUCFSQuotaPeriod: false,
  /** GA in 1.27: the RuntimeDefault seccomp profile when seccompDefault is set. */
  SeccompDefault: true,
  /** Alpha: in-place pod resize. */
  InPlacePodVerticalScaling: false,
  /** GA in 1.27: the downward API can expose hugepages. */
  DownwardAPIHugePages: true,
  /** Alpha: the kubelet's evented PLEG over GetContainerEvents. */
  EventedPLEG: false,
} satisfies Record<string, boolean>;

export type FeatureGate = keyof typeof DefaultFeatureGates;
export type FeatureGates = Record<FeatureGate, boolean>;

/** The defaults with `overrides` applied; unknown names are an error, as in the kubelet. */
export function featureGates(overrides: Record<string, boolean> = {}): FeatureGates {
  const gates: FeatureGates = { ...DefaultFeatureGates };
  for (const [name, value] of Object.entries(overrides)) {
    if (!(name in gates)) throw new Error(`unrecognized feature gate: ${name}`);
    gates[name as FeatureGate] = value;
  }
  return gates;
}
