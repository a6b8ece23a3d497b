// The kubelet's config file (kubelet.config.k8s.io/v1beta1 KubeletConfiguration) as kubelet 1.28 reads
// it: defaults from pkg/kubelet/apis/config/v1beta1/defaults.go, checks from
// pkg/kubelet/apis/config/validation/validation.go, relative paths resolved against the file's directory
// (kubeletconfig/configfiles). Only the fields berth acts on are typed; any other field is reported for
// one warning, as the kubelet's lenient decoding does when strict decoding fails on unknown fields.

import { readFile } from "node:fs/promises";
import { BlockList, isIP } from "node:net";
import { dirname, isAbsolute, normalize, resolve } from "node:path";
import { parseDocument } from "yaml";
import { DefaultEndpoint, socketPath } from "../../cri/endpoint.js";
import { parseDuration } from "../../lib/duration.js";
import { invalidArgument, messageOf } from "../../lib/errdefs.js";
import { parseQuantity, type Quantity } from "../api/quantity.js";
import type { ResourceList } from "../api/resources.js";
import { type FeatureGates, featureGates } from "../features/features.js";
import type { KubeRuntimeSettings, NodeFacts } from "../kuberuntime/settings.js";

export const KubeletConfigurationAPIVersion = "kubelet.config.k8s.io/v1beta1";
export const KubeletConfigurationKind = "KubeletConfiguration";
export const DefaultRootDir = "/var/lib/kubelet";
export const DefaultPodLogsDir = "/var/log/pods";

/** A duration in milliseconds (the file writes Go durations: "100ms", "1m30s"). */
export type Milliseconds = number;

export type SwapBehavior = "" | "LimitedSwap" | "UnlimitedSwap";
export type HairpinMode = "promiscuous-bridge" | "hairpin-veth" | "none";

/** An eviction threshold: an amount, or a percentage of capacity (0 < percentage ≤ 100). */
export type EvictionThresholdValue = { quantity: Quantity } | { percentage: number };

export interface KubeletConfiguration {
  /** Directory (or single file) of static pod manifests; "" for none. */
  staticPodPath: string;
  syncFrequency: Milliseconds;
  fileCheckFrequency: Milliseconds;
  address: string;
  port: number;
  /** 0 disables the read-only port. */
  readOnlyPort: number;
  /** 0 disables the healthz endpoint. */
  healthzPort: number;
  healthzBindAddress: string;
  registryPullQPS: number;
  registryBurst: number;
  serializeImagePulls: boolean;
  /** Unset (undefined) unless the file sets it. */
  maxParallelImagePulls?: number;
  /** Hard eviction thresholds by signal; berth evicts on memory.available only. */
  evictionHard: { "memory.available"?: EvictionThresholdValue };
  imageMinimumGCAge: Milliseconds;
  imageGCHighThresholdPercent: number;
  imageGCLowThresholdPercent: number;
  clusterDomain: string;
  clusterDNS: string[];
  /** The resolver file pods with dnsPolicy Default copy; "" for none. */
  resolvConf: string;
  nodeStatusUpdateFrequency: Milliseconds;
  runtimeRequestTimeout: Milliseconds;
  /** Read and checked; berth's bridge network does not act on it. */
  hairpinMode: HairpinMode;
  maxPods: number;
  /** -1: pods are limited only by the node. */
  podPidsLimit: number;
  /** The cgroup the kubepods hierarchy sits under; "/" is the root. */
  cgroupRoot: string;
  cgroupsPerQOS: boolean;
  /** berth drives cgroupfs only: there is no systemd to ask for slices. */
  cgroupDriver: "cgroupfs";
  cpuCFSQuota: boolean;
  cpuCFSQuotaPeriod: Milliseconds;
  memorySwap: { swapBehavior: SwapBehavior };
  memoryThrottlingFactor: number;
  featureGates: FeatureGates;
  kubeReserved: ResourceList;
  systemReserved: ResourceList;
  kubeReservedCgroup: string;
  systemReservedCgroup: string;
  enforceNodeAllocatable: string[];
  /** In bytes. */
  containerLogMaxSize: number;
  containerLogMaxFiles: number;
  /** From v1beta1 of kubelet 1.30: how often logs are checked for rotation (1.28 always 10s). */
  containerLogMonitorInterval: Milliseconds;
  seccompDefault: boolean;
  containerRuntimeEndpoint: string;
  /** "" to use containerRuntimeEndpoint. */
  imageServiceEndpoint: string;
  /** From v1beta1 of kubelet 1.29; 1.28 always writes /var/log/pods. */
  podLogsDir: string;
  /** The kubelet's --root-dir: pod directories, berth's local API store. A flag, not a file field. */
  rootDir: string;
}

