// Port of kubelet 1.28 kuberuntime_sandbox.go and kuberuntime_sandbox_linux.go generatePodSandboxConfig:
// the PodSandboxConfig that RunPodSandbox receives. What upstream asks the kubelet for along the way
// is here too, as pure functions over given facts: GeneratePodHostNameAndDomain (kubelet_pods.go),
// GetPodDNS (network/dns/dns.go), MakePortMappings and HasPrivilegedContainer (container/helpers.go),
// and the apimachinery name checks they use.

import { mkdir } from "node:fs/promises";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { Container, Pod } from "kubernetes-types/core/v1.js";
import {
  type DNSConfigSchema,
  LinuxContainerResourcesSchema,
  type LinuxPodSandboxConfigSchema,
  type PodSandboxConfigSchema,
  type PortMappingSchema,
  Protocol,
  SecurityProfile_ProfileType,
} from "../../cri/gen/runtime/v1/api_pb.js";
import { BerthError, invalidArgument, kindOf, messageOf } from "../../lib/errdefs.js";
import {
  parseResourceList,
  podLimits,
  podRequests,
  ResourceCPU,
  ResourceMemory,
  resourceOf,
} from "../api/resources.js";
import type { RecordEvent } from "../events/event-recorder.js";
import { calculateLinuxResources } from "./container-linux.js";
import { newPodAnnotations, newPodLabels } from "./labels.js";
import type { KubeGenericRuntimeManager } from "./manager.js";
import { namespacesForPod } from "./security-context.js";
import type { KubeRuntimeSettings } from "./settings.js";

type PodSandboxConfig = MessageInitShape<typeof PodSandboxConfigSchema>;
type LinuxPodSandboxConfig = MessageInitShape<typeof LinuxPodSandboxConfigSchema>;
type LinuxContainerResources = MessageInitShape<typeof LinuxContainerResourcesSchema>;
type DNSConfig = MessageInitShape<typeof DNSConfigSchema>;

/** The kubelet's DNS settings (its dnsConfigurer): --cluster-dns, --cluster-domain, --resolv-conf. */
export interface DNSSettings {
  /** --cluster-dns; empty when the node has no cluster DNS. */
  clusterDNS: string[];
  /** --cluster-domain; "" for none. */
  clusterDomain: string;
  /** The text of the --resolv-conf file; undefined when the flag is "" (no host resolver). */
  resolvConf?: string;
  /** The node's IPs: without a resolv.conf, Default pods use the loopback address of their families. */
  nodeIPs: string[];
}

/** What generatePodSandboxConfig needs besides the pod: the kubelet's answers to upstream's runtimeHelper. */
export interface SandboxHostFacts {
  /** The pod's cgroup parent, from the pod container manager (GetPodCgroupParent). */
  cgroupParent: string;
  dns: DNSSettings;
  recordEvent?: RecordEvent;
}

/** generatePodSandboxConfig: the sandbox config for the pod's `attempt`-th sandbox. */
export function generatePodSandboxConfig(
  settings: KubeRuntimeSettings,
  pod: Pod,
  attempt: number,
  host: SandboxHostFacts,
): PodSandboxConfig {
  const config: PodSandboxConfig = {
    metadata: {
      name: pod.metadata?.name ?? "",
      namespace: pod.metadata?.namespace ?? "",
      uid: pod.metadata?.uid ?? "",
      attempt,
    },
    labels: newPodLabels(pod),
    annotations: newPodAnnotations(pod),
  };

  config.dnsConfig = getPodDNS(pod, host.dns, host.recordEvent);

  // A host-network pod keeps the node's hostname: the runtime leaves the UTS namespace alone.
  if (!pod.spec?.hostNetwork) {
    const [hostname, domain] = generatePodHostNameAndDomain(pod, host.dns.clusterDomain);
    config.hostname = getNodenameForKernel(hostname, domain, pod.spec?.setHostnameAsFQDN);
  }

  config.logDirectory = buildPodLogsDirectory(
    settings.podLogsRootDirectory,
    pod.metadata?.namespace ?? "",
    pod.metadata?.name ?? "",
    pod.metadata?.uid ?? "",
  );

  const portMappings: MessageInitShape<typeof PortMappingSchema>[] = [];
  for (const container of pod.spec?.containers ?? []) {
    for (const port of makePortMappings(container)) {
      portMappings.push({
        hostIp: port.hostIP,
        hostPort: port.hostPort,
        containerPort: port.containerPort,
        protocol: toRuntimeProtocol(port.protocol),
      });
    }
  }
  if (portMappings.length > 0) config.portMappings = portMappings;

  const linux = generatePodSandboxLinuxConfig(pod, host.cgroupParent);
  applySandboxResources(settings, pod, linux);
  config.linux = linux;
  return config;
}

