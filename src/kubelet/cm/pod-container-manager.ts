// pkg/kubelet/cm/pod_container_manager_linux.go (kubelet 1.28): one cgroup per pod under its QoS tier
// ("/kubepods/burstable/pod<uid>", or "/kubepods/pod<uid>" for Guaranteed pods), made with the pod's
// resource values before its sandbox starts; its cgroupfs path is the cgroup parent the kubelet passes
// to RunPodSandbox. Orphaned pod cgroups are found by scanning the tiers, and destroyed after killing
// whatever still runs in them.
import { type Dirent, readdirSync } from "node:fs";
import { join } from "node:path";
import type { Pod } from "kubernetes-types/core/v1.js";
import { invalidArgument, messageOf, wrap } from "../../lib/errdefs.js";
import type { Logger } from "../../lib/log.js";
import type { FeatureGates } from "../features/features.js";
import { getPodQOS, PodQOSBestEffort, PodQOSBurstable } from "../qos/qos.js";
import {
  type CgroupManager,
  type CgroupName,
  type CgroupSubsystems,
  cgroupNameToCgroupfs,
  newCgroupName,
} from "./cgroup-manager.js";
import { resourceConfigForPod } from "./helpers-linux.js";
import type { QOSContainersInfo } from "./qos-container-manager.js";

export const podCgroupNamePrefix = "pod";

/** GetPodCgroupNameSuffix: "pod" + the pod's UID. */
export function getPodCgroupNameSuffix(podUID: string): string {
  return podCgroupNamePrefix + podUID;
}

export interface PodContainerManager {
  exists(pod: Pod): Promise<boolean>;
  /** EnsureExists: makes the pod's cgroup with the pod's resource values unless it is there already. */
  ensureExists(pod: Pod): Promise<void>;
  /** GetPodContainerName: the pod cgroup's name and its cgroupfs path (the sandbox's cgroup parent). */
  getPodContainerName(pod: Pod): { name: CgroupName; cgroupfs: string };
  /** Destroy: kills every process left in the pod cgroup, then removes it. */
  destroy(podCgroup: CgroupName): Promise<void>;
  reduceCPULimits(podCgroup: CgroupName): Promise<void>;
  /** GetAllPodsFromCgroups: pod UID → pod cgroup, for every pod cgroup under the QoS tiers. */
  getAllPodsFromCgroups(): Promise<Map<string, CgroupName>>;
  /** IsPodCgroup: whether a cgroupfs path is a pod cgroup (a direct child of a tier), and whose. */
  isPodCgroup(cgroupfs: string): { isPod: boolean; uid: string };
}

export interface PodContainerManagerOptions {
  cgroupsPerQOS: boolean;
  /** --cgroup-root with the node allocatable cgroup; what pods share when QoS cgroups are off. */
  cgroupRoot: CgroupName;
  qosContainersInfo: QOSContainersInfo;
  cgroupManager: CgroupManager;
  subsystems: CgroupSubsystems;
  /** podPidsLimit; applied only when positive. */
  podPidsLimit: bigint;
  /** cpuCFSQuota: enforce CPU limits with CFS quota. */
  enforceCPULimits: boolean;
  /** cpuCFSQuotaPeriod in microseconds. */
  cpuCFSQuotaPeriod: bigint;
  featureGates: Pick<
    FeatureGates,
    "CustomCPUCFSQuotaPeriod" | "InPlacePodVerticalScaling" | "MemoryQoS" | "SidecarContainers"
  >;
  log: Logger;
}

/** NewPodContainerManager: pod cgroups when QoS cgroups are on; otherwise every pod uses the cgroup root as is. */
export function newPodContainerManager(opts: PodContainerManagerOptions): PodContainerManager {
  return opts.cgroupsPerQOS ? new PodContainerManagerImpl(opts) : noopPodContainerManager(opts.cgroupRoot);
}

/**
 * podContainerManagerNoop: no pod cgroups; the cgroupfs path is "", so the sandbox gets no cgroup
 * parent and the runtime picks its own.
 */
function noopPodContainerManager(cgroupRoot: CgroupName): PodContainerManager {
  return {
    exists: async () => true,
    ensureExists: async () => {},
    getPodContainerName: () => ({ name: cgroupRoot, cgroupfs: "" }),
    destroy: async () => {},
    reduceCPULimits: async () => {},
    getAllPodsFromCgroups: async () => new Map(),
    isPodCgroup: () => ({ isPod: false, uid: "" }),
  };
}

/** The pod cgroup name: the pod's QoS tier plus "pod<uid>". */
export function podCgroupName(pod: Pod, info: QOSContainersInfo): CgroupName {
  const uid = pod.metadata?.uid;
  if (!uid)
    throw invalidArgument(`pod ${JSON.stringify(pod.metadata?.name ?? "")} has no UID for its cgroup`);
  const qos = getPodQOS(pod);
  const parent =
    qos === PodQOSBurstable ? info.burstable : qos === PodQOSBestEffort ? info.bestEffort : info.guaranteed;
  return newCgroupName(parent, getPodCgroupNameSuffix(uid));
}

