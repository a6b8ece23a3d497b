// `berth explain`: what the kubelet would do for a static pod on its first sync, worked out by the
// kubelet's own code without a runtime. The pod goes through the file source (decodeStaticPods:
// defaulting, the node-suffixed name and hashed UID, validation) and PodConfig's annotations; then
// computePodActions (SyncPod step 1), the pod container manager's cgroup and its values
// (resourceConfigForPod) with the QoS tier above it, generatePodSandboxConfig (step 4) and
// generateContainerConfig for every init and regular container (steps 6 and 8). Pure: the caller
// reads the files and detects the node.
import { join } from "node:path";
import { create, type JsonValue, toJson } from "@bufbuild/protobuf";
import type { Pod } from "kubernetes-types/core/v1.js";
import {
  type ContainerConfig,
  ContainerConfigSchema,
  type LinuxContainerResources,
  type PodSandboxConfig,
  PodSandboxConfigSchema,
} from "../../cri/gen/runtime/v1/api_pb.js";
import { invalidArgument, messageOf } from "../../lib/errdefs.js";
import { parseQuantity } from "../api/quantity.js";
import {
  type CgroupLayout,
  type CgroupName,
  cgroupNameToCgroupfs,
  cgroupWrites,
  newCgroupName,
  parseCgroupfsToCgroupName,
} from "../cm/cgroup-manager.js";
import { type ResourceConfig, resourceConfigForPod } from "../cm/helpers-linux.js";
import {
  defaultNodeAllocatableCgroupName,
  nodeAllocatableCgroupConfig,
  nodeCapacity,
} from "../cm/node-allocatable.js";
import type { NodeCapacity } from "../cm/node-facts.js";
import { podCgroupName } from "../cm/pod-container-manager.js";
import {
  qosContainersInfo,
  setCPUCgroupConfig,
  setHugePagesUnbounded,
  setMemoryQoS,
} from "../cm/qos-container-manager.js";
import { decodeStaticPods } from "../config/file-source.js";
import { type KubeletConfiguration, kubeRuntimeSettings } from "../config/kubelet-configuration.js";
import {
  ConfigFirstSeenAnnotationKey,
  ConfigSourceAnnotationKey,
  FileSource,
  formatTimestamp,
} from "../config/pod-config.js";
import type { PodStatus } from "../container/runtime.js";
import type { KubeEvent } from "../events/event-recorder.js";
import {
  type ContainerConfigPlan,
  generateContainerConfig,
  type ImageUser,
  type VolumeInfo,
} from "../kuberuntime/container.js";
import { shouldEnforceMemoryQoS } from "../kuberuntime/container-linux.js";
import {
  containerHostFacts,
  kubeletHost,
  type NodeFiles,
  nodeAllocatableOf,
  nodeConfigOf,
  podDirOf,
  sandboxHostFacts,
} from "../kuberuntime/host-facts.js";
import { computePodActions, type PodActions } from "../kuberuntime/pod-actions.js";
import { generatePodSandboxConfig } from "../kuberuntime/sandbox.js";
import type { KubeRuntimeSettings, NodeFacts } from "../kuberuntime/settings.js";
import {
  getPodQOS,
  PodQOSBestEffort,
  PodQOSBurstable,
  type PodQOSClass,
  PodQOSGuaranteed,
} from "../qos/qos.js";
import { getPodVolumeNames, volumePlugins } from "../volumemanager/volume-manager.js";
import { escapeQualifiedName } from "../volumemanager/volume-plugin.js";

export interface ExplainInput {
  /** The manifest's text: one pod (a Pod, or a PodList of one). */
  manifest: string;
  /** The manifest's absolute path, as the file source names it: a static pod's UID hashes it. */
  file: string;
  config: KubeletConfiguration;
  node: NodeFacts;
  /** The node's capacity (node allocatable, the kubepods cgroup). */
  machine: NodeCapacity;
  /** Whether the node's cgroups have a hugetlb controller, without which no hugetlb file is written. */
  hugetlb: boolean;
  files: NodeFiles;
  /** The image's user as ImageStatus would report it; without a runtime it is unknown, so root. */
  imageUser: ImageUser;
  /** When the file source first saw the pod (the config.seen annotation). */
  now: Date;
}

/** A cgroup as the kubelet leaves it: its cgroupfs path, the values, and the files they become. */
export interface CgroupPlan {
  path: string;
  resources: ResourceConfig;
  /** File name → value, in the order they are written; unset values are not written. */
  files: Record<string, string>;
  note?: string;
}

/** One container's config, or why the kubelet could not make it (CreateContainerConfigError). */
export interface ContainerPlan {
  name: string;
  config?: ContainerConfig;
  /** The directories and files the kubelet makes on the host before CreateContainer. */
  hostPaths?: Omit<ContainerConfigPlan, "config">;
  /** The container's own cgroup files as runc writes them from config.linux.resources. */
  cgroupFiles?: Record<string, string>;
  error?: string;
}