/** generatePodSandboxLinuxConfig: cgroup parent, sysctls and the pod-level security context. */
export function generatePodSandboxLinuxConfig(pod: Pod, cgroupParent: string): LinuxPodSandboxConfig {
  const sc = pod.spec?.securityContext;
  const lc: LinuxPodSandboxConfig = {
    cgroupParent,
    securityContext: {
      privileged: hasPrivilegedContainer(pod),
      // The pause container always runs under the runtime's default profile, whatever the pod asks
      // for its own containers, so that a strict pod profile cannot break the sandbox (upstream #84623).
      seccomp: { profileType: SecurityProfile_ProfileType.RuntimeDefault },
    },
    sysctls: Object.fromEntries((sc?.sysctls ?? []).map((s) => [s.name, s.value])),
  };
  // Upstream reads namespaces only through the pod security context, which API defaulting always
  // sets; a pod without one gets the runtime's defaults.
  if (sc && lc.securityContext) {
    const lsc = lc.securityContext;
    if (sc.runAsUser !== undefined) lsc.runAsUser = { value: BigInt(sc.runAsUser) };
    if (sc.runAsGroup !== undefined) lsc.runAsGroup = { value: BigInt(sc.runAsGroup) };
    lsc.namespaceOptions = namespacesForPod(pod);
    const groups: bigint[] = [];
    if (sc.fsGroup !== undefined) groups.push(BigInt(sc.fsGroup));
    for (const group of sc.supplementalGroups ?? []) groups.push(BigInt(group));
    if (groups.length > 0) lsc.supplementalGroups = groups;
    if (sc.seLinuxOptions) {
      lsc.selinuxOptions = {
        user: sc.seLinuxOptions.user ?? "",
        role: sc.seLinuxOptions.role ?? "",
        type: sc.seLinuxOptions.type ?? "",
        level: sc.seLinuxOptions.level ?? "",
      };
    }
  }
  return lc;
}

/**
 * applySandboxResources: the pod's summed requests and limits (overhead left out) and, separately,
 * its overhead, each as container resources, so a runtime can size the sandbox.
 */
export function applySandboxResources(
  settings: KubeRuntimeSettings,
  pod: Pod,
  linux: LinuxPodSandboxConfig,
): void {
  const withoutOverhead: Pod = { ...pod, spec: pod.spec && { ...pod.spec, overhead: undefined } };
  const opts = { sidecarContainers: settings.featureGates.SidecarContainers };
  const requests = podRequests(withoutOverhead, opts);
  const limits = podLimits(withoutOverhead, opts);
  linux.resources = calculateLinuxResources(
    requests[ResourceCPU],
    resourceOf(limits, ResourceCPU),
    resourceOf(limits, ResourceMemory),
    settings,
  );
  linux.overhead = convertOverheadToLinuxResources(settings, pod);
}

// Overhead is treated as guaranteed: its request is also its limit.
function convertOverheadToLinuxResources(settings: KubeRuntimeSettings, pod: Pod): LinuxContainerResources {
  if (!pod.spec?.overhead) return create(LinuxContainerResourcesSchema);
  const overhead = parseResourceList(pod.spec.overhead);
  const cpu = resourceOf(overhead, ResourceCPU);
  return calculateLinuxResources(cpu, cpu, resourceOf(overhead, ResourceMemory), settings);
}

/** HasPrivilegedContainer: whether any init, app or ephemeral container asks to be privileged. */
export function hasPrivilegedContainer(pod: Pod): boolean {
  const spec = pod.spec;
  return [
    ...(spec?.initContainers ?? []),
    ...(spec?.containers ?? []),
    ...(spec?.ephemeralContainers ?? []),
  ].some((c) => c.securityContext?.privileged === true);
}

export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol: string;
  hostIP: string;
}

/**
 * MakePortMappings: the container's ports, skipping one whose name (or, unnamed, whose family,
 * protocol, address and ports) repeats an earlier one.
 */