/** What the command line sets besides the file (the kubelet's flags that are not config fields). */
export interface KubeletFlags {
  rootDir?: string;
}

export interface LoadedKubeletConfiguration {
  config: KubeletConfiguration;
  /** The file read, if any. */
  path?: string;
  /** Fields berth does not know, duplicate keys: one warning each, as the lenient decoder logs. */
  warnings: string[];
}

/** The configuration with no file: kubelet 1.28's defaults, berth's runtime endpoint. */
export function defaultKubeletConfiguration(): KubeletConfiguration {
  return {
    staticPodPath: "",
    syncFrequency: 60_000,
    fileCheckFrequency: 20_000,
    // Upstream listens on every address; berth has no authentication, so loopback only.
    address: "127.0.0.1",
    port: 10250,
    readOnlyPort: 0,
    healthzPort: 10248,
    healthzBindAddress: "127.0.0.1",
    registryPullQPS: 5,
    registryBurst: 10,
    serializeImagePulls: true,
    // Of upstream's four default signals, memory.available is the one berth watches.
    evictionHard: { "memory.available": { quantity: parseQuantity("100Mi") } },
    imageMinimumGCAge: 120_000,
    imageGCHighThresholdPercent: 85,
    imageGCLowThresholdPercent: 80,
    clusterDomain: "",
    clusterDNS: [],
    resolvConf: "/etc/resolv.conf",
    nodeStatusUpdateFrequency: 10_000,
    runtimeRequestTimeout: 120_000,
    hairpinMode: "promiscuous-bridge",
    maxPods: 110,
    podPidsLimit: -1,
    cgroupRoot: "/",
    cgroupsPerQOS: true,
    cgroupDriver: "cgroupfs",
    cpuCFSQuota: true,
    cpuCFSQuotaPeriod: 100,
    memorySwap: { swapBehavior: "" },
    memoryThrottlingFactor: 0.9,
    featureGates: featureGates(),
    kubeReserved: {},
    systemReserved: {},
    kubeReservedCgroup: "",
    systemReservedCgroup: "",
    enforceNodeAllocatable: ["pods"],
    containerLogMaxSize: 10 * 1024 * 1024,
    containerLogMaxFiles: 5,
    containerLogMonitorInterval: 10_000,
    seccompDefault: false,
    // Upstream defaults to containerd's socket; berth's kubelet talks to berth's runtime.
    containerRuntimeEndpoint: DefaultEndpoint,
    imageServiceEndpoint: "",
    podLogsDir: DefaultPodLogsDir,
    rootDir: DefaultRootDir,
  };
}

/** Reads the file at `path` (none: the defaults) and applies the flags over it. */
export async function loadKubeletConfiguration(
  path?: string,
  flags: KubeletFlags = {},
): Promise<LoadedKubeletConfiguration> {
  let loaded: { config: KubeletConfiguration; warnings: string[] } = {
    config: defaultKubeletConfiguration(),
    warnings: [],
  };
  if (path !== undefined) {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (err) {
      const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
      throw invalidArgument(`kubelet config ${path}: ${missing ? "no such file" : messageOf(err)}`);
    }
    loaded = parseKubeletConfiguration(text, path);
  }
  const config = loaded.config;
  // Flags are taken relative to the working directory, as a shell user expects.
  if (flags.rootDir !== undefined) config.rootDir = resolve(flags.rootDir);
  return { config, path, warnings: loaded.warnings };
}

