// The spec options sandbox and container specs share, after containerd 1.6: oci/spec.go
// (populateDefaultUnixSpec), oci/spec_opts.go (WithEnv, WithLinuxNamespace, the capability
// options, WithPrivileged, WithHostDevices), oci/utils_unix.go (getDevices, DeviceFromPath),
// pkg/cap (Current), pkg/cri/opts/spec_linux.go (WithCapabilities, WithDevices, WithResources,
// WithOOMScoreAdj, WithSysctls, WithoutNamespace) and pkg/cri/server (getPassthroughAnnotations,
// the security profile choice). Each option changes a spec in place, as containerd's SpecOpts do;
// the builders in sandbox-spec.ts and container-spec.ts apply them in containerd's order.
import { existsSync, readFileSync, statfsSync } from "node:fs";
import { lstat, readdir, readFile, realpath, stat as statPath } from "node:fs/promises";
import { join } from "node:path";
import {
  type Capability,
  type Device,
  type LinuxContainerResources,
  type SecurityProfile,
  SecurityProfile_ProfileType,
} from "../../cri/gen/runtime/v1/api_pb.js";
import { BerthError } from "../../lib/errdefs.js";
import type {
  LinuxDevice,
  LinuxResources,
  Mount,
  NamespaceType,
  Process,
  Spec,
} from "../../runc/oci-spec.js";
import { restrictOomScoreAdj } from "../../shim/oom-score-adj.js";
import { CriNamespace } from "./image-store.js";
import { defaultProfile, loadProfile } from "./seccomp-default.js";

/** The capabilities a container gets unless told otherwise (Docker's set). */
export const defaultUnixCaps = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FSETID",
  "CAP_FOWNER",
  "CAP_MKNOD",
  "CAP_NET_RAW",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETFCAP",
  "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT",
  "CAP_KILL",
  "CAP_AUDIT_WRITE",
];

const defaultPathEnv = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** The bundle-relative rootfs every CRI container runs from. */
export const relativeRootfsPath = "rootfs";

/**
 * containerd's default Linux spec, less what the CRI always strips: /run (WithoutRunMount),
 * rlimits, seccomp and AppArmor (WithoutDefaultSecuritySettings). The cgroup defaults to
 * /<namespace>/<id>, as containerd's does when the pod has no cgroup parent.
 */