export function makePortMappings(container: Container): PortMapping[] {
  const names = new Set<string>();
  const mappings: PortMapping[] = [];
  for (const p of container.ports ?? []) {
    const hostIP = p.hostIP ?? "";
    const protocol = p.protocol ?? "";
    const family = hostIP === "" ? "any" : hostIP.includes(":") ? "v6" : "v4";
    const name = p.name || `${family}-${protocol}-${hostIP}:${p.containerPort}:${p.hostPort ?? 0}`;
    if (names.has(name)) continue;
    names.add(name);
    mappings.push({ hostPort: p.hostPort ?? 0, containerPort: p.containerPort, protocol, hostIP });
  }
  return mappings;
}

function toRuntimeProtocol(protocol: string): Protocol {
  if (protocol === "UDP") return Protocol.UDP;
  if (protocol === "SCTP") return Protocol.SCTP;
  // TCP, and anything unknown, which upstream also maps to TCP.
  return Protocol.TCP;
}

/** BuildPodLogsDirectory: <root>/<namespace>_<name>_<uid>. */
export function buildPodLogsDirectory(root: string, namespace: string, name: string, uid: string): string {
  return `${root.replace(/\/+$/, "")}/${namespace}_${name}_${uid}`;
}

/**
 * GeneratePodHostNameAndDomain: the pod's hostname (spec.hostname or its name, cut to 63 characters)
 * and, with a subdomain, its domain "<subdomain>.<namespace>.svc.<cluster domain>".
 */
export function generatePodHostNameAndDomain(pod: Pod, clusterDomain: string): [string, string] {
  const podName = pod.metadata?.name ?? "";
  let hostname = podName;
  const specHostname = pod.spec?.hostname ?? "";
  if (specHostname.length > 0) {
    const msgs = isDNS1123Label(specHostname);
    if (msgs.length > 0) {
      throw invalidArgument(
        `pod Hostname ${JSON.stringify(specHostname)} is not a valid DNS label: ${msgs.join(";")}`,
      );
    }
    hostname = specHostname;
  }
  hostname = truncatePodHostnameIfNeeded(podName, hostname);

  let hostDomain = "";
  const subdomain = pod.spec?.subdomain ?? "";
  if (subdomain.length > 0) {
    const msgs = isDNS1123Label(subdomain);
    if (msgs.length > 0) {
      throw invalidArgument(
        `pod Subdomain ${JSON.stringify(subdomain)} is not a valid DNS label: ${msgs.join(";")}`,
      );
    }
    hostDomain = `${subdomain}.${pod.metadata?.namespace ?? ""}.svc.${clusterDomain}`;
  }
  return [hostname, hostDomain];
}

// The kernel keeps 64 bytes for the hostname, terminator included.
function truncatePodHostnameIfNeeded(podName: string, hostname: string): string {
  const hostnameMaxLen = 63;
  if (hostname.length <= hostnameMaxLen) return hostname;
  // A hostname may not end in '-' or '.'.
  const truncated = hostname.slice(0, hostnameMaxLen).replace(/[-.]+$/, "");
  if (truncated.length === 0) {
    throw invalidArgument(
      `hostname for pod ${JSON.stringify(podName)} was invalid: ${JSON.stringify(hostname)}`,
    );
  }
  return truncated;
}

/** GetNodenameForKernel: the hostname, or with setHostnameAsFQDN the FQDN, which must fit in 64 bytes. */
export function getNodenameForKernel(
  hostname: string,
  hostDomain: string,
  setHostnameAsFQDN?: boolean,
): string {
  if (hostDomain.length === 0 || !setHostnameAsFQDN) return hostname;
  const fqdn = `${hostname}.${hostDomain}`;
  const fqdnMaxLen = 64;
  if (fqdn.length > fqdnMaxLen) {
    throw invalidArgument(
      `failed to construct FQDN from pod hostname and cluster domain, FQDN ${fqdn} is too long (${fqdnMaxLen} characters is the max, ${fqdn.length} characters requested)`,
    );
  }
  return fqdn;
}

// ---- DNS (pkg/kubelet/network/dns/dns.go) ----