export interface PodExplanation {
  /** The pod as the kubelet holds it: defaulted, named, annotated. */
  pod: Pod;
  qosClass: PodQOSClass;
  settings: KubeRuntimeSettings;
  /** SyncPod step 1 on the first sync: nothing runs yet. */
  podActions: PodActions;
  podSandboxConfig: PodSandboxConfig;
  initContainers: ContainerPlan[];
  containers: ContainerPlan[];
  /** Absent with cgroupsPerQOS off: pods then share the cgroup root and the runtime picks their cgroups. */
  cgroups?: { pod: CgroupPlan; qos: CgroupPlan };
  /** Events the generators would record (a missing cluster DNS, a cut search list). */
  events: KubeEvent[];
  notes: string[];
}

/** A static pod's first sync, as berth's kubelet would run it on the given node. */
export function explainPod(input: ExplainInput): PodExplanation {
  const { config, node } = input;
  const pod = staticPod(input);
  const uid = pod.metadata?.uid ?? "";
  const settings = kubeRuntimeSettings(config, node);
  const qosClass = getPodQOS(pod);
  const notes: string[] = [];
  const events: KubeEvent[] = [];

  const emptyStatus: PodStatus = {
    id: uid,
    name: pod.metadata?.name ?? "",
    namespace: pod.metadata?.namespace ?? "",
    ips: [],
    containerStatuses: [],
    sandboxStatuses: [],
    timeStamp: input.now,
  };
  const noProbeResults = { get: () => undefined };
  const podActions = computePodActions(pod, emptyStatus, {
    featureGates: settings.featureGates,
    livenessManager: noProbeResults,
    startupManager: noProbeResults,
  });

  const cgroups = config.cgroupsPerQOS ? podCgroups(input, pod, qosClass, settings) : undefined;
  const nodeConfig = nodeConfigOf(config);
  const host = kubeletHost(
    config,
    input.files,
    nodeAllocatableOf(nodeCapacity(input.machine), nodeConfig.nodeAllocatable),
    {
      volumes: () => plannedVolumes(pod, config.rootDir, notes),
      localObjects: () => ({ configMaps: {}, secrets: {} }),
      cgroupParent: () => cgroups?.pod.path ?? "",
    },
  );

  const podSandboxConfig = create(
    PodSandboxConfigSchema,
    generatePodSandboxConfig(
      settings,
      pod,
      podActions.attempt,
      sandboxHostFacts(host, pod, (e) => events.push(e)),
    ),
  );

  const layout = cgroupLayout(input);
  const plan = (container: NonNullable<Pod["spec"]>["containers"][number]): ContainerPlan => {
    try {
      const { config: init, ...hostPaths } = generateContainerConfig(
        settings,
        container,
        pod,
        0,
        "",
        container.image ?? "",
        [],
        undefined,
        containerHostFacts(host, pod, { terminationMessageId, imageUser: input.imageUser }),
      );
      const message = create(ContainerConfigSchema, init);
      const resources = message.linux?.resources;
      return {
        name: container.name,
        config: message,
        hostPaths,
        cgroupFiles: resources ? containerCgroupFiles(resources, layout) : {},
      };
    } catch (err) {
      return { name: container.name, error: `CreateContainerConfigError: ${messageOf(err)}` };
    }
  };

  notes.push(
    "the image is sent as the pod names it; the kubelet sends the image ID the runtime reports after the pull",
    "the pod IP is unknown until the sandbox runs: status.podIP and status.podIPs read as empty",
    `the termination-log file name is random per container start; shown as ${terminationMessageId}`,
    "oomScoreAdj is what the kubelet asks; a runtime that restricts it (containerd's restrict_oom_score_adj, or one without CAP_SYS_RESOURCE) raises it to its own",
  );
  if (!config.cgroupsPerQOS)
    notes.push("cgroupsPerQOS is off: no QoS or pod cgroups; the runtime picks each container's cgroup");

  return {
    pod,
    qosClass,
    settings,
    podActions,
    podSandboxConfig,
    initContainers: (pod.spec?.initContainers ?? []).map(plan),
    containers: (pod.spec?.containers ?? []).map(plan),
    ...(cgroups ? { cgroups } : {}),
    events,
    notes,
  };
}

/** Stands in for makeUID(), so that the output does not change from run to run. */
export const terminationMessageId = "xxxxxxxx";

