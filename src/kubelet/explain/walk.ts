// The readable form of `berth explain`: the seed's path through the kubelet for one pod, step by
// step, each labelled with the upstream function that decides it and showing the values it gives.
import { toJson } from "@bufbuild/protobuf";
import type { Container } from "kubernetes-types/core/v1.js";
import {
  DNSConfigSchema,
  type LinuxContainerResources,
  LinuxContainerSecurityContextSchema,
  LinuxSandboxSecurityContextSchema,
} from "../../cri/gen/runtime/v1/api_pb.js";
import {
  containerLimits,
  containerRequests,
  podLimits,
  podRequests,
  ResourceCPU,
  ResourceMemory,
  resourceOf,
} from "../api/resources.js";
import { binaryQuantity } from "../cm/node-facts.js";
import type { ImageUser } from "../kuberuntime/container.js";
import { isNodeCriticalPod } from "../qos/policy.js";
import { PodQOSBestEffort, PodQOSGuaranteed } from "../qos/qos.js";
import type { CgroupPlan, ContainerPlan, PodExplanation } from "./explain.js";

export interface WalkContext {
  /** The manifest as the user named it. */
  file: string;
  /** Where the node facts came from: "detected on this host" or the facts file. */
  nodeSource: string;
  /** Where the configuration came from: its file, or "kubelet defaults". */
  configSource: string;
  /** The --image-user given, if any. */
  imageUser?: ImageUser;
}