type Raw = Record<string, unknown>;

/**
 * One field's reader: the value to store given the file's value and the current (default) one, or
 * BadValue thrown saying what was wanted. Nested fields it does not know go to `unknown`.
 */
type Reader<T> = (raw: unknown, current: T, unknown: string[]) => T;
type Readers = { [K in keyof KubeletConfiguration]?: Reader<KubeletConfiguration[K]> };

class BadValue extends Error {}
const want = (what: string, got: unknown): never => {
  throw new BadValue(`want ${what}, got ${show(got)}`);
};

/** Parses a KubeletConfiguration document; `file` names it in errors and anchors relative paths. */
export function parseKubeletConfiguration(
  text: string,
  file: string,
): { config: KubeletConfiguration; warnings: string[] } {
  const where = `kubelet config ${file}`;
  // YAML 1.1, as the kubelet's decoder (go-yaml v2) reads it: 0644 is octal, yes/no are booleans.
  const doc = parseDocument(text, { version: "1.1", uniqueKeys: true });
  const warnings: string[] = [];
  for (const e of doc.errors) {
    const at = e.linePos?.[0] ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : "";
    const reason = e.message.split(" at line")[0] ?? e.message;
    if (e.code === "DUPLICATE_KEY") {
      const line = text.split("\n")[(e.linePos?.[0]?.line ?? 0) - 1] ?? "";
      const key = /^\s*"?([^":\s]+)/.exec(line)?.[1] ?? "";
      warnings.push(`${where}: ${at}: duplicate field ${key}: the last one is used`);
    } else throw invalidArgument(`${where}: ${at}: ${reason}`);
  }
  const raw = doc.toJS({ mapAsMap: false }) as unknown;
  if (!isObject(raw)) throw invalidArgument(`${where}: want a KubeletConfiguration object, got ${show(raw)}`);
  if (raw.kind !== KubeletConfigurationKind || raw.apiVersion !== KubeletConfigurationAPIVersion) {
    throw invalidArgument(
      `${where}: want apiVersion ${KubeletConfigurationAPIVersion} and kind ${KubeletConfigurationKind}, got apiVersion ${show(raw.apiVersion)} and kind ${show(raw.kind)}`,
    );
  }

  const config = defaultKubeletConfiguration();
  const unknown: string[] = [];
  const problems: string[] = [];
  for (const [key, value] of Object.entries(raw)) {
    if (key === "apiVersion" || key === "kind") continue;
    if (!Object.hasOwn(readers, key)) {
      unknown.push(key);
      continue;
    }
    const field = key as keyof Readers;
    try {
      const read = readers[field] as Reader<unknown>;
      (config as unknown as Record<string, unknown>)[field] = read(value, config[field], unknown);
    } catch (err) {
      if (!(err instanceof BadValue)) throw err;
      problems.push(`${key}: ${err.message}`);
    }
  }
  if (problems.length === 0) {
    // Setting a parallel limit alone turns serial pulls off, as upstream's default does.
    if (!("serializeImagePulls" in raw) && (config.maxParallelImagePulls ?? 0) >= 2) {
      config.serializeImagePulls = false;
    }
    resolveRelativePaths(config, raw, dirname(file));
    problems.push(...validateKubeletConfiguration(config));
  }
  if (problems.length > 0) throw invalidArgument(`${where}: ${problems.join("; ")}`);
  if (unknown.length > 0) {
    warnings.push(`${where}: fields berth does not read, ignored: ${unknown.join(", ")}`);
  }
  return { config, warnings };
}

// ---- Field readers ----

function isObject(raw: unknown): raw is Raw {
  return typeof raw === "object" && raw !== null && !Array.isArray(raw);
}

function show(value: unknown): string {
  if (value === undefined) return "nothing";
  if (isObject(value)) return "an object";
  return JSON.stringify(value) ?? String(value);
}

function str(raw: unknown): string {
  return typeof raw === "string" ? raw : want("a string", raw);
}