/** The file source's pod (decodeStaticPods) with the annotations PodConfig adds when it takes it. */
function staticPod(input: ExplainInput): Pod {
  const { pods, errors } = decodeStaticPods(input.manifest, input.file, input.node.nodeName);
  if (errors.length > 0) throw invalidArgument(`invalid pod manifest:\n${errors.join("\n")}`);
  const pod = pods[0];
  if (pods.length !== 1 || pod === undefined)
    throw invalidArgument(`${input.file}: holds ${pods.length} pods; berth explain takes one`);
  return {
    ...pod,
    metadata: {
      ...pod.metadata,
      annotations: {
        ...pod.metadata?.annotations,
        [ConfigSourceAnnotationKey]: FileSource,
        [ConfigFirstSeenAnnotationKey]: formatTimestamp(input.now),
      },
    },
  };
}

/** What cgroupWrites needs to know of the node. */
function cgroupLayout(input: ExplainInput): CgroupLayout {
  return {
    mode: input.node.cgroupVersion === "v2" ? "unified" : "legacy",
    hugetlb: input.hugetlb,
    hugePageSizes: input.node.hugePageSizes,
  };
}

/** The node allocatable cgroup: "kubepods" under --cgroup-root (setupNode). */
function nodeAllocatableCgroupName(config: KubeletConfiguration): CgroupName {
  return newCgroupName(parseCgroupfsToCgroupName(config.cgroupRoot), defaultNodeAllocatableCgroupName);
}

/**
 * The pod cgroup as podContainerManager.EnsureExists makes it, and the QoS tier as the QoS manager's
 * UpdateCgroups leaves it just before (with this pod as the only active one).
 */
function podCgroups(
  input: ExplainInput,
  pod: Pod,
  qosClass: PodQOSClass,
  settings: KubeRuntimeSettings,
): { pod: CgroupPlan; qos: CgroupPlan } {
  const { config, node } = input;
  const gates = settings.featureGates;
  const layout = cgroupLayout(input);
  const plan = (name: CgroupName, resources: ResourceConfig, note?: string): CgroupPlan => ({
    path: cgroupNameToCgroupfs(name),
    resources,
    files: Object.fromEntries(cgroupWrites(resources, layout).map((w) => [w.file, w.value])),
    ...(note ? { note } : {}),
  });

  const info = qosContainersInfo(nodeAllocatableCgroupName(config));
  const podResources = resourceConfigForPod(
    pod,
    config.cpuCFSQuota,
    BigInt(settings.cpuCFSQuotaPeriodUs),
    shouldEnforceMemoryQoS(settings),
    gates,
  );
  if (config.podPidsLimit > 0) podResources.pidsLimit = BigInt(config.podPidsLimit);

  const tiers = {
    [PodQOSGuaranteed]: { name: info.guaranteed, resourceParameters: {} },
    [PodQOSBurstable]: { name: info.burstable, resourceParameters: {} },
    [PodQOSBestEffort]: { name: info.bestEffort, resourceParameters: {} },
  };
  setCPUCgroupConfig(tiers, [pod], gates);
  for (const tier of Object.values(tiers)) setHugePagesUnbounded(tier, node.hugePageSizes);
  if (shouldEnforceMemoryQoS(settings)) setMemoryQoS(tiers, [pod], gates);

  let qos: CgroupPlan;
  switch (qosClass) {
    case PodQOSGuaranteed:
      // Guaranteed pods sit in the node allocatable cgroup itself, limited at start to the node's
      // capacity less kube- and system-reserved; UpdateCgroups later lifts its hugetlb limits.
      qos = plan(
        info.guaranteed,
        {
          ...nodeAllocatableCgroupConfig(input.machine, nodeConfigOf(config)),
          ...tiers[PodQOSGuaranteed].resourceParameters,
        },
        "the node allocatable cgroup: capacity less kube- and system-reserved (nodeAllocatableCgroupConfig)",
      );
      break;
    case PodQOSBurstable:
      qos = plan(
        info.burstable,
        tiers[PodQOSBurstable].resourceParameters,
        "cpu.shares counts this pod's CPU requests alone; the kubelet sets the sum of every Burstable pod's requests",
      );
      break;
    default:
      qos = plan(
        info.bestEffort,
        tiers[PodQOSBestEffort].resourceParameters,
        "always the minimum cpu.shares",
      );
  }
  return { pod: plan(podCgroupName(pod, info), podResources), qos };
}

/**
 * The container's cgroup files as runc writes them from the CRI resources the runtime passes on:
 * zero means "leave alone" (libcontainer's convention, as for the kubelet's own cgroups), and on
 * cgroup v1 a swap limit becomes memory+swap.
 */
