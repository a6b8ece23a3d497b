// pkg/kubelet/cm/qos_container_manager_linux.go (kubelet 1.28): the QoS tier cgroups under the node
// allocatable cgroup (kubepods itself holds Guaranteed pods, kubepods/burstable and kubepods/besteffort
// the others), made on start and kept in line with the active pods every minute and whenever a new pod
// cgroup is about to be made. The QOSReserved feature (alpha, off by default: memory limits on the
// burstable and best-effort tiers reserving room for higher tiers) is not implemented.
import type { Pod } from "kubernetes-types/core/v1.js";
import { messageOf, wrap } from "../../lib/errdefs.js";
import type { Logger } from "../../lib/log.js";
import { parseQuantity } from "../api/quantity.js";
import { podRequests, ResourceCPU, ResourceMemory } from "../api/resources.js";
import type { FeatureGates } from "../features/features.js";
import {
  getPodQOS,
  PodQOSBestEffort,
  PodQOSBurstable,
  type PodQOSClass,
  PodQOSGuaranteed,
} from "../qos/qos.js";
import { type CgroupConfig, type CgroupManager, type CgroupName, newCgroupName } from "./cgroup-manager.js";
import { Cgroup2MemoryMin, MinShares, milliCPUToShares } from "./helpers-linux.js";

/** How often the QoS tiers are brought in line with the active pods. */
export const periodicQOSCgroupUpdateInterval = 60_000;

/** QOSContainersInfo: the cgroup of each QoS class; Guaranteed pods sit directly in the node allocatable cgroup. */
export interface QOSContainersInfo {
  guaranteed: CgroupName;
  burstable: CgroupName;
  bestEffort: CgroupName;
}

/** ActivePodsFunc: the pods the kubelet currently runs or is about to run. */
export type ActivePodsFunc = () => Pod[];

export interface QOSContainerManager {
  /** Start: makes (or re-applies) the burstable and best-effort cgroups and starts the periodic update. */
  start(activePods: ActivePodsFunc): Promise<void>;
  getQOSContainersInfo(): QOSContainersInfo;
  /** UpdateCgroups: CPU shares and hugepage limits of the tiers from the active pods. */
  updateCgroups(): Promise<void>;
  /** Stops the periodic update (berth's; the kubelet's runs until the process ends). */
  stop(): void;
}

export interface QOSContainerManagerOptions {
  cgroupManager: CgroupManager;
  /** The node allocatable cgroup, ["kubepods"] under --cgroup-root. */
  cgroupRoot: CgroupName;
  cgroupsPerQOS: boolean;
  /** The node's hugepage sizes ("2Mi"): the tiers never limit hugepages. */
  hugePageSizes: readonly string[];
  /** Whether the host runs cgroup v2 only (MemoryQoS needs it). */
  unified: boolean;
  featureGates: Pick<FeatureGates, "MemoryQoS" | "SidecarContainers">;
  log: Logger;
}

/** NewQOSContainerManager: a no-op manager when QoS cgroups are off (--cgroups-per-qos=false). */
export function newQOSContainerManager(opts: QOSContainerManagerOptions): QOSContainerManager {
  return opts.cgroupsPerQOS ? new QOSContainerManagerImpl(opts) : noopQOSContainerManager;
}

const noopQOSContainerManager: QOSContainerManager = {
  start: async () => {},
  getQOSContainersInfo: () => ({ guaranteed: [], burstable: [], bestEffort: [] }),
  updateCgroups: async () => {},
  stop: () => {},
};

/** The QoS tier cgroup names under the node allocatable cgroup. */
export function qosContainersInfo(cgroupRoot: CgroupName): QOSContainersInfo {
  return {
    guaranteed: cgroupRoot,
    burstable: newCgroupName(cgroupRoot, PodQOSBurstable.toLowerCase()),
    bestEffort: newCgroupName(cgroupRoot, PodQOSBestEffort.toLowerCase()),
  };
}

/** The value the kubelet uses for "no hugetlb limit" on the tiers (2^62 bytes per page size). */
export const HugePagesUnbounded = 1n << 62n;

/** setHugePagesUnbounded: every page size of the node unlimited in `config`. */
export function setHugePagesUnbounded(config: CgroupConfig, hugePageSizes: readonly string[]): void {
  config.resourceParameters.hugePageLimit = new Map(
    hugePageSizes.map((size) => [parseQuantity(size).value(), HugePagesUnbounded]),
  );
}

/**
 * setCPUCgroupConfig: best effort always gets the minimum shares; burstable gets the shares of the sum
 * of the burstable pods' CPU requests, so that the tier competes for CPU as its pods together ask.
 */
export function setCPUCgroupConfig(
  configs: Record<PodQOSClass, CgroupConfig>,
  pods: readonly Pod[],
  gates: Pick<FeatureGates, "SidecarContainers">,
): void {
  let burstablePodCPURequest = 0n;
  for (const pod of pods) {
    if (getPodQOS(pod) !== PodQOSBurstable) continue;
    const request = podRequests(pod, { sidecarContainers: gates.SidecarContainers })[ResourceCPU];
    if (request) burstablePodCPURequest += request.milliValue();
  }
  configs[PodQOSBestEffort].resourceParameters.cpuShares = MinShares;
  configs[PodQOSBurstable].resourceParameters.cpuShares = milliCPUToShares(burstablePodCPURequest);
}

