// pkg/kubelet/cm/node_container_manager_linux.go (kubelet 1.28) with the cgroup steps of
// container_manager_linux.go (NewContainerManager's cgroup root check, Start and setupNode): the node's
// capacity, what is reserved from it, and the node allocatable cgroup ("kubepods") every pod cgroup sits in.
//
// Two numbers are easy to confuse. The allocatable the node reports (nodeStatusAllocatable) is capacity
// minus kube-reserved, system-reserved and the hard eviction thresholds (memory.available<100Mi by
// default). The kubepods cgroup is limited to capacity minus the two reservations only
// (getNodeAllocatableAbsolute): the eviction manager, not the kernel, keeps the threshold free.
import { setTimeout as sleep } from "node:timers/promises";
import { invalidArgument, messageOf, wrap } from "../../lib/errdefs.js";
import type { Logger } from "../../lib/log.js";
import { parseQuantity, Quantity } from "../api/quantity.js";
import {
  isHugePageResourceName,
  ResourceCPU,
  ResourceHugePagesPrefix,
  type ResourceList,
  ResourceMemory,
} from "../api/resources.js";
import type { FeatureGates } from "../features/features.js";
import {
  type CgroupManager,
  type CgroupName,
  newCgroupName,
  parseCgroupfsToCgroupName,
} from "./cgroup-manager.js";
import { Cgroup2MemoryMin, hugePageLimits, milliCPUToShares, type ResourceConfig } from "./helpers-linux.js";
import type { NodeCapacity } from "./node-facts.js";
import {
  type ActivePodsFunc,
  newQOSContainerManager,
  type QOSContainerManager,
} from "./qos-container-manager.js";

export const defaultNodeAllocatableCgroupName = "kubepods";
/** --enforce-node-allocatable values. */
export const NodeAllocatableEnforcementKey = "pods";
export const SystemReservedEnforcementKey = "system-reserved";
export const KubeReservedEnforcementKey = "kube-reserved";
export const ResourceEphemeralStorage = "ephemeral-storage";
/** The kubelet-internal resource for process IDs (pidlimit.PIDs). */
export const ResourcePID = "pid";

/** Eviction signals (pkg/kubelet/eviction/api); every one fires when the observed value falls below it. */
export const SignalMemoryAvailable = "memory.available";
export const SignalNodeFsAvailable = "nodefs.available";
const evictionSignals = new Set([
  SignalMemoryAvailable,
  SignalNodeFsAvailable,
  "nodefs.inodesFree",
  "imagefs.available",
  "imagefs.inodesFree",
  "pid.available",
  "allocatableMemory.available",
]);

/** evictionapi.ThresholdValue: an amount, or a fraction of capacity held as float32 (as the kubelet does). */
export type ThresholdValue = { quantity: Quantity } | { percentage: number };
export interface Threshold {
  signal: string;
  value: ThresholdValue;
}

/** The kubelet's default evictionHard on Linux. */
export const DefaultEvictionHard: Readonly<Record<string, string>> = {
  "memory.available": "100Mi",
  "nodefs.available": "10%",
  "nodefs.inodesFree": "5%",
  "imagefs.available": "15%",
};

/** The hard thresholds of an evictionHard map (ParseThresholdConfig); "0%" and "100%" turn a signal off. */
export function parseEvictionHard(evictionHard: Readonly<Record<string, string>>): Threshold[] {
  const thresholds: Threshold[] = [];
  for (const [signal, value] of Object.entries(evictionHard)) {
    if (!evictionSignals.has(signal)) throw invalidArgument(`unsupported eviction signal ${signal}`);
    if (value.endsWith("%")) {
      if (value === "0%" || value === "100%") continue;
      const number = Number(value.slice(0, -1));
      if (Number.isNaN(number))
        throw invalidArgument(`invalid eviction percentage threshold ${signal}: ${value}`);
      const percentage = Math.fround(Math.fround(number) / 100);
      if (percentage < 0)
        throw invalidArgument(`eviction percentage threshold ${signal} must be >= 0%: ${value}`);
      if (percentage > 1)
        throw invalidArgument(`eviction percentage threshold ${signal} must be <= 100%: ${value}`);
      thresholds.push({ signal, value: { percentage } });
      continue;
    }
    const quantity = parseQuantity(value);
    if (quantity.nanos <= 0n)
      throw invalidArgument(`eviction threshold ${signal} must be positive: ${value}`);
    thresholds.push({ signal, value: { quantity } });
  }
  return thresholds;
}