function bool(raw: unknown): boolean {
  return typeof raw === "boolean" ? raw : want("true or false", raw);
}

function int(raw: unknown): number {
  return typeof raw === "number" && Number.isSafeInteger(raw) ? raw : want("an integer", raw);
}

function num(raw: unknown): number {
  return typeof raw === "number" && Number.isFinite(raw) ? raw : want("a number", raw);
}

/** metav1.Duration: a Go duration string; a bare number has no unit and Go rejects it. */
function duration(raw: unknown): Milliseconds {
  if (typeof raw !== "string" || !(raw === "0" || /[a-zµ]$/.test(raw))) {
    return want('a duration such as "100ms", "20s" or "1m"', raw);
  }
  try {
    return parseDuration(raw);
  } catch {
    return want('a duration such as "100ms", "20s" or "1m"', raw);
  }
}

function stringList(raw: unknown): string[] {
  if (!Array.isArray(raw) || !raw.every((v) => typeof v === "string")) return want("a list of strings", raw);
  return raw;
}

function ipAddress(raw: unknown): string {
  const s = str(raw);
  return isIP(s) ? s : want("an IP address", raw);
}

function oneOf<T extends string>(values: readonly T[]) {
  return (raw: unknown): T =>
    (values as readonly unknown[]).includes(raw)
      ? (raw as T)
      : want(`one of ${values.map((v) => JSON.stringify(v)).join(", ")}`, raw);
}

function endpoint(raw: unknown): string {
  const s = str(raw);
  try {
    socketPath(s);
  } catch (err) {
    return want(`a unix:// endpoint (${messageOf(err)})`, raw);
  }
  return s;
}

function quantityOf(raw: unknown): Quantity {
  if (typeof raw !== "string" && typeof raw !== "number") return want("a quantity", raw);
  try {
    return parseQuantity(raw);
  } catch (err) {
    return want(`a quantity (${messageOf(err)})`, raw);
  }
}

// cmd/kubelet/app/server.go parseResourceList: what kubeReserved and systemReserved may hold.
const reservableResources = ["cpu", "memory", "ephemeral-storage", "pid"];

function reservedResources(raw: unknown): ResourceList {
  if (!isObject(raw)) return want("a map of resource name to quantity", raw);
  const list: ResourceList = {};
  for (const [name, amount] of Object.entries(raw)) {
    if (!reservableResources.includes(name)) {
      throw new BadValue(
        `cannot reserve ${JSON.stringify(name)} (reservable: ${reservableResources.join(", ")})`,
      );
    }
    const q = quantityOf(amount);
    if (q.nanos < 0n) throw new BadValue(`resource quantity for ${JSON.stringify(name)} cannot be negative`);
    list[name] = q;
  }
  return list;
}

// pkg/kubelet/eviction/api: the signals the kubelet knows; berth watches memory.available only.
const evictionSignals = [
  "memory.available",
  "nodefs.available",
  "nodefs.inodesFree",
  "imagefs.available",
  "imagefs.inodesFree",
  "pid.available",
  "allocatableMemory.available",
];

/** eviction.parseThresholdStatement: "100Mi" or "10%"; zero disables the signal. */
function evictionValue(signal: string, raw: unknown): EvictionThresholdValue | undefined {
  const text = typeof raw === "number" ? String(raw) : str(raw);
  if (text.endsWith("%")) {
    const percentage = Number(text.slice(0, -1));
    if (text === "%" || !Number.isFinite(percentage)) return want("a percentage such as 10%", raw);
    if (percentage < 0 || percentage > 100) {
      throw new BadValue(`eviction percentage threshold ${signal} must be between 0% and 100%: ${text}`);
    }
    return percentage === 0 ? undefined : { percentage };
  }
  const quantity = quantityOf(text);
  if (quantity.nanos <= 0n) throw new BadValue(`eviction threshold ${signal} must be positive: ${text}`);
  return { quantity };
}

/** Zero stands for "unset" in these fields, so it keeps the default (upstream's zero-value checks). */
function zeroIsDefault<T extends number>(read: (raw: unknown) => T): Reader<T> {
  return (raw, current) => read(raw) || current;
}