// core/validation: at most 3 nameservers (glibc's MAXNS); ExpandedDNSConfig (GA in 1.28) allows
// 32 search domains in 2048 characters.
const maxDNSNameservers = 3;
const maxDNSSearchPaths = 32;
const maxDNSSearchListChars = 2048;
const dns1123SubdomainMaxLength = 253;
const defaultDNSOptions = ["ndots:5"];

export type PodDNSType = "cluster" | "host" | "none";

/** The pod's resolver configuration by its dnsPolicy, merged with its dnsConfig and cut to the limits. */
export function getPodDNS(pod: Pod, dns: DNSSettings, recordEvent?: RecordEvent): DNSConfig {
  let config = getHostDNSConfig(dns);
  let dnsType: PodDNSType;
  try {
    dnsType = getPodDNSType(pod);
  } catch {
    // An invalid policy cannot pass the API server; upstream falls back to ClusterFirst.
    dnsType = "cluster";
  }
  switch (dnsType) {
    case "none":
      config = { servers: [], searches: [], options: [] };
      break;
    case "cluster":
      if (dns.clusterDNS.length > 0) {
        // The cluster DNS server is the pod's only nameserver; it forwards what it cannot answer.
        config.servers = [...dns.clusterDNS];
        config.searches = generateSearchesForDNSClusterFirst(config.searches ?? [], pod, dns.clusterDomain);
        config.options = [...defaultDNSOptions];
        break;
      }
      {
        const message = `kubelet does not have ClusterDNS IP configured and cannot create Pod using "ClusterFirst" policy. Falling back to "Default" policy.`;
        recordEvent?.({ object: "Node", type: "Warning", reason: "MissingClusterDNS", message });
        recordEvent?.({
          object: "Pod",
          type: "Warning",
          reason: "MissingClusterDNS",
          message: `pod: ${JSON.stringify(formatPod(pod))}. ${message}`,
        });
      }
      fallBackToHostDNS(config, dns);
      break;
    case "host":
      fallBackToHostDNS(config, dns);
      break;
  }
  const podDNSConfig = pod.spec?.dnsConfig;
  if (podDNSConfig) {
    config.servers = omitDuplicates([...(config.servers ?? []), ...(podDNSConfig.nameservers ?? [])]);
    config.searches = omitDuplicates([...(config.searches ?? []), ...(podDNSConfig.searches ?? [])]);
    config.options = mergeDNSOptions(config.options ?? [], podDNSConfig.options ?? []);
  }
  config.servers = formDNSNameserversFitsLimits(config.servers ?? [], recordEvent);
  config.searches = formDNSSearchFitsLimits(config.searches ?? [], recordEvent);
  return config;
}

// Without a resolv.conf the host's resolver is "the nameserver on the local machine", written out as
// loopback so the runtime does not fall back to copying the node's own file.
function fallBackToHostDNS(config: DNSConfig, dns: DNSSettings): void {
  if (dns.resolvConf !== undefined) return;
  const servers = dns.nodeIPs.map((ip) => (ip.includes(":") ? "::1" : "127.0.0.1"));
  config.servers = [...(config.servers ?? []), ...(servers.length > 0 ? servers : ["127.0.0.1"])];
  config.searches = ["."];
}

/** getPodDNSType: ClusterFirst falls back to Default on the host network unless it says WithHostNet. */
export function getPodDNSType(pod: Pod): PodDNSType {
  const policy = pod.spec?.dnsPolicy;
  switch (policy) {
    case "None":
      return "none";
    case "ClusterFirstWithHostNet":
      return "cluster";
    case "ClusterFirst":
      return pod.spec?.hostNetwork ? "host" : "cluster";
    case "Default":
      return "host";
    default:
      throw invalidArgument(`invalid DNSPolicy=${policy ?? ""}`);
  }
}

function getHostDNSConfig(dns: DNSSettings): DNSConfig {
  if (dns.resolvConf === undefined) return { servers: [], searches: [], options: [] };
  const parsed = parseResolvConf(dns.resolvConf);
  return { servers: parsed.nameservers, searches: parsed.searches, options: parsed.options };
}

export interface ResolvConf {
  nameservers: string[];
  searches: string[];
  options: string[];
}

/**
 * parseResolvConf: nameserver lines add up, the last search and options lines win. A nameserver line
 * without an address is an error, reported after the whole file is read.
 */