/** GetThresholdQuantity: the amount, or the fraction of `capacity` truncated to whole units. */
export function getThresholdQuantity(value: ThresholdValue, capacity: Quantity): Quantity {
  if ("quantity" in value) return value.quantity;
  const amount = BigInt(Math.trunc(Number(capacity.value()) * value.percentage));
  return new Quantity(amount * 1_000_000_000n);
}

/** NodeAllocatableConfig: what the kubelet's configuration sets aside from the node. */
export interface NodeAllocatableConfig {
  kubeReservedCgroupName: string;
  systemReservedCgroupName: string;
  /** enforceNodeAllocatable: any of "pods", "system-reserved", "kube-reserved" (default ["pods"]). */
  enforceNodeAllocatable: readonly string[];
  kubeReserved: ResourceList;
  systemReserved: ResourceList;
  hardEvictionThresholds: readonly Threshold[];
}

const sub = (a: Quantity, b: Quantity | undefined) => new Quantity(a.nanos - (b?.nanos ?? 0n));
const atLeastZero = (q: Quantity) => (q.nanos < 0n ? Quantity.zero : q);

/** cadvisor's CapacityFromMachineInfo plus the root filesystem: the capacity the node reports. */
export function nodeCapacity(machine: NodeCapacity): ResourceList {
  const capacity: ResourceList = {
    [ResourceCPU]: new Quantity(BigInt(machine.cpuCores) * 1_000_000_000n),
    [ResourceMemory]: new Quantity(machine.memoryBytes * 1_000_000_000n),
    [ResourceEphemeralStorage]: new Quantity(machine.ephemeralStorageBytes * 1_000_000_000n),
  };
  for (const { pageSize, totalBytes } of machine.hugePages) {
    capacity[ResourceHugePagesPrefix + pageSize] = new Quantity(totalBytes * 1_000_000_000n);
  }
  return capacity;
}

/** The capacity plus the kubelet-internal process IDs, for the top-level cgroups only. */
export function internalCapacity(machine: NodeCapacity): ResourceList {
  const capacity = nodeCapacity(machine);
  if (machine.maxPids !== undefined) capacity[ResourcePID] = new Quantity(machine.maxPids * 1_000_000_000n);
  return capacity;
}

/** hardEvictionReservation: what the hard memory.available and nodefs.available thresholds keep free. */
export function hardEvictionReservation(
  thresholds: readonly Threshold[],
  capacity: ResourceList,
): ResourceList | undefined {
  if (thresholds.length === 0) return undefined;
  const reservation: ResourceList = {};
  for (const { signal, value } of thresholds) {
    const resource =
      signal === SignalMemoryAvailable
        ? ResourceMemory
        : signal === SignalNodeFsAvailable
          ? ResourceEphemeralStorage
          : undefined;
    if (resource) reservation[resource] = getThresholdQuantity(value, capacity[resource] ?? Quantity.zero);
  }
  return reservation;
}

/** getNodeAllocatableAbsolute(Impl): capacity minus system- and kube-reserved, never below zero. */
export function getNodeAllocatableAbsolute(
  capacity: ResourceList,
  config: NodeAllocatableConfig,
): ResourceList {
  const result: ResourceList = {};
  for (const [name, amount] of Object.entries(capacity)) {
    result[name] = atLeastZero(sub(sub(amount, config.systemReserved[name]), config.kubeReserved[name]));
  }
  return result;
}

/** GetNodeAllocatableReservation: system- plus kube-reserved plus the hard eviction reservation, where not zero. */
export function getNodeAllocatableReservation(
  capacity: ResourceList,
  config: NodeAllocatableConfig,
): ResourceList {
  const eviction = hardEvictionReservation(config.hardEvictionThresholds, capacity);
  const result: ResourceList = {};
  for (const name of Object.keys(capacity)) {
    let total = 0n;
    for (const list of [config.systemReserved, config.kubeReserved, eviction])
      total += list?.[name]?.nanos ?? 0n;
    if (total !== 0n) result[name] = new Quantity(total);
  }
  return result;
}

/** A quantity for messages: whole units, or thousandths when there is a fraction. */
function formatQuantity(q: Quantity): string {
  return q.nanos % 1_000_000_000n === 0n ? `${q.value()}` : `${q.milliValue()}m`;
}

/** validateNodeAllocatable: the reservations may not exceed the capacity. */
export function validateNodeAllocatable(capacity: ResourceList, config: NodeAllocatableConfig): void {
  const errors: string[] = [];
  for (const [name, reserved] of Object.entries(getNodeAllocatableReservation(capacity, config))) {
    const cap = capacity[name] ?? Quantity.zero;
    if (sub(cap, reserved).nanos < 0n) {
      errors.push(
        `Resource "${name}" has a reservation of ${formatQuantity(reserved)} but capacity of ${formatQuantity(cap)}. Expected capacity >= reservation.`,
      );
    }
  }
  if (errors.length > 0) throw invalidArgument(`invalid Node Allocatable configuration. ${errors.join(" ")}`);
}