export function defaultUnixSpec(id: string, cgroupsPath: string): Spec {
  const caps = () => [...defaultUnixCaps];
  return {
    ociVersion: "1.0.2-dev",
    process: {
      user: { uid: 0, gid: 0 },
      args: [],
      env: [defaultPathEnv],
      cwd: "/",
      capabilities: { bounding: caps(), effective: caps(), permitted: caps() },
      noNewPrivileges: true,
    },
    root: { path: relativeRootfsPath },
    mounts: [
      { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
      {
        destination: "/dev",
        type: "tmpfs",
        source: "tmpfs",
        options: ["nosuid", "strictatime", "mode=755", "size=65536k"],
      },
      {
        destination: "/dev/pts",
        type: "devpts",
        source: "devpts",
        options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
      },
      {
        destination: "/dev/shm",
        type: "tmpfs",
        source: "shm",
        options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
      },
      {
        destination: "/dev/mqueue",
        type: "mqueue",
        source: "mqueue",
        options: ["nosuid", "noexec", "nodev"],
      },
      { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
    ],
    linux: {
      resources: { devices: [{ allow: false, access: "rwm" }] },
      cgroupsPath: cgroupsPath || `/${CriNamespace}/${id}`,
      namespaces: [{ type: "pid" }, { type: "ipc" }, { type: "uts" }, { type: "mount" }, { type: "network" }],
      maskedPaths: [
        "/proc/acpi",
        "/proc/asound",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/proc/sched_debug",
        "/sys/firmware",
        "/proc/scsi",
      ],
      readonlyPaths: ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    },
  };
}

export function processOf(s: Spec): Process {
  if (!s.process) throw new BerthError("Internal", "spec has no process");
  return s.process;
}

export function linuxOf(s: Spec): NonNullable<Spec["linux"]> {
  s.linux ??= {};
  return s.linux;
}

function resourcesOf(s: Spec): LinuxResources {
  const linux = linuxOf(s);
  linux.resources ??= {};
  return linux.resources;
}

/**
 * `defaults` with each override replacing the entry of the same name in `defaults`, or
 * appended; a bare NAME removes it. Only names from `defaults` are replaced, so a name
 * twice in `overrides` appears twice (containerd's replaceOrAppendEnvValues).
 */
export function replaceOrAppendEnvValues(defaults: string[], overrides: string[]): string[] {
  const results: (string | undefined)[] = [...defaults];
  const index = new Map(defaults.map((e, i) => [e.split("=")[0] as string, i]));
  for (const value of overrides) {
    const eq = value.indexOf("=");
    const i = index.get(eq === -1 ? value : value.slice(0, eq));
    if (eq === -1) {
      if (i !== undefined) results[i] = undefined;
    } else if (i !== undefined) {
      results[i] = value;
    } else {
      results.push(value);
    }
  }
  return results.filter((e): e is string => e !== undefined && e !== "");
}

export function withEnv(s: Spec, env: string[]): void {
  if (env.length === 0) return;
  const p = processOf(s);
  p.env = replaceOrAppendEnvValues(p.env ?? [], env);
}

/** Puts `ns` in place of the namespace of its type, or appends it. */
export function withLinuxNamespace(s: Spec, ns: { type: NamespaceType; path?: string }): void {
  const linux = linuxOf(s);
  linux.namespaces ??= [];
  const list = linux.namespaces;
  const i = list.findIndex((n) => n.type === ns.type);
  if (i === -1) list.push(ns);
  else list[i] = ns;
}

/** Drops the namespace of `type`: the process stays in the host's. */
export function withoutNamespace(s: Spec, type: NamespaceType): void {
  const linux = linuxOf(s);
  linux.namespaces = (linux.namespaces ?? []).filter((n) => n.type !== type);
}

export function withMounts(s: Spec, mounts: Mount[]): void {
  s.mounts = [...(s.mounts ?? []), ...mounts];
}

export function withSysctls(s: Spec, sysctls: Record<string, string>): void {
  if (Object.keys(sysctls).length === 0) return;
  const linux = linuxOf(s);
  linux.sysctl = { ...linux.sysctl, ...sysctls };
}

export function withAnnotations(s: Spec, annotations: Record<string, string>): void {
  s.annotations = { ...s.annotations, ...annotations };
}

/** Capability names by bit, as far as this kernel generation defines them (pkg/cap). */
const knownCaps = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_DAC_READ_SEARCH",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_KILL",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETPCAP",
  "CAP_LINUX_IMMUTABLE",
  "CAP_NET_BIND_SERVICE",
  "CAP_NET_BROADCAST",
  "CAP_NET_ADMIN",
  "CAP_NET_RAW",
  "CAP_IPC_LOCK",
  "CAP_IPC_OWNER",
  "CAP_SYS_MODULE",
  "CAP_SYS_RAWIO",
  "CAP_SYS_CHROOT",
  "CAP_SYS_PTRACE",
  "CAP_SYS_PACCT",
  "CAP_SYS_ADMIN",
  "CAP_SYS_BOOT",
  "CAP_SYS_NICE",
  "CAP_SYS_RESOURCE",
  "CAP_SYS_TIME",
  "CAP_SYS_TTY_CONFIG",
  "CAP_MKNOD",
  "CAP_LEASE",
  "CAP_AUDIT_WRITE",
  "CAP_AUDIT_CONTROL",
  "CAP_SETFCAP",
  "CAP_MAC_OVERRIDE",
  "CAP_MAC_ADMIN",
  "CAP_SYSLOG",
  "CAP_WAKE_ALARM",
  "CAP_BLOCK_SUSPEND",
  "CAP_AUDIT_READ",
  "CAP_PERFMON",
  "CAP_BPF",
  "CAP_CHECKPOINT_RESTORE",
];

/**
 * The known capabilities in the effective set of `status` (a /proc/<pid>/status): "all
 * capabilities" for a privileged container or an "ALL" add means what the runtime itself
 * holds, since it cannot grant more.
 */
export function currentCapabilities(status: string): string[] {
  const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1] ?? "0";
  const eff = BigInt(`0x${hex}`);
  return knownCaps.filter((_, bit) => ((eff >> BigInt(bit)) & 1n) === 1n);
}