function emptyIsDefault<T extends string>(read: (raw: unknown) => T): Reader<T> {
  return (raw, current) => (raw === "" ? current : read(raw));
}

/** Each known field's reader, by the file's field name. */
const readers: Readers = {
  staticPodPath: str,
  syncFrequency: zeroIsDefault(duration),
  fileCheckFrequency: zeroIsDefault(duration),
  address: emptyIsDefault(ipAddress),
  port: zeroIsDefault(int),
  readOnlyPort: int,
  healthzPort: int,
  healthzBindAddress: emptyIsDefault(ipAddress),
  registryPullQPS: int,
  registryBurst: zeroIsDefault(int),
  serializeImagePulls: bool,
  maxParallelImagePulls: int,
  evictionHard: (raw) => {
    if (!isObject(raw)) return want("a map of eviction signal to threshold", raw);
    // As in 1.28, a map in the file replaces the defaults: a signal it leaves out has no threshold.
    const thresholds: KubeletConfiguration["evictionHard"] = {};
    for (const [signal, threshold] of Object.entries(raw)) {
      if (!evictionSignals.includes(signal))
        throw new BadValue(`unknown eviction signal ${JSON.stringify(signal)}`);
      const value = evictionValue(signal, threshold);
      if (signal === "memory.available" && value) thresholds[signal] = value;
    }
    return thresholds;
  },
  imageMinimumGCAge: zeroIsDefault(duration),
  imageGCHighThresholdPercent: int,
  imageGCLowThresholdPercent: int,
  clusterDomain: str,
  clusterDNS: (raw) => stringList(raw).map(ipAddress),
  resolvConf: str,
  nodeStatusUpdateFrequency: zeroIsDefault(duration),
  runtimeRequestTimeout: zeroIsDefault(duration),
  hairpinMode: emptyIsDefault(oneOf<HairpinMode>(["promiscuous-bridge", "hairpin-veth", "none"])),
  maxPods: zeroIsDefault(int),
  podPidsLimit: (raw) => Math.max(int(raw), -1),
  cgroupRoot: emptyIsDefault(str),
  cgroupsPerQOS: bool,
  cgroupDriver: (raw, current) => {
    if (raw === "systemd") {
      throw new BadValue('"systemd" is not supported: berth runs without systemd, use "cgroupfs"');
    }
    return raw === "" ? current : oneOf(["cgroupfs"] as const)(raw);
  },
  cpuCFSQuota: bool,
  cpuCFSQuotaPeriod: duration,
  memorySwap: (raw, current, unknown) => {
    if (!isObject(raw)) return want("an object with swapBehavior", raw);
    const { swapBehavior, ...rest } = raw;
    unknown.push(...Object.keys(rest).map((k) => `memorySwap.${k}`));
    return swapBehavior === undefined ? current : { swapBehavior: str(swapBehavior) as SwapBehavior };
  },
  memoryThrottlingFactor: num,
  featureGates: (raw) => {
    if (!isObject(raw) || !Object.values(raw).every((g) => typeof g === "boolean")) {
      return want("a map of feature gate name to true or false", raw);
    }
    try {
      return featureGates(raw as Record<string, boolean>);
    } catch (err) {
      throw new BadValue(messageOf(err));
    }
  },
  kubeReserved: reservedResources,
  systemReserved: reservedResources,
  kubeReservedCgroup: str,
  systemReservedCgroup: str,
  enforceNodeAllocatable: stringList,
  containerLogMaxSize: (raw) => {
    const q = quantityOf(raw);
    if (q.nanos <= 0n) throw new BadValue(`must be positive, got ${show(raw)}`);
    return Number(q.value());
  },
  containerLogMaxFiles: int,
  containerLogMonitorInterval: duration,
  seccompDefault: bool,
  containerRuntimeEndpoint: endpoint,
  imageServiceEndpoint: (raw) => (raw === "" ? "" : endpoint(raw)),
  podLogsDir: emptyIsDefault(str),
};