/**
 * The allocatable the node reports (the MachineInfo status setter): capacity minus the reservation,
 * never below zero, and memory further minus every hugepage size's capacity.
 */
export function nodeStatusAllocatable(capacity: ResourceList, reservation: ResourceList): ResourceList {
  const allocatable: ResourceList = {};
  for (const [name, amount] of Object.entries(capacity))
    allocatable[name] = atLeastZero(sub(amount, reservation[name]));
  for (const [name, amount] of Object.entries(capacity)) {
    if (!isHugePageResourceName(name)) continue;
    allocatable[ResourceMemory] = atLeastZero(sub(allocatable[ResourceMemory] ?? Quantity.zero, amount));
  }
  return allocatable;
}

/** getCgroupConfig: a resource list as cgroup values (CPU as shares, memory, pids, hugepages). */
export function getCgroupConfig(list: ResourceList | undefined): ResourceConfig | undefined {
  if (list === undefined) return undefined;
  const config: ResourceConfig = {};
  const memory = list[ResourceMemory];
  if (memory) config.memory = memory.value();
  const cpu = list[ResourceCPU];
  if (cpu) config.cpuShares = milliCPUToShares(cpu.milliValue());
  const pids = list[ResourcePID];
  if (pids) config.pidsLimit = pids.value();
  config.hugePageLimit = hugePageLimits(list);
  return config;
}

export interface NodeConfig {
  /** --cgroup-root, in cgroupfs form ("/" by default). */
  cgroupRoot: string;
  /** --cgroups-per-qos (true by default): the kubepods, QoS tier and pod cgroups. */
  cgroupsPerQOS: boolean;
  nodeAllocatable: NodeAllocatableConfig;
}

/**
 * What the node allocatable cgroup is set to: the internal capacity, less the reservations when
 * "pods" is enforced.
 */
export function nodeAllocatableCgroupConfig(machine: NodeCapacity, nodeConfig: NodeConfig): ResourceConfig {
  const capacity = internalCapacity(machine);
  const enforced =
    nodeConfig.cgroupsPerQOS &&
    nodeConfig.nodeAllocatable.enforceNodeAllocatable.includes(NodeAllocatableEnforcementKey);
  return (
    getCgroupConfig(enforced ? getNodeAllocatableAbsolute(capacity, nodeConfig.nodeAllocatable) : capacity) ??
    {}
  );
}

/** createNodeAllocatableCgroups: makes the node allocatable cgroup unless it exists. */
export async function createNodeAllocatableCgroups(
  cgroupManager: CgroupManager,
  cgroupRoot: CgroupName,
  resourceParameters: ResourceConfig,
): Promise<void> {
  if (await cgroupManager.exists(cgroupRoot)) return;
  await cgroupManager.create({ name: cgroupRoot, resourceParameters });
}

/**
 * enforceExistingCgroup: kube- or system-reserved limits on a cgroup that must exist already
 * (the kubelet never makes it); with MemoryQoS its memory is also protected with memory.min.
 */
async function enforceExistingCgroup(
  cgroupManager: CgroupManager,
  name: CgroupName,
  reserved: ResourceList,
  memoryQoS: boolean,
): Promise<void> {
  const resourceParameters = getCgroupConfig(reserved) ?? {};
  if (memoryQoS && resourceParameters.memory !== undefined) {
    resourceParameters.unified = {
      ...resourceParameters.unified,
      [Cgroup2MemoryMin]: `${resourceParameters.memory}`,
    };
  }
  await cgroupManager.validate(name);
  await cgroupManager.update({ name, resourceParameters });
}

export interface EnforceNodeAllocatableOptions {
  cgroupManager: CgroupManager;
  cgroupRoot: CgroupName;
  nodeConfig: NodeConfig;
  resourceParameters: ResourceConfig;
  featureGates: Pick<FeatureGates, "MemoryQoS">;
  log: Logger;
  /** Ends the retries of the node allocatable update. */
  signal?: AbortSignal;
}

/** How long the kubelet waits before it tries a failed node allocatable update again. */
export const nodeAllocatableRetryInterval = 60_000;

/**
 * enforceNodeAllocatableCgroups: sets the node allocatable cgroup's limits (always, since the default
 * CPU shares of a new cgroup are low), trying again every minute while pods still use more memory
 * than the new limit allows; then the kube- and system-reserved limits where enforced.
 */