export async function ownCapabilities(): Promise<string[]> {
  return currentCapabilities(await readFile("/proc/self/status", "utf8"));
}

function setCapabilities(s: Spec, caps: string[]): void {
  processOf(s).capabilities = { bounding: [...caps], effective: [...caps], permitted: [...caps] };
}

type CapSets = NonNullable<Process["capabilities"]>;
const capLists = ["bounding", "effective", "permitted"] as const;

/**
 * CRI add/drop: "ALL" first grants `allCaps` or clears every set, so that the named
 * capabilities still apply on top ("ALL" plus drop CHOWN is all but CAP_CHOWN).
 */
export function withCapabilities(s: Spec, c: Capability | undefined, allCaps: string[]): void {
  if (!c) return;
  const p = processOf(s);
  const isAll = (n: string) => n.toUpperCase() === "ALL";
  if (c.addCapabilities.some(isAll)) setCapabilities(s, allCaps);
  if (c.dropCapabilities.some(isAll)) setCapabilities(s, []);
  const named = (list: string[]) => list.filter((n) => !isAll(n)).map((n) => `CAP_${n.toUpperCase()}`);
  p.capabilities ??= {};
  const sets: CapSets = p.capabilities;
  for (const cap of named(c.addCapabilities)) {
    for (const k of capLists) {
      sets[k] ??= [];
      const list = sets[k];
      if (!list.includes(cap)) list.push(cap);
    }
  }
  const drop = new Set(named(c.dropCapabilities));
  for (const k of capLists) {
    const left = (sets[k] ?? []).filter((cap) => !drop.has(cap));
    // An empty set is left out of the spec, as Go's encoder omits it.
    if (left.length > 0) sets[k] = left;
    else delete sets[k];
  }
}

/** Ambient capabilities are left out: their meaning for non-root users is not settled in Kubernetes. */
export function withoutAmbientCaps(s: Spec): void {
  const p = processOf(s);
  p.capabilities ??= {};
  delete p.capabilities.ambient;
}

/**
 * A privileged container: every capability the runtime holds, no masked or read-only
 * paths, writable sysfs and cgroupfs, no seccomp or AppArmor.
 */
export function withPrivileged(s: Spec, allCaps: string[]): void {
  setCapabilities(s, allCaps);
  const linux = linuxOf(s);
  delete linux.maskedPaths;
  delete linux.readonlyPaths;
  for (const m of s.mounts ?? []) {
    if (m.type === "sysfs" || m.type === "cgroup") m.options = m.options?.map((o) => (o === "ro" ? "rw" : o));
  }
  delete processOf(s).apparmorProfile;
  delete processOf(s).selinuxLabel;
  delete linux.seccomp;
}

const notADevice = "not a device node";

/** The device node at `path` (not following a final symlink); undefined for anything else. */
async function deviceFromPath(path: string): Promise<LinuxDevice | undefined> {
  const st = await lstat(path, { bigint: true });
  const type = st.isBlockDevice() ? "b" : st.isCharacterDevice() ? "c" : st.isFIFO() ? "p" : undefined;
  if (!type) return undefined;
  const rdev = st.rdev;
  // The kernel's split of a 64-bit dev_t (glibc's gnu_dev_major/minor).
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
  return {
    path,
    type,
    major,
    minor,
    fileMode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
  };
}