export function containerCgroupFiles(
  resources: LinuxContainerResources,
  layout: CgroupLayout,
): Record<string, string> {
  const config: ResourceConfig = {
    cpuShares: resources.cpuShares,
    cpuQuota: resources.cpuQuota,
    cpuPeriod: resources.cpuPeriod,
    memory: resources.memoryLimitInBytes,
    // CRI names page sizes as cgroups do ("2MB", binary units): as a quantity that is "2Mi".
    hugePageLimit: new Map(
      resources.hugepageLimits.map((h) => [parseQuantity(h.pageSize.replace(/B$/, "i")).value(), h.limit]),
    ),
    unified: resources.unified,
  };
  const files = Object.fromEntries(cgroupWrites(config, layout).map((w) => [w.file, w.value]));
  if (layout.mode !== "unified" && resources.memorySwapLimitInBytes !== 0n)
    files["memory.memsw.limit_in_bytes"] = `${resources.memorySwapLimitInBytes}`;
  return files;
}

// The plugins whose volumes are mounted read-only whatever the pod says (atomic writer volumes).
const readOnlyVolumeSources = new Set(["configMap", "secret", "downwardAPI", "projected"]);

/**
 * Where the volume manager would set up each volume a container uses: hostPath volumes are the
 * node's path, the others a directory under the pod's. A volume no plugin serves is left out (the
 * kubelet would fail to mount it) and noted.
 */
function plannedVolumes(pod: Pod, rootDir: string, notes: string[]): Record<string, VolumeInfo> {
  const volumes: Record<string, VolumeInfo> = {};
  const used = getPodVolumeNames(pod);
  const dir = join(podDirOf(rootDir, pod.metadata?.uid ?? ""), "volumes");
  for (const volume of pod.spec?.volumes ?? []) {
    if (!used.has(volume.name)) continue;
    const plugin = volumePlugins.find((p) => volume[p.source] !== undefined && volume[p.source] !== null);
    if (!plugin) {
      const note = `volume ${JSON.stringify(volume.name)}: no volume plugin serves it; the kubelet would fail to mount it`;
      if (!notes.includes(note)) notes.push(note);
      continue;
    }
    volumes[volume.name] =
      plugin.source === "hostPath"
        ? { hostPath: volume.hostPath?.path ?? "" }
        : {
            hostPath: join(dir, escapeQualifiedName(plugin.name), volume.name),
            ...(readOnlyVolumeSources.has(plugin.source) ? { readOnly: true } : {}),
          };
  }
  return volumes;
}

/** A ResourceConfig as JSON: integers as strings (as proto3 JSON writes int64), hugepages by page size. */
export function resourceConfigJson(r: ResourceConfig): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = {};
  for (const key of ["cpuShares", "cpuQuota", "cpuPeriod", "memory", "pidsLimit"] as const) {
    const value = r[key];
    if (value !== undefined) out[key] = `${value}`;
  }
  if (r.hugePageLimit && r.hugePageLimit.size > 0)
    out.hugePageLimit = Object.fromEntries(
      [...r.hugePageLimit].map(([size, limit]) => [`${size}`, `${limit}`]),
    );
  if (r.unified && Object.keys(r.unified).length > 0) out.unified = { ...r.unified };
  return out;
}

function cgroupPlanJson(c: CgroupPlan): JsonValue {
  return {
    path: c.path,
    resources: resourceConfigJson(c.resources),
    files: c.files,
    ...(c.note ? { note: c.note } : {}),
  };
}

function containerPlanJson(c: ContainerPlan): JsonValue {
  if (c.error !== undefined || c.config === undefined) return { name: c.name, error: c.error ?? "" };
  return {
    name: c.name,
    config: toJson(ContainerConfigSchema, c.config, { alwaysEmitImplicit: true }),
    cgroupFiles: c.cgroupFiles ?? {},
  };
}

/** What `berth explain -o json|yaml` prints: CRI messages in proto3 JSON, cgroups with their files. */
export function explanationJson(e: PodExplanation): JsonValue {
  const spec = e.pod.spec;
  const initNames = (spec?.initContainers ?? []).map((c) => c.name);
  const names = (spec?.containers ?? []).map((c) => c.name);
  return {
    qosClass: e.qosClass,
    podActions: {
      createSandbox: e.podActions.createSandbox,
      attempt: e.podActions.attempt,
      initContainersToStart: e.podActions.nextInitContainerToStart
        ? [e.podActions.nextInitContainerToStart.name]
        : e.podActions.initContainersToStart.map((i) => initNames[i] ?? ""),
      containersToStart: e.podActions.containersToStart.map((i) => names[i] ?? ""),
    },
    podSandboxConfig: toJson(PodSandboxConfigSchema, e.podSandboxConfig, { alwaysEmitImplicit: true }),
    initContainers: e.initContainers.map(containerPlanJson),
    containers: e.containers.map(containerPlanJson),
    cgroups: e.cgroups ? { pod: cgroupPlanJson(e.cgroups.pod), qos: cgroupPlanJson(e.cgroups.qos) } : {},
    events: e.events.map((ev) => ({ ...ev })),
    notes: e.notes,
  };
}