export async function enforceNodeAllocatableCgroups(opts: EnforceNodeAllocatableOptions): Promise<void> {
  const { cgroupManager, cgroupRoot, nodeConfig, log } = opts;
  if (cgroupRoot.length > 0) {
    const update = () =>
      cgroupManager.update({ name: cgroupRoot, resourceParameters: opts.resourceParameters });
    const attempt = async (): Promise<boolean> => {
      try {
        await update();
        log.info({ cgroup: cgroupManager.name(cgroupRoot) }, "updated Node Allocatable limit across pods");
        return true;
      } catch (err) {
        log.warn(
          { cgroup: cgroupManager.name(cgroupRoot), err: messageOf(err) },
          "failed to update Node Allocatable Limits",
        );
        return false;
      }
    };
    if (!(await attempt())) void retry(attempt, opts.signal);
  }
  const config = nodeConfig.nodeAllocatable;
  for (const [key, cgroup, reserved, what] of [
    [SystemReservedEnforcementKey, config.systemReservedCgroupName, config.systemReserved, "System Reserved"],
    [KubeReservedEnforcementKey, config.kubeReservedCgroupName, config.kubeReserved, "Kube Reserved"],
  ] as const) {
    if (!config.enforceNodeAllocatable.includes(key)) continue;
    await enforceExistingCgroup(
      cgroupManager,
      cgroupManager.cgroupName(cgroup),
      reserved,
      opts.featureGates.MemoryQoS,
    ).catch((err: unknown) => {
      throw wrap(err, `failed to enforce ${what} Cgroup Limits on ${JSON.stringify(cgroup)}`);
    });
    log.info({ cgroup }, `updated limits on ${what.toLowerCase()} cgroup`);
  }
}

async function retry(attempt: () => Promise<boolean>, signal: AbortSignal | undefined): Promise<void> {
  try {
    do await sleep(nodeAllocatableRetryInterval, undefined, { signal, ref: false });
    while (!(await attempt()));
  } catch {
    // Aborted: the kubelet is stopping.
  }
}

export interface SetupNodeOptions {
  cgroupManager: CgroupManager;
  nodeConfig: NodeConfig;
  machine: NodeCapacity;
  /** The node's hugepage sizes ("2Mi"). */
  hugePageSizes: readonly string[];
  /** Whether the host runs cgroup v2 only. */
  unified: boolean;
  featureGates: Pick<FeatureGates, "MemoryQoS" | "SidecarContainers">;
  activePods: ActivePodsFunc;
  log: Logger;
  signal?: AbortSignal;
}

/**
 * The container manager's cgroup setup, in the kubelet's order: the cgroup root must exist, the
 * reservations must fit the capacity, then the node allocatable cgroup, the QoS tiers, and the limits.
 * Returns the node allocatable cgroup and the started QoS manager (stop it with the kubelet).
 */
export async function setupNode(
  opts: SetupNodeOptions,
): Promise<{ cgroupRoot: CgroupName; qosContainerManager: QOSContainerManager }> {
  const { cgroupManager, nodeConfig, machine, log } = opts;
  let cgroupRoot = parseCgroupfsToCgroupName(nodeConfig.cgroupRoot);
  if (nodeConfig.cgroupsPerQOS) {
    if (nodeConfig.cgroupRoot === "") {
      throw invalidArgument(
        "invalid configuration: cgroups-per-qos was specified and cgroup-root was not specified. To enable the QoS cgroup hierarchy you need to specify a valid cgroup-root",
      );
    }
    await cgroupManager.validate(cgroupRoot).catch((err: unknown) => {
      throw invalidArgument(`invalid configuration: ${messageOf(err)}`, err);
    });
    cgroupRoot = newCgroupName(cgroupRoot, defaultNodeAllocatableCgroupName);
  }
  validateNodeAllocatable(nodeCapacity(machine), nodeConfig.nodeAllocatable);

  const resourceParameters = nodeAllocatableCgroupConfig(machine, nodeConfig);
  const qosContainerManager = newQOSContainerManager({
    cgroupManager,
    cgroupRoot,
    cgroupsPerQOS: nodeConfig.cgroupsPerQOS,
    hugePageSizes: opts.hugePageSizes,
    unified: opts.unified,
    featureGates: opts.featureGates,
    log,
  });
  if (nodeConfig.cgroupsPerQOS) {
    await createNodeAllocatableCgroups(cgroupManager, cgroupRoot, resourceParameters);
    await qosContainerManager.start(opts.activePods).catch((err: unknown) => {
      throw wrap(err, "failed to initialize top level QOS containers");
    });
  }
  try {
    await enforceNodeAllocatableCgroups({ ...opts, cgroupRoot, resourceParameters });
  } catch (err) {
    qosContainerManager.stop();
    throw err;
  }
  return { cgroupRoot, qosContainerManager };
}