// Directories of /dev that hold no device a container should get (or loop back).
const skippedDevDirs = new Set(["pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"]);

/**
 * The devices at `path`: the node itself, or every node below a directory (named as in the
 * container when `containerPath` is set), sorted by name as Go's ReadDir returns them.
 */
export async function getDevices(path: string, containerPath: string): Promise<LinuxDevice[]> {
  const st = await statPath(path);
  if (!st.isDirectory()) {
    const dev = await deviceFromPath(path);
    if (!dev) throw new BerthError("Unknown", notADevice);
    return [containerPath ? { ...dev, path: containerPath } : dev];
  }
  const entries = (await readdir(path, { withFileTypes: true })).sort((a, b) =>
    Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)),
  );
  const out: LinuxDevice[] = [];
  for (const e of entries) {
    const cp = containerPath ? join(containerPath, e.name) : "";
    if (e.isDirectory()) {
      if (!skippedDevDirs.has(e.name)) out.push(...(await getDevices(join(path, e.name), cp)));
      continue;
    }
    if (e.name === "console") continue;
    const dev = await deviceFromPath(join(path, e.name)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return undefined;
      throw err;
    });
    if (!dev || dev.type === "p") continue;
    out.push(cp ? { ...dev, path: cp } : dev);
  }
  return out;
}

/** Every host device, all allowed: what a privileged container sees. */
export async function withHostDevices(s: Spec): Promise<void> {
  const linux = linuxOf(s);
  linux.devices = [...(linux.devices ?? []), ...(await getDevices("/dev", ""))];
  resourcesOf(s).devices = [{ allow: true, access: "rwm" }];
}

/** The CRI devices: each node (or each node below a directory) with its cgroup permission. */
export async function withDevices(s: Spec, devices: Device[]): Promise<void> {
  const res = resourcesOf(s);
  const linux = linuxOf(s);
  for (const d of devices) {
    const host = await realpath(d.hostPath);
    for (const dev of await getDevices(host, d.containerPath)) {
      linux.devices = [...(linux.devices ?? []), dev];
      res.devices = [
        ...(res.devices ?? []),
        { allow: true, type: dev.type, major: dev.major, minor: dev.minor, access: d.permissions },
      ];
    }
  }
}

export interface ResourceOptions {
  /** Whether memory.memsw / memory.swap.max exists, so a swap limit can be set. */
  swapControllerAvailable: boolean;
  /** Hugepage limits are set only when false and the hugetlb controller exists (containerd's default is true). */
  disableHugetlbController: boolean;
  hugetlbControllerAvailable: boolean;
}

/**
 * The CRI resources onto `base` (a copy is returned; zero means unset and keeps what `base`
 * has). Swap follows the memory limit unless set, so the container does not swap by default.
 */
export function applyResources(
  base: LinuxResources | undefined,
  r: LinuxContainerResources,
  o: ResourceOptions,
): LinuxResources {
  const out: LinuxResources = structuredClone(base ?? {});
  out.cpu ??= {};
  out.memory ??= {};
  const { cpu, memory } = out;
  if (r.cpuPeriod !== 0n) cpu.period = Number(r.cpuPeriod);
  if (r.cpuQuota !== 0n) cpu.quota = Number(r.cpuQuota);
  if (r.cpuShares !== 0n) cpu.shares = Number(r.cpuShares);
  if (r.cpusetCpus !== "") cpu.cpus = r.cpusetCpus;
  if (r.cpusetMems !== "") cpu.mems = r.cpusetMems;
  if (r.memoryLimitInBytes !== 0n) {
    memory.limit = Number(r.memoryLimitInBytes);
    if (r.memorySwapLimitInBytes === 0n && o.swapControllerAvailable) memory.swap = memory.limit;
  }
  if (r.memorySwapLimitInBytes !== 0n && o.swapControllerAvailable)
    memory.swap = Number(r.memorySwapLimitInBytes);
  if (!o.disableHugetlbController && o.hugetlbControllerAvailable) {
    for (const h of r.hugepageLimits) {
      out.hugepageLimits = [...(out.hugepageLimits ?? []), { pageSize: h.pageSize, limit: Number(h.limit) }];
    }
  }
  if (Object.keys(r.unified).length > 0) out.unified = { ...out.unified, ...r.unified };
  return out;
}