/** The walk through the seed's steps as text. */
export function formatWalk(e: PodExplanation, ctx: WalkContext): string {
  const out: string[] = [];
  const line = (indent: number, text: string) => out.push(`${"  ".repeat(indent)}${text}`);
  const { pod, settings } = e;
  const node = settings.node;
  const meta = pod.metadata ?? {};
  const spec = pod.spec ?? { containers: [] };

  line(
    0,
    `berth explain: ${ctx.file} as berth's kubelet would run it on node ${JSON.stringify(node.nodeName)}`,
  );
  line(
    1,
    `node (${ctx.nodeSource}): cgroup ${node.cgroupVersion}, memory ${bytes(node.memoryCapacityBytes)}, swap ${bytes(node.swapCapacityBytes)}, page size ${node.pageSizeBytes}, hugepage sizes ${node.hugePageSizes.join(" ") || "none"}, swap controller ${node.swapControllerAvailable ? "yes" : "no"}`,
  );
  line(
    1,
    `kubelet configuration (${ctx.configSource}): cpuCFSQuota ${settings.cpuCFSQuota} (period ${settings.cpuCFSQuotaPeriodUs}us), podLogsDir ${settings.podLogsRootDirectory}`,
  );
  out.push("");

  line(0, "static pod source (config/file.go, common.go applyStaticPodDefaults, then ValidatePod)");
  line(1, `name: ${meta.name} (the manifest's name, "-", the node's name)`);
  line(1, `namespace: ${meta.namespace}`);
  line(1, `uid: ${meta.uid} (md5 of the manifest, the node's name and the file's path)`);
  line(
    1,
    "defaults: SetDefaults_Pod (a limit without a request requests the limit), restartPolicy, pull policy …",
  );
  out.push("");

  line(0, `getPodQOS → ${e.qosClass}`);
  for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
    line(
      1,
      `${c.name}: requests ${resourceText(c.resources?.requests)}, limits ${resourceText(c.resources?.limits)}`,
    );
  }
  out.push("");

  const initNames = (spec.initContainers ?? []).map((c) => c.name);
  const names = spec.containers.map((c) => c.name);
  const actions = e.podActions;
  line(0, "SyncPod step 1: computePodActions (first sync: no sandbox and no container yet)");
  line(1, `createSandbox: ${actions.createSandbox}, attempt ${actions.attempt}`);
  const initNow = actions.nextInitContainerToStart
    ? [actions.nextInitContainerToStart.name]
    : actions.initContainersToStart.map((i) => initNames[i] ?? "");
  if (initNow.length > 0) {
    line(1, `start now: init container ${initNow.join(", ")}`);
    line(1, "later syncs: each init container after the previous one exits 0, then the containers");
  } else {
    line(1, `start now: containers ${actions.containersToStart.map((i) => names[i] ?? "").join(", ")}`);
  }
  out.push("");

  if (e.cgroups) {
    const { pod: podCgroup, qos } = e.cgroups;
    line(0, "syncPod (kubelet.go): QoS and pod cgroups before the sandbox");
    line(1, `qosContainerManager.UpdateCgroups → ${qos.path}`);
    if (qos.note) line(2, `note: ${qos.note}`);
    line(2, "files:");
    cgroupLines(qos, node.pageSizeBytes, node.cgroupVersion, (text) => line(3, text));
    line(1, `podContainerManager.EnsureExists → ResourceConfigForPod → ${podCgroup.path}`);
    for (const why of podCgroupReasons(e)) line(2, why);
    line(2, "files:");
    cgroupLines(podCgroup, node.pageSizeBytes, node.cgroupVersion, (text) => line(3, text));
    out.push("");
  }

  const sandbox = e.podSandboxConfig;
  line(0, "SyncPod step 4: createPodSandbox → generatePodSandboxConfig");
  line(
    1,
    `metadata: name ${sandbox.metadata?.name}, namespace ${sandbox.metadata?.namespace}, uid ${sandbox.metadata?.uid}, attempt ${sandbox.metadata?.attempt}`,
  );
  line(1, `hostname: ${sandbox.hostname || "(the node's: host network)"}`);
  line(1, `logDirectory: ${sandbox.logDirectory}`);
  line(
    1,
    `dnsConfig (getPodDNS, dnsPolicy ${spec.dnsPolicy}): ${sandbox.dnsConfig ? compact(toJson(DNSConfigSchema, sandbox.dnsConfig)) : "none"}`,
  );
  line(
    1,
    `portMappings: ${sandbox.portMappings.map((p) => `${p.hostIp || "*"}:${p.hostPort}→${p.containerPort}`).join(" ") || "none"}`,
  );
  const linux = sandbox.linux;
  line(1, `linux.cgroupParent: ${linux?.cgroupParent || '"" (the runtime decides)'}`);
  if (linux?.resources) {
    line(1, `linux.resources (applySandboxResources: the pod's totals): ${resourcesText(linux.resources)}`);
  }
  if (linux?.securityContext) {
    line(
      1,
      `linux.securityContext: ${compact(toJson(LinuxSandboxSecurityContextSchema, linux.securityContext))}`,
    );
  }
  line(1, `labels: ${mapText(sandbox.labels)}`);
  line(1, `annotations: ${mapText(sandbox.annotations)}`);
  out.push("");

  const imageUser = ctx.imageUser
    ? `--image-user: ${ctx.imageUser.uid !== undefined ? `uid ${ctx.imageUser.uid}` : ctx.imageUser.username}`
    : "unknown without a runtime (ImageStatus), assumed root (uid 0); --image-user sets it";
  const containerSection = (kind: string, stepNo: string, plans: ContainerPlan[], specs: Container[]) => {
    plans.forEach((plan, i) => {
      const c = specs[i] as Container;
      line(
        0,
        `SyncPod step ${stepNo}: startContainer(${kind} ${JSON.stringify(plan.name)}) → generateContainerConfig`,
      );
      if (plan.error !== undefined || !plan.config) {
        line(1, `fails: ${plan.error}`);
        out.push("");
        return;
      }
      const config = plan.config;
      line(
        1,
        `image: ${config.image?.image} (the kubelet sends the image ID the runtime reports after the pull)`,
      );
      line(1, `image user: ${imageUser}`);
      line(1, `command: ${JSON.stringify(config.command)}, args: ${JSON.stringify(config.args)}`);
      if (config.workingDir) line(1, `workingDir: ${config.workingDir}`);
      line(1, `envs: ${config.envs.map((v) => `${v.key}=${v.value}`).join(" ") || "none"}`);
      for (const m of config.mounts)
        line(1, `mount: ${m.containerPath} ← ${m.hostPath}${m.readonly ? " (ro)" : ""}`);
      line(1, `logPath: ${config.logPath} (under the sandbox's logDirectory)`);
      for (const d of plan.hostPaths?.directories ?? [])
        line(1, `made first: directory ${d.path} (${d.mode.toString(8)})`);
      for (const f of plan.hostPaths?.files ?? [])
        line(1, `made first: file ${f.path} (${f.mode.toString(8)})`);
      const r = config.linux?.resources;
      if (r) {
        line(1, "generateLinuxContainerResources → calculateLinuxResources");
        for (const why of containerResourceReasons(e, c, r)) line(2, why);
      }
      const sc = config.linux?.securityContext;
      if (sc) {
        // proto3 JSON leaves a zero out, which would hide that the container runs as root.
        const uid = sc.runAsUser ? `uid ${sc.runAsUser.value}` : sc.runAsUsername || "the image's user";
        line(1, `runs as: ${uid} (determineEffectiveSecurityContext)`);
        line(1, `securityContext: ${compact(toJson(LinuxContainerSecurityContextSchema, sc))}`);
      }
      line(1, "container cgroup (the runtime passes the resources to runc, which writes what is not zero)");
      for (const [file, value] of Object.entries(plan.cgroupFiles ?? {})) line(2, `${file} = ${value}`);
      if (node.cgroupVersion === "v1") {
        if (!("cpu.cfs_quota_us" in (plan.cgroupFiles ?? {})))
          line(2, "cpu.cfs_quota_us not written: -1, no limit");
        if (!("memory.limit_in_bytes" in (plan.cgroupFiles ?? {})))
          line(2, "memory.limit_in_bytes not written: no limit");
      }
      if (r) line(2, `oom_score_adj = ${r.oomScoreAdj} (of the container's processes)`);
      out.push("");
    });
  };
  containerSection("init container", "6", e.initContainers, spec.initContainers ?? []);
  containerSection("container", "8", e.containers, spec.containers);

  if (e.events.length > 0) {
    line(0, "events the kubelet would record");
    for (const ev of e.events) line(1, `${ev.type} ${ev.reason} (${ev.object}): ${ev.message}`);
    out.push("");
  }
  line(0, "notes");
  for (const note of e.notes) line(1, `- ${note}`);
  return `${out.join("\n")}\n`;
}

