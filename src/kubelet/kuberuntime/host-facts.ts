// The kubelet's side of the config generators, built once from its configuration and the node: what
// upstream's kubelet answers when the runtime manager asks its runtimeHelper (DNS, node IPs, node
// allocatable, the node's /etc/hosts, a pod's directory and cgroup parent). The real kubelet
// (kubelet.ts) and `berth explain` both build their inputs here, so that explain shows what the
// kubelet would send.
import { readFile } from "node:fs/promises";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import type { Pod } from "kubernetes-types/core/v1.js";
import type { Quantity } from "../api/quantity.js";
import type { ResourceList } from "../api/resources.js";
import {
  getNodeAllocatableReservation,
  type NodeAllocatableConfig,
  type NodeConfig,
  nodeStatusAllocatable,
} from "../cm/node-allocatable.js";
import type { KubeletConfiguration } from "../config/kubelet-configuration.js";
import type { RecordEvent } from "../events/event-recorder.js";
import type { ContainerHostFacts, ImageUser, LocalObjects, VolumeInfo } from "./container.js";
import type { KubeletHost } from "./manager.js";
import type { SandboxHostFacts } from "./sandbox.js";

/** What the kubelet reads from the node once, at start, for every pod's config. */
export interface NodeFiles {
  /** The node's addresses, primary first. */
  hostIPs: string[];
  /** /etc/hosts, which host-network pods get a copy of; "" when unreadable. */
  nodeEtcHosts: string;
  /** The text of --resolv-conf; undefined when the setting is "" (no host resolver). */
  resolvConf?: string;
}

/** Reads the node's addresses, /etc/hosts and the configured resolv.conf (a missing file reads as empty). */
export async function readNodeFiles(config: KubeletConfiguration): Promise<NodeFiles> {
  return {
    hostIPs: nodeIPs(),
    nodeEtcHosts: await readFile("/etc/hosts", "utf8").catch(() => ""),
    ...(config.resolvConf ? { resolvConf: await readFile(config.resolvConf, "utf8").catch(() => "") } : {}),
  };
}

/** The node's addresses: non-internal IPv4 first, as the kubelet picks its node IP. */
export function nodeIPs(): string[] {
  const all = Object.values(networkInterfaces())
    .flatMap((l) => l ?? [])
    .filter((a) => !a.internal);
  const v4 = all.filter((a) => a.family === "IPv4").map((a) => a.address);
  const v6 = all.filter((a) => a.family === "IPv6" && !a.address.startsWith("fe80")).map((a) => a.address);
  return [...v4, ...v6];
}

/** The container manager's node config: cgroup root, QoS cgroups, and what is reserved from the node. */
export function nodeConfigOf(config: KubeletConfiguration): NodeConfig {
  const nodeAllocatable: NodeAllocatableConfig = {
    kubeReservedCgroupName: config.kubeReservedCgroup,
    systemReservedCgroupName: config.systemReservedCgroup,
    enforceNodeAllocatable: config.enforceNodeAllocatable,
    kubeReserved: config.kubeReserved,
    systemReserved: config.systemReserved,
    hardEvictionThresholds: Object.entries(config.evictionHard).map(([signal, value]) => ({ signal, value })),
  };
  return { cgroupRoot: config.cgroupRoot, cgroupsPerQOS: config.cgroupsPerQOS, nodeAllocatable };
}

/** The allocatable the node reports, as quantity strings: what the downward API shows for "no limit". */
export function nodeAllocatableOf(
  capacity: ResourceList,
  config: NodeAllocatableConfig,
): Record<string, string> {
  const allocatable = nodeStatusAllocatable(capacity, getNodeAllocatableReservation(capacity, config));
  return Object.fromEntries(Object.entries(allocatable).map(([name, q]) => [name, quantityString(q)]));
}

// Exact, and readable by parseQuantity: whole units, else thousandths, else nano-units.
function quantityString(q: Quantity): string {
  if (q.nanos % 1_000_000_000n === 0n) return `${q.value()}`;
  if (q.nanos % 1_000_000n === 0n) return `${q.milliValue()}m`;
  return `${q.nanos}n`;
}

/** <root-dir>/pods/<uid>. */
export function podDirOf(rootDir: string, uid: string): string {
  return join(rootDir, "pods", uid);
}

/** What only a running kubelet knows per pod: its volumes, the objects it may read, its cgroup. */
export interface PodHostSide {
  volumes(pod: Pod): Record<string, VolumeInfo>;
  localObjects(namespace: string): LocalObjects;
  /** The pod's cgroup parent from the pod container manager. */
  cgroupParent(pod: Pod): string;
}

/** The runtime manager's view of the kubelet and node. */
export function kubeletHost(
  config: KubeletConfiguration,
  files: NodeFiles,
  nodeAllocatable: Record<string, string>,
  side: PodHostSide,
): KubeletHost {
  return {
    podDir: (pod) => podDirOf(config.rootDir, pod.metadata?.uid ?? ""),
    volumes: side.volumes,
    localObjects: side.localObjects,
    hostIPs: files.hostIPs,
    nodeAllocatable,
    nodeEtcHosts: files.nodeEtcHosts,
    dns: {
      clusterDNS: config.clusterDNS,
      clusterDomain: config.clusterDomain,
      ...(files.resolvConf !== undefined ? { resolvConf: files.resolvConf } : {}),
      nodeIPs: files.hostIPs,
    },
    cgroupParent: side.cgroupParent,
  };
}

/** generatePodSandboxConfig's host facts for a pod. */
export function sandboxHostFacts(host: KubeletHost, pod: Pod, recordEvent?: RecordEvent): SandboxHostFacts {
  return {
    cgroupParent: host.cgroupParent(pod),
    dns: host.dns,
    ...(recordEvent ? { recordEvent } : {}),
  };
}

/** generateContainerConfig's host facts for one instance of a container of `pod`. */
export function containerHostFacts(
  host: KubeletHost,
  pod: Pod,
  instance: { terminationMessageId: string; imageUser: ImageUser },
): ContainerHostFacts {
  return {
    podDir: host.podDir(pod),
    volumes: host.volumes(pod),
    localObjects: host.localObjects(pod.metadata?.namespace ?? ""),
    hostIPs: host.hostIPs,
    nodeAllocatable: host.nodeAllocatable,
    clusterDomain: host.dns.clusterDomain,
    nodeEtcHosts: host.nodeEtcHosts,
    terminationMessageId: instance.terminationMessageId,
    imageUser: instance.imageUser,
  };
}