/** IsPodCgroup over cgroup names: a name one level below any tier whose last part is "pod<uid>". */
export function isPodCgroupName(name: CgroupName, info: QOSContainersInfo): { isPod: boolean; uid: string } {
  let basePath = "";
  for (const tier of [info.bestEffort, info.burstable, info.guaranteed]) {
    if (name.length === tier.length + 1) basePath = name[tier.length] ?? "";
  }
  const parts = basePath.split(podCgroupNamePrefix);
  if (!basePath.startsWith(podCgroupNamePrefix) || parts.length !== 2) return { isPod: false, uid: "" };
  return { isPod: true, uid: parts[1] ?? "" };
}

class PodContainerManagerImpl implements PodContainerManager {
  constructor(private readonly opts: PodContainerManagerOptions) {}

  getPodContainerName(pod: Pod): { name: CgroupName; cgroupfs: string } {
    const name = podCgroupName(pod, this.opts.qosContainersInfo);
    return { name, cgroupfs: this.opts.cgroupManager.name(name) };
  }

  async exists(pod: Pod): Promise<boolean> {
    return this.opts.cgroupManager.exists(this.getPodContainerName(pod).name);
  }

  async ensureExists(pod: Pod): Promise<void> {
    if (await this.exists(pod)) return;
    const { cgroupManager, subsystems, featureGates, podPidsLimit, log } = this.opts;
    const enforceMemoryQoS = featureGates.MemoryQoS && subsystems.mode === "unified";
    const { name, cgroupfs } = this.getPodContainerName(pod);
    const resourceParameters = resourceConfigForPod(
      pod,
      this.opts.enforceCPULimits,
      this.opts.cpuCFSQuotaPeriod,
      enforceMemoryQoS,
      featureGates,
    );
    if (podPidsLimit > 0n) resourceParameters.pidsLimit = podPidsLimit;
    if (enforceMemoryQoS)
      log.debug({ pod: podRef(pod), unified: resourceParameters.unified }, "MemoryQoS config for pod");
    await cgroupManager.create({ name, resourceParameters }).catch((err: unknown) => {
      throw wrap(err, `failed to create container for ${cgroupfs}`);
    });
  }

  /**
   * tryKillingCgroupProcesses: SIGKILL to every pid in the pod cgroup, up to five rounds; a process
   * that is already gone counts as killed.
   */
  private async tryKillingCgroupProcesses(podCgroup: CgroupName): Promise<void> {
    const pids = await this.opts.cgroupManager.pids(podCgroup);
    const cgroup = cgroupNameToCgroupfs(podCgroup);
    const killed = new Set<number>();
    let errors: string[] = [];
    for (let attempt = 0; attempt < 5 && killed.size < pids.length; attempt++) {
      errors = [];
      for (const pid of pids) {
        if (killed.has(pid)) continue;
        this.opts.log.debug({ pid, cgroup }, "attempting to kill process from cgroup");
        try {
          process.kill(pid, "SIGKILL");
          killed.add(pid);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === "ESRCH") killed.add(pid);
          else errors.push(`${pid}: ${messageOf(err)}`);
        }
      }
    }
    if (errors.length > 0) {
      throw wrap(
        new Error(errors.join("; ")),
        `failed to kill all the processes attached to the ${cgroup} cgroups`,
      );
    }
  }

  async destroy(podCgroup: CgroupName): Promise<void> {
    await this.tryKillingCgroupProcesses(podCgroup);
    await this.opts.cgroupManager.destroy(podCgroup).catch((err: unknown) => {
      throw wrap(err, `failed to delete cgroup paths for ${cgroupNameToCgroupfs(podCgroup)}`);
    });
  }

  async reduceCPULimits(podCgroup: CgroupName): Promise<void> {
    await this.opts.cgroupManager.reduceCPULimits(podCgroup);
  }

  isPodCgroup(cgroupfs: string): { isPod: boolean; uid: string } {
    return isPodCgroupName(this.opts.cgroupManager.cgroupName(cgroupfs), this.opts.qosContainersInfo);
  }

  async getAllPodsFromCgroups(): Promise<Map<string, CgroupName>> {
    const { cgroupManager, subsystems, qosContainersInfo: info, log } = this.opts;
    const found = new Map<string, CgroupName>();
    // A pod cgroup left in any single hierarchy counts, so that it gets removed everywhere.
    for (const mount of new Set(subsystems.mountPoints.values())) {
      for (const tier of [info.bestEffort, info.burstable, info.guaranteed]) {
        const tierPath = cgroupManager.name(tier);
        const dir = join(mount, tierPath);
        // cgroupfs is read synchronously, as the cgroup manager reads it.
        let entries: Dirent[] = [];
        try {
          entries = readdirSync(dir, { withFileTypes: true });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
            throw wrap(err, `failed to read the cgroup directory ${dir}`);
          }
        }
        for (const entry of entries) {
          if (!entry.isDirectory()) continue;
          const cgroupfsPath = join(tierPath, entry.name);
          const internal = cgroupManager.cgroupName(cgroupfsPath);
          const basePath = internal.at(-1) ?? "";
          if (!basePath.includes(podCgroupNamePrefix)) continue;
          const parts = basePath.split(podCgroupNamePrefix);
          if (parts.length !== 2) {
            log.info(
              { path: cgroupfsPath },
              "pod cgroup manager ignored unexpected cgroup because it is not a pod",
            );
            continue;
          }
          found.set(parts[1] ?? "", internal);
        }
      }
    }
    return found;
  }
}

function podRef(pod: Pod): string {
  return `${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""}`;
}