function bytes(n: bigint): string {
  return n === 0n ? "0" : `${n} (${binaryQuantity(n)})`;
}

function compact(value: unknown): string {
  return JSON.stringify(value);
}

function mapText(m: Record<string, string>): string {
  const entries = Object.entries(m);
  return entries.length === 0 ? "none" : entries.map(([k, v]) => `${k}=${v}`).join(" ");
}

function resourceText(list: Record<string, string | number> | undefined): string {
  const entries = Object.entries(list ?? {});
  return entries.length === 0 ? "none" : entries.map(([k, v]) => `${k}=${v}`).join(",");
}

function resourcesText(r: LinuxContainerResources): string {
  return `cpuShares ${r.cpuShares}, cpuPeriod ${r.cpuPeriod}, cpuQuota ${r.cpuQuota}, memoryLimitInBytes ${r.memoryLimitInBytes}`;
}

/** A cgroup's files; on v1 a memory limit the kernel keeps in whole pages says what it reads back as. */
function cgroupLines(c: CgroupPlan, pageSize: number, version: string, emit: (text: string) => void): void {
  const entries = Object.entries(c.files);
  if (entries.length === 0) emit("(nothing written)");
  for (const [file, value] of entries) {
    let text = `${file} = ${value}`;
    if (version === "v1" && file === "memory.limit_in_bytes" && /^[0-9]+$/.test(value)) {
      const page = BigInt(pageSize);
      const rounded = (BigInt(value) / page) * page;
      if (rounded !== BigInt(value)) text += ` (reads back as ${rounded}: the kernel keeps whole pages)`;
    }
    emit(text);
  }
}

const milli = (m: bigint) => `${m}m`;