/** getQoSMemoryRequests: the summed memory requests of the Guaranteed and the Burstable pods. */
export function getQoSMemoryRequests(
  pods: readonly Pod[],
  gates: Pick<FeatureGates, "SidecarContainers">,
): { [PodQOSGuaranteed]: bigint; [PodQOSBurstable]: bigint } {
  const sums = { [PodQOSGuaranteed]: 0n, [PodQOSBurstable]: 0n };
  for (const pod of pods) {
    const qos = getPodQOS(pod);
    if (qos === PodQOSBestEffort) continue;
    const request = podRequests(pod, { sidecarContainers: gates.SidecarContainers })[ResourceMemory];
    sums[qos] += request?.value() ?? 0n;
  }
  return sums;
}

/**
 * setMemoryQoS (MemoryQoS on cgroup v2): memory.min of the burstable tier is its pods' memory requests,
 * and of the node allocatable cgroup the requests of the Guaranteed and Burstable pods together.
 */
export function setMemoryQoS(
  configs: Record<PodQOSClass, CgroupConfig>,
  pods: readonly Pod[],
  gates: Pick<FeatureGates, "SidecarContainers">,
): void {
  const requests = getQoSMemoryRequests(pods, gates);
  const burstableMin = requests[PodQOSBurstable];
  const guaranteedMin = requests[PodQOSGuaranteed] + burstableMin;
  for (const [qos, min] of [
    [PodQOSBurstable, burstableMin],
    [PodQOSGuaranteed, guaranteedMin],
  ] as const) {
    if (min <= 0n) continue;
    const params = configs[qos].resourceParameters;
    params.unified = { ...params.unified, [Cgroup2MemoryMin]: `${min}` };
  }
}

class QOSContainerManagerImpl implements QOSContainerManager {
  private info: QOSContainersInfo = { guaranteed: [], burstable: [], bestEffort: [] };
  private activePods: ActivePodsFunc = () => [];
  private timer?: NodeJS.Timeout;
  /** UpdateCgroups runs one at a time (the kubelet's mutex). */
  private updating: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: QOSContainerManagerOptions) {}

  getQOSContainersInfo(): QOSContainersInfo {
    return this.info;
  }

  async start(activePods: ActivePodsFunc): Promise<void> {
    const { cgroupManager: cm, cgroupRoot } = this.opts;
    await cm.validate(cgroupRoot).catch((err: unknown) => {
      throw wrap(err, `error validating root container ${JSON.stringify(cm.name(cgroupRoot))}`);
    });
    const info = qosContainersInfo(cgroupRoot);
    for (const [qos, name] of [
      [PodQOSBurstable, info.burstable],
      [PodQOSBestEffort, info.bestEffort],
    ] as const) {
      const config: CgroupConfig = {
        name,
        resourceParameters: qos === PodQOSBestEffort ? { cpuShares: MinShares } : {},
      };
      setHugePagesUnbounded(config, this.opts.hugePageSizes);
      // An existing tier (a kubelet restart) is updated so that it holds what it should.
      const exists = await cm.exists(name);
      await (exists ? cm.update(config) : cm.create(config)).catch((err: unknown) => {
        throw wrap(err, `failed to ${exists ? "update" : "create"} top level ${qos} QOS cgroup`);
      });
    }
    this.info = info;
    this.activePods = activePods;
    const periodic = () =>
      this.updateCgroups().catch((err: unknown) =>
        this.opts.log.info({ err: messageOf(err) }, "failed to reserve QoS requests"),
      );
    void periodic();
    this.timer = setInterval(periodic, periodicQOSCgroupUpdateInterval).unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  updateCgroups(): Promise<void> {
    const run = this.updating.then(() => this.updateCgroupsLocked());
    this.updating = run.catch(() => undefined);
    return run;
  }

  private async updateCgroupsLocked(): Promise<void> {
    const { cgroupManager, featureGates, hugePageSizes, unified, log } = this.opts;
    const configs: Record<PodQOSClass, CgroupConfig> = {
      [PodQOSGuaranteed]: { name: this.info.guaranteed, resourceParameters: {} },
      [PodQOSBurstable]: { name: this.info.burstable, resourceParameters: {} },
      [PodQOSBestEffort]: { name: this.info.bestEffort, resourceParameters: {} },
    };
    const pods = this.activePods();
    setCPUCgroupConfig(configs, pods, featureGates);
    for (const config of Object.values(configs)) setHugePagesUnbounded(config, hugePageSizes);
    if (featureGates.MemoryQoS && unified) setMemoryQoS(configs, pods, featureGates);
    for (const config of Object.values(configs)) await cgroupManager.update(config);
    log.debug("updated QoS cgroup configuration");
  }
}