export function parseResolvConf(text: string): ResolvConf {
  const result: ResolvConf = { nameservers: [], searches: [], options: [] };
  const errors: string[] = [];
  for (const line of text.split("\n")) {
    const trimmed = line.trim();
    if (trimmed.startsWith("#")) continue;
    const fields = trimmed.split(/\s+/).filter((f) => f !== "");
    if (fields.length === 0) continue;
    const [keyword, ...rest] = fields;
    if (keyword === "nameserver") {
      if (rest[0] !== undefined) result.nameservers.push(rest[0]);
      else errors.push("nameserver list is empty ");
    }
    // "foo." and "foo" are one domain; counting it once keeps the search list within its limits.
    if (keyword === "search")
      result.searches = rest.filter((s) => s !== ".").map((s) => s.replace(/\.$/, ""));
    if (keyword === "options") result.options = rest;
  }
  if (errors.length === 1) throw invalidArgument(errors[0] as string);
  if (errors.length > 1) throw invalidArgument(`[${errors.join(", ")}]`);
  return result;
}

function generateSearchesForDNSClusterFirst(hostSearch: string[], pod: Pod, clusterDomain: string): string[] {
  if (clusterDomain === "") return hostSearch;
  const nsSvcDomain = `${pod.metadata?.namespace ?? ""}.svc.${clusterDomain}`;
  return omitDuplicates([nsSvcDomain, `svc.${clusterDomain}`, clusterDomain, ...hostSearch]);
}

function omitDuplicates(values: string[]): string[] {
  return [...new Set(values)];
}

/**
 * mergeDNSOptions: options by name, the pod's dnsConfig replacing the base's. Upstream builds them
 * through a Go map, so its order varies from call to call; berth keeps first-seen order.
 */
export function mergeDNSOptions(
  existing: string[],
  podOptions: { name?: string; value?: string }[],
): string[] {
  const options = new Map<string, string>();
  for (const op of existing) {
    const index = op.indexOf(":");
    if (index === -1) options.set(op, "");
    else options.set(op.slice(0, index), op.slice(index + 1));
  }
  for (const op of podOptions) options.set(op.name ?? "", op.value ?? "");
  return [...options].map(([name, value]) => (value === "" ? name : `${name}:${value}`));
}

/** formDNSNameserversFitsLimits: the first three nameservers, with a warning when more were given. */
export function formDNSNameserversFitsLimits(nameservers: string[], recordEvent?: RecordEvent): string[] {
  if (nameservers.length <= maxDNSNameservers) return nameservers;
  const kept = nameservers.slice(0, maxDNSNameservers);
  recordEvent?.({
    object: "Pod",
    type: "Warning",
    reason: "DNSConfigForming",
    message: `Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: ${kept.join(" ")}`,
  });
  return kept;
}

/**
 * formDNSSearchFitsLimits: at most 32 domains, none longer than 253 characters (glibc aborts on
 * longer ones), and a search line of at most 2048 characters, cut from the end.
 */
export function formDNSSearchFitsLimits(search: string[], recordEvent?: RecordEvent): string[] {
  let exceeded = false;
  let composed = search;
  if (composed.length > maxDNSSearchPaths) {
    composed = composed.slice(0, maxDNSSearchPaths);
    exceeded = true;
  }
  const fitting = composed.filter((s) => s.length <= dns1123SubdomainMaxLength);
  if (fitting.length !== composed.length) exceeded = true;
  composed = fitting;
  const lineLength = composed.join(" ").length;
  if (lineLength > maxDNSSearchListChars) {
    let cutLength = 0;
    let cutCount = 0;
    for (let i = composed.length - 1; i >= 0; i--) {
      cutLength += (composed[i] as string).length + 1;
      cutCount++;
      if (lineLength - cutLength <= maxDNSSearchListChars) break;
    }
    composed = composed.slice(0, composed.length - cutCount);
    exceeded = true;
  }
  if (exceeded) {
    recordEvent?.({
      object: "Pod",
      type: "Warning",
      reason: "DNSConfigForming",
      message: `Search Line limits were exceeded, some search paths have been omitted, the applied search line is: ${composed.join(" ")}`,
    });
  }
  return composed;
}

/** format.Pod: "<name>_<namespace>(<uid>)", how the kubelet names a pod in messages. */
export function formatPod(pod: Pod): string {
  return `${pod.metadata?.name ?? ""}_${pod.metadata?.namespace ?? ""}(${pod.metadata?.uid ?? ""})`;
}