export function withResources(s: Spec, r: LinuxContainerResources | undefined, o: ResourceOptions): void {
  if (!r) return;
  linuxOf(s).resources = applyResources(s.linux?.resources, r, o);
}

let hostOptions: ResourceOptions | undefined;

/** What this host's cgroups offer for the resource options, probed once as containerd does. */
export function hostResourceOptions(): ResourceOptions {
  hostOptions ??= probeResourceOptions();
  return hostOptions;
}

function probeResourceOptions(): ResourceOptions {
  const unified = isCgroup2UnifiedMode();
  // memory.swap.max is missing at the cgroup v2 root, so look in our own cgroup.
  const own = /^0::(.*)$/m.exec(readFileSync("/proc/self/cgroup", "utf8"))?.[1] ?? "/";
  const swap = unified
    ? existsSync(join("/sys/fs/cgroup", own, "memory.swap.max"))
    : existsSync("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes");
  const hugetlb = unified
    ? readFileSync("/sys/fs/cgroup/cgroup.controllers", "utf8").includes("hugetlb")
    : existsSync("/sys/fs/cgroup/hugetlb");
  return {
    swapControllerAvailable: swap,
    hugetlbControllerAvailable: hugetlb,
    disableHugetlbController: true,
  };
}

const CGROUP2_SUPER_MAGIC = 0x63677270;

/** Whether /sys/fs/cgroup is cgroup v2 alone (not v1 or hybrid). */
export function isCgroup2UnifiedMode(): boolean {
  return statfsSync("/sys/fs/cgroup").type === CGROUP2_SUPER_MAGIC;
}

/** The oom_score_adj asked for, raised to the runtime's own when lowering it is not allowed. */
export async function oomScoreAdj(preferred: number, restrict: boolean): Promise<number> {
  return restrict ? restrictOomScoreAdj(preferred) : preferred;
}

/**
 * Annotations whose key matches one of the runtime's `patterns` (Go path.Match globs), passed
 * from the pod or container config into the spec; none unless the runtime lists some.
 */
export function passthroughAnnotations(
  annotations: Record<string, string>,
  patterns: string[],
): Record<string, string> {
  const res = patterns.map(globToRegExp);
  return Object.fromEntries(Object.entries(annotations).filter(([k]) => res.some((re) => re?.test(k))));
}

// Go's path.Match: `*` and `?` stop at "/", `[...]` is a class (`^` negates), `\` escapes.
// A malformed pattern matches nothing, as path.Match's error is ignored there.
function globToRegExp(pattern: string): RegExp | undefined {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] as string;
    if (ch === "*") re += "[^/]*";
    else if (ch === "?") re += "[^/]";
    else if (ch === "\\") {
      const next = pattern[++i];
      if (next === undefined) return undefined;
      re += escapeRe(next);
    } else if (ch === "[") {
      const end = pattern.indexOf("]", i + 2);
      if (end === -1) return undefined;
      let body = pattern.slice(i + 1, end);
      if (body.startsWith("^")) body = `^${body.slice(1)}`;
      re += `[${body.replace(/\\(.)/g, "\\$1")}]`;
      i = end;
    } else re += escapeRe(ch);
  }
  return new RegExp(`^${re}$`);
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/** The annotations containerd's CRI puts on every spec (pkg/cri/annotations). */
export const Annotations = {
  ContainerType: "io.kubernetes.cri.container-type",
  ContainerTypeSandbox: "sandbox",
  ContainerTypeContainer: "container",
  SandboxId: "io.kubernetes.cri.sandbox-id",
  SandboxNamespace: "io.kubernetes.cri.sandbox-namespace",
  SandboxUid: "io.kubernetes.cri.sandbox-uid",
  SandboxName: "io.kubernetes.cri.sandbox-name",
  SandboxLogDir: "io.kubernetes.cri.sandbox-log-directory",
  SandboxCpuPeriod: "io.kubernetes.cri.sandbox-cpu-period",
  SandboxCpuQuota: "io.kubernetes.cri.sandbox-cpu-quota",
  SandboxCpuShares: "io.kubernetes.cri.sandbox-cpu-shares",
  SandboxMem: "io.kubernetes.cri.sandbox-memory",
  ContainerName: "io.kubernetes.cri.container-name",
  ImageName: "io.kubernetes.cri.image-name",
} as const;