/** Why ResourceConfigForPod gives what it gives. */
function podCgroupReasons(e: PodExplanation): string[] {
  const { pod, settings } = e;
  const r = e.cgroups?.pod.resources ?? {};
  const opts = { sidecarContainers: settings.featureGates.SidecarContainers };
  const requests = podRequests(pod, opts);
  const limits = podLimits(pod, opts);
  const reasons: string[] = [];
  if (e.qosClass === PodQOSBestEffort) {
    reasons.push(`cpuShares ${r.cpuShares}: BestEffort gets the minimum`);
    return reasons;
  }
  reasons.push(
    `cpuShares ${r.cpuShares} = MilliCPUToShares(pod CPU requests ${milli(resourceOf(requests, ResourceCPU).milliValue())})`,
  );
  if (r.cpuQuota !== undefined) {
    reasons.push(
      settings.cpuCFSQuota
        ? `cpuQuota ${r.cpuQuota} = MilliCPUToQuota(pod CPU limits ${milli(resourceOf(limits, ResourceCPU).milliValue())}, period ${r.cpuPeriod})`
        : "cpuQuota -1: cpuCFSQuota is off",
    );
  } else {
    reasons.push("cpuQuota not set: a container has no CPU limit, so the pod has none");
  }
  if (r.memory !== undefined) reasons.push(`memory ${r.memory} = pod memory limits`);
  else reasons.push("memory not set: a container has no memory limit, so the pod has none");
  if (r.pidsLimit !== undefined) reasons.push(`pidsLimit ${r.pidsLimit} = podPidsLimit`);
  return reasons;
}

/** Why generateLinuxContainerResources gives what it gives. */
function containerResourceReasons(e: PodExplanation, c: Container, r: LinuxContainerResources): string[] {
  const { settings, pod } = e;
  const node = settings.node;
  const cpuRequest = containerRequests(c)[ResourceCPU];
  const cpuLimit = containerLimits(c)[ResourceCPU];
  const memoryLimit = containerLimits(c)[ResourceMemory];
  const reasons: string[] = [];
  if (cpuRequest)
    reasons.push(`cpuShares = ${r.cpuShares}: MilliCPUToShares(request ${milli(cpuRequest.milliValue())})`);
  else if (cpuLimit)
    reasons.push(
      `cpuShares = ${r.cpuShares}: no request, MilliCPUToShares(limit ${milli(cpuLimit.milliValue())})`,
    );
  else reasons.push(`cpuShares = ${r.cpuShares}: no CPU request, the minimum`);
  if (settings.cpuCFSQuota) {
    reasons.push(`cpuPeriod = ${r.cpuPeriod}: the CFS period`);
    reasons.push(
      cpuLimit
        ? `cpuQuota = ${r.cpuQuota}: milliCPUToQuota(limit ${milli(cpuLimit.milliValue())}, ${r.cpuPeriod})`
        : `cpuQuota = ${r.cpuQuota}: no CPU limit`,
    );
  } else {
    reasons.push("cpuQuota, cpuPeriod = 0: cpuCFSQuota is off");
  }
  reasons.push(
    memoryLimit
      ? `memoryLimitInBytes = ${bytes(r.memoryLimitInBytes)}: the memory limit`
      : "memoryLimitInBytes = 0: no memory limit",
  );
  let oomWhy: string;
  if (isNodeCriticalPod(pod)) oomWhy = "a node-critical pod, as Guaranteed";
  else if (e.qosClass === PodQOSGuaranteed) oomWhy = "Guaranteed";
  else if (e.qosClass === PodQOSBestEffort) oomWhy = "BestEffort";
  else
    oomWhy = `Burstable: 1000 - 1000 × memory request ${resourceOf(containerRequests(c), ResourceMemory).value()} / node memory ${node.memoryCapacityBytes}, kept within 3..999`;
  reasons.push(`oomScoreAdj = ${r.oomScoreAdj}: GetContainerOOMScoreAdjust, ${oomWhy}`);
  reasons.push(
    `hugepageLimits: ${r.hugepageLimits.map((h) => `${h.pageSize}=${h.limit}`).join(" ") || "none"} (GetHugepageLimitsFromResources: 0 unless the container limits that size)`,
  );
  if (!node.swapControllerAvailable) reasons.push("swap: no swap controller on the node, nothing set");
  else if (node.cgroupVersion === "v1")
    reasons.push(
      `memorySwapLimitInBytes = ${r.memorySwapLimitInBytes}: no swap on cgroup v1 (memory+swap = memory)`,
    );
  else reasons.push(`memory.swap.max = ${r.unified["memory.swap.max"]}: configureContainerSwapResources`);
  const unified = Object.entries(r.unified);
  if (unified.length > 0) reasons.push(`unified: ${unified.map(([k, v]) => `${k}=${v}`).join(" ")}`);
  return reasons;
}