// ---- Name checks (apimachinery/pkg/util/validation), with upstream's messages ----

const dns1123LabelFmt = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const dns1123SubdomainFmt = `${dns1123LabelFmt}(\\.${dns1123LabelFmt})*`;
const qualifiedNameFmt = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const dns1123LabelRe = new RegExp(`^${dns1123LabelFmt}$`);
const dns1123SubdomainRe = new RegExp(`^${dns1123SubdomainFmt}$`);
const qualifiedNameRe = new RegExp(`^${qualifiedNameFmt}$`);
const qualifiedNameErrMsg =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

function regexError(msg: string, fmt: string, ...examples: string[]): string {
  if (examples.length === 0) return `${msg} (regex used for validation is '${fmt}')`;
  return `${msg} (e.g. ${examples.map((e) => `'${e}', `).join(" or ")}regex used for validation is '${fmt}')`;
}

const maxLenError = (length: number) => `must be no more than ${length} characters`;

export function isDNS1123Label(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 63) errs.push(maxLenError(63));
  if (!dns1123LabelRe.test(value)) {
    errs.push(
      regexError(
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
        dns1123LabelFmt,
        "my-name",
        "123-abc",
      ),
    );
  }
  return errs;
}

export function isDNS1123Subdomain(value: string): string[] {
  const errs: string[] = [];
  if (value.length > dns1123SubdomainMaxLength) errs.push(maxLenError(dns1123SubdomainMaxLength));
  if (!dns1123SubdomainRe.test(value)) {
    errs.push(
      regexError(
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
        dns1123SubdomainFmt,
        "example.com",
      ),
    );
  }
  return errs;
}

/** IsQualifiedName: a label or annotation key, "[prefix/]name". */
export function isQualifiedName(value: string): string[] {
  const errs: string[] = [];
  const parts = value.split("/");
  let name: string;
  if (parts.length === 1) {
    name = parts[0] as string;
  } else if (parts.length === 2) {
    const prefix = parts[0] as string;
    name = parts[1] as string;
    if (prefix.length === 0) errs.push("prefix part must be non-empty");
    else errs.push(...isDNS1123Subdomain(prefix).map((m) => `prefix part ${m}`));
  } else {
    return [
      `a qualified name ${regexError(qualifiedNameErrMsg, qualifiedNameFmt, "MyName", "my.name", "123-abc")} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ];
  }
  if (name.length === 0) errs.push("name part must be non-empty");
  else if (name.length > 63) errs.push(`name part ${maxLenError(63)}`);
  if (!qualifiedNameRe.test(name)) {
    errs.push(
      `name part ${regexError(qualifiedNameErrMsg, qualifiedNameFmt, "MyName", "my.name", "123-abc")}`,
    );
  }
  return errs;
}

// ---- createPodSandbox (kuberuntime_sandbox.go) ----

/**
 * createPodSandbox: the sandbox config, the pod's log directory, then CRI RunPodSandbox.
 * Resolves with the new sandbox's id; fails with upstream's message.
 */
export async function createPodSandbox(
  m: KubeGenericRuntimeManager,
  pod: Pod,
  attempt: number,
): Promise<string> {
  const { deps } = m;
  let config: PodSandboxConfig;
  try {
    config = generatePodSandboxConfig(deps.settings, pod, attempt, {
      cgroupParent: deps.host.cgroupParent(pod),
      dns: deps.host.dns,
      recordEvent: deps.recorder.forPod(pod),
    });
  } catch (err) {
    throw new BerthError(
      kindOf(err),
      `Failed to generate sandbox config for pod ${JSON.stringify(formatPod(pod))}: ${messageOf(err)}`,
    );
  }
  try {
    await mkdir(config.logDirectory ?? "", { recursive: true, mode: 0o755 });
  } catch (err) {
    throw new BerthError(
      kindOf(err),
      `Failed to create log directory for pod ${JSON.stringify(formatPod(pod))}: ${messageOf(err)}`,
    );
  }
  try {
    const { podSandboxId } = await deps.runtime.runPodSandbox({ config, runtimeHandler: "" });
    return podSandboxId;
  } catch (err) {
    throw new BerthError(
      kindOf(err),
      `Failed to create sandbox for pod ${JSON.stringify(formatPod(pod))}: ${messageOf(err)}`,
    );
  }
}