/** configfiles.resolveRelativePaths: paths in the file are relative to the file's directory. */
function resolveRelativePaths(config: KubeletConfiguration, raw: Raw, dir: string): void {
  if (config.staticPodPath !== "") config.staticPodPath = resolve(dir, config.staticPodPath);
  if (config.resolvConf !== "" && "resolvConf" in raw) config.resolvConf = resolve(dir, config.resolvConf);
}

/** ValidateKubeletConfiguration, for the fields berth reads; messages as upstream's. */
function validateKubeletConfiguration(c: KubeletConfiguration): string[] {
  const errs: string[] = [];
  const gates = c.featureGates;
  if (!c.cgroupsPerQOS && c.enforceNodeAllocatable.length > 0) {
    errs.push("enforceNodeAllocatable: is not supported unless cgroupsPerQOS is set to true (set it to [])");
  }
  if (!isAbsolute(c.cgroupRoot))
    errs.push(`cgroupRoot: want an absolute cgroup path, got ${show(c.cgroupRoot)}`);
  // berth's HTTP endpoints have no authentication or authorization: they are served on loopback only.
  for (const [field, addr, served] of [
    ["address", c.address, c.readOnlyPort !== 0],
    ["healthzBindAddress", c.healthzBindAddress, c.healthzPort !== 0],
  ] as const) {
    if (served && !isLoopback(addr)) {
      errs.push(
        `${field}: ${show(addr)} is not a loopback address; berth's kubelet has no authentication or authorization and serves HTTP on loopback only (127.0.0.1 or ::1)`,
      );
    }
  }
  if (c.healthzPort !== 0 && !isPort(c.healthzPort)) {
    errs.push(`healthzPort: ${c.healthzPort} must be between 1 and 65535, inclusive`);
  }
  if (!isPort(c.port)) errs.push(`port: ${c.port} must be between 1 and 65535, inclusive`);
  if (c.readOnlyPort !== 0 && !isPort(c.readOnlyPort)) {
    errs.push(`readOnlyPort: ${c.readOnlyPort} must be between 0 and 65535, inclusive`);
  }
  if (!gates.CustomCPUCFSQuotaPeriod && c.cpuCFSQuotaPeriod !== 100) {
    errs.push(`cpuCFSQuotaPeriod: ${c.cpuCFSQuotaPeriod}ms requires feature gate CustomCPUCFSQuotaPeriod`);
  }
  if (gates.CustomCPUCFSQuotaPeriod && (c.cpuCFSQuotaPeriod < 1 || c.cpuCFSQuotaPeriod > 1000)) {
    errs.push(`cpuCFSQuotaPeriod: ${c.cpuCFSQuotaPeriod}ms must be between 1ms and 1sec, inclusive`);
  }
  for (const [field, value] of [
    ["imageGCHighThresholdPercent", c.imageGCHighThresholdPercent],
    ["imageGCLowThresholdPercent", c.imageGCLowThresholdPercent],
  ] as const) {
    if (value < 0 || value > 100) errs.push(`${field}: ${value} must be between 0 and 100, inclusive`);
  }
  if (c.imageGCLowThresholdPercent >= c.imageGCHighThresholdPercent) {
    errs.push(
      `imageGCLowThresholdPercent: ${c.imageGCLowThresholdPercent} must be less than imageGCHighThresholdPercent ${c.imageGCHighThresholdPercent}`,
    );
  }
  if (c.maxPods < 0) errs.push(`maxPods: ${c.maxPods} must not be a negative number`);
  if (c.registryPullQPS < 0) errs.push(`registryPullQPS: ${c.registryPullQPS} must not be a negative number`);
  if (c.registryBurst < 0) errs.push(`registryBurst: ${c.registryBurst} must not be a negative number`);
  if (c.maxParallelImagePulls !== undefined) {
    if (c.maxParallelImagePulls < 1) {
      errs.push(`maxParallelImagePulls: ${c.maxParallelImagePulls} must be a positive number`);
    }
    if (c.serializeImagePulls && c.maxParallelImagePulls > 1) {
      errs.push("maxParallelImagePulls: cannot be larger than 1 unless serializeImagePulls is set to false");
    }
  }
  if (gates.NodeSwap) {
    if (!["", "LimitedSwap", "UnlimitedSwap"].includes(c.memorySwap.swapBehavior)) {
      errs.push(
        `memorySwap.swapBehavior: ${show(c.memorySwap.swapBehavior)} must be one of: "", "LimitedSwap", or "UnlimitedSwap"`,
      );
    }
  } else if (c.memorySwap.swapBehavior !== "") {
    errs.push("memorySwap.swapBehavior: cannot be set when NodeSwap feature flag is disabled");
  }
  if (c.memoryThrottlingFactor <= 0 || c.memoryThrottlingFactor > 1) {
    errs.push(
      `memoryThrottlingFactor: ${c.memoryThrottlingFactor} must be greater than 0 and less than or equal to 1.0`,
    );
  }
  errs.push(...validateEnforceNodeAllocatable(c));
  // NewContainerLogManager: rotation needs a current file and at least one rotated one.
  if (c.containerLogMaxFiles <= 1)
    errs.push(`containerLogMaxFiles: ${c.containerLogMaxFiles} must be greater than 1`);
  if (c.containerLogMonitorInterval < 3000) {
    errs.push("containerLogMonitorInterval: must be a positive time duration greater than or equal to 3s");
  }
  if (!isAbsolute(c.podLogsDir) || cleanPath(c.podLogsDir) !== c.podLogsDir) {
    errs.push(`podLogsDir: ${show(c.podLogsDir)} must be an absolute, normalized path`);
  }
  return errs;
}