const runtimeDefault = "runtime/default";
const dockerDefault = "docker/default";
const unconfined = "unconfined";
const localhostPrefix = "localhost/";

/** A deprecated profile string ("runtime/default", "unconfined", "localhost/<path>") as a SecurityProfile. */
export function generateSecurityProfile(path: string): {
  type: SecurityProfile_ProfileType;
  localhostRef: string;
} {
  if (path === runtimeDefault || path === dockerDefault || path === "") {
    return { type: SecurityProfile_ProfileType.RuntimeDefault, localhostRef: "" };
  }
  if (path === unconfined) return { type: SecurityProfile_ProfileType.Unconfined, localhostRef: "" };
  if (!path.startsWith(localhostPrefix)) throw new BerthError("Unknown", `invalid profile "${path}"`);
  return { type: SecurityProfile_ProfileType.Localhost, localhostRef: path.slice(localhostPrefix.length) };
}

type Profile = { type: SecurityProfile_ProfileType; localhostRef: string } | undefined;

/** The security profile a context asks for: the field, else the deprecated string, else none. */
export function requestedProfile(field: SecurityProfile | undefined, path: string): Profile {
  if (field) return { type: field.profileType, localhostRef: field.localhostRef };
  return path === "" ? undefined : generateSecurityProfile(path);
}

/** Whether this kernel has seccomp (its status lines say so). */
export async function seccompEnabled(): Promise<boolean> {
  return /^Seccomp:/m.test(await readFile("/proc/self/status", "utf8"));
}

/**
 * Sets the seccomp profile asked for. A privileged process gets none; Unconfined and no
 * request leave none; RuntimeDefault is built for the process's bounding set, so it must
 * run after the capabilities are final.
 */
export async function withSeccomp(s: Spec, p: Profile, privileged: boolean, enabled: boolean): Promise<void> {
  if (privileged) return;
  if (!enabled) {
    if (p && p.type !== SecurityProfile_ProfileType.Unconfined)
      throw new BerthError("Unknown", "seccomp is not supported");
    return;
  }
  if (!p) return;
  if (p.type !== SecurityProfile_ProfileType.Localhost && p.localhostRef !== "") {
    throw new BerthError(
      "Unknown",
      "seccomp config invalid LocalhostRef must only be set if ProfileType is Localhost",
    );
  }
  switch (p.type) {
    case SecurityProfile_ProfileType.Unconfined:
      return;
    case SecurityProfile_ProfileType.RuntimeDefault:
      linuxOf(s).seccomp = defaultProfile(processOf(s).capabilities?.bounding ?? []);
      return;
    case SecurityProfile_ProfileType.Localhost:
      linuxOf(s).seccomp = await loadProfile(p.localhostRef.replace(/^localhost\//, ""));
      return;
    default:
      throw new BerthError("Unknown", "seccomp unknown ProfileType");
  }
}

/**
 * berth loads no AppArmor profiles, so like containerd on a host without AppArmor it accepts
 * only Unconfined (or no request) and refuses any other profile rather than run unconfined.
 */
export function checkApparmor(p: Profile): void {
  if (p && p.type !== SecurityProfile_ProfileType.Unconfined)
    throw new BerthError("Unknown", "apparmor is not supported");
}