/** Go's filepath.Clean, which the check for a normalized path compares with. */
function cleanPath(path: string): string {
  const n = normalize(path);
  return n.length > 1 && n.endsWith("/") ? n.slice(0, -1) : n;
}

function isPort(n: number): boolean {
  return n >= 1 && n <= 65535;
}

const loopback = new BlockList();
loopback.addSubnet("127.0.0.0", 8, "ipv4");
loopback.addAddress("::1", "ipv6");

function isLoopback(ip: string): boolean {
  return loopback.check(ip, isIP(ip) === 6 ? "ipv6" : "ipv4");
}

function validateEnforceNodeAllocatable(c: KubeletConfiguration): string[] {
  const errs: string[] = [];
  for (const value of c.enforceNodeAllocatable) {
    switch (value) {
      case "pods":
        break;
      case "system-reserved":
        if (c.systemReservedCgroup === "") {
          errs.push(
            'systemReservedCgroup: must be specified when "system-reserved" is in enforceNodeAllocatable',
          );
        }
        break;
      case "kube-reserved":
        if (c.kubeReservedCgroup === "") {
          errs.push(
            'kubeReservedCgroup: must be specified when "kube-reserved" is in enforceNodeAllocatable',
          );
        }
        break;
      case "none":
        if (c.enforceNodeAllocatable.length > 1) {
          errs.push(
            'enforceNodeAllocatable: may not contain additional enforcements when "none" is specified',
          );
        }
        break;
      default:
        errs.push(
          `enforceNodeAllocatable: option ${show(value)} is not valid; valid options are "pods", "system-reserved", "kube-reserved" or "none"`,
        );
    }
  }
  return errs;
}

/** The kuberuntime manager's settings from the configuration and the node's facts. */
export function kubeRuntimeSettings(config: KubeletConfiguration, node: NodeFacts): KubeRuntimeSettings {
  return {
    cpuCFSQuota: config.cpuCFSQuota,
    cpuCFSQuotaPeriodUs: Math.round(config.cpuCFSQuotaPeriod * 1000),
    memorySwapBehavior: config.memorySwap.swapBehavior,
    memoryThrottlingFactor: config.memoryThrottlingFactor,
    seccompDefault: config.seccompDefault,
    podLogsRootDirectory: config.podLogsDir,
    featureGates: config.featureGates,
    node,
  };
}
