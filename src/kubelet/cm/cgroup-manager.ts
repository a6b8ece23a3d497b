// pkg/kubelet/cm/cgroup_manager_linux.go (kubelet 1.28), cgroupfs driver, together with the part of runc's
// libcontainer (v1.1: cgroups/fs for v1 and hybrid hosts, cgroups/fs2 for v2) that it drives: cgroup names
// and their paths, creating, updating and removing a cgroup in every hierarchy, the pids charged to it,
// and reading its CPU and memory settings back.
//
// cgroupfs lives in memory, so it is read synchronously (as the runtime's stats read it): a read takes
// microseconds, where a round trip through libuv's thread pool costs more and waits behind whatever
// holds the pool (a pod store's fsyncs, during a burst of pods). Writes and mkdir stay asynchronous.
import { constants, type Dirent, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdir, readdir, readFile, rmdir, statfs, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { failedPrecondition, invalidArgument, messageOf, notFound, wrap } from "../../lib/errdefs.js";
import type { Logger } from "../../lib/log.js";
import {
  Cgroup2MaxCpuLimit,
  cpuWeightToCpuShares,
  getCPUWeight,
  hugetlbLimits,
  MinShares,
  type ResourceConfig,
} from "./helpers-linux.js";

/** A cgroup as the kubelet names it, independent of the driver: ["kubepods", "burstable", "pod<uid>"]. */
export type CgroupName = readonly string[];
export const RootCgroupName: CgroupName = [];

/** NewCgroupName: `base` with `components` appended. */
export function newCgroupName(base: CgroupName, ...components: string[]): CgroupName {
  for (const component of components) {
    // "_" stays free so that the systemd driver's "-" → "_" escaping can be undone.
    if (component.includes("/") || component.includes("_")) {
      throw invalidArgument(`invalid character in component ${JSON.stringify(component)} of cgroup name`);
    }
  }
  return [...base, ...components];
}

/** CgroupName.ToCgroupfs: ["kubepods", "burstable"] → "/kubepods/burstable"; the root is "/". */
export function cgroupNameToCgroupfs(name: CgroupName): string {
  return `/${name.filter((c) => c !== "").join("/")}`;
}

/** ParseCgroupfsToCgroupName: "/kubepods/burstable" → ["kubepods", "burstable"]; "/" → []. */
export function parseCgroupfsToCgroupName(cgroupfs: string): CgroupName {
  const components = (cgroupfs.startsWith("/") ? cgroupfs.slice(1) : cgroupfs).split("/");
  return components.length === 1 && components[0] === "" ? [] : components;
}

export interface CgroupConfig {
  name: CgroupName;
  resourceParameters: ResourceConfig;
}

/**
 * legacy: cgroup v1 only; hybrid: the v1 controllers plus a v2 tree at /sys/fs/cgroup/unified, where
 * runc only makes directories; unified: cgroup v2 only. The kubelet treats hybrid as v1.
 */
export type CgroupMode = "legacy" | "hybrid" | "unified";

/** CgroupSubsystems: where each controller's hierarchy is mounted. */
export interface CgroupSubsystems {
  mode: CgroupMode;
  /** Controller → mount point ("cpu" → "/sys/fs/cgroup/cpu"; every controller → "/sys/fs/cgroup" on v2). */
  mountPoints: ReadonlyMap<string, string>;
  /** The cgroup v2 mount (hybrid and unified). */
  unifiedMountpoint?: string;
}

export const CgroupMountRoot = "/sys/fs/cgroup";
const Cgroup2SuperMagic = 0x63677270;

/** GetCgroupSubsystems: the host's cgroup mode and mounts. */
export async function getCgroupSubsystems(): Promise<CgroupSubsystems> {
  if (await isCgroup2(CgroupMountRoot)) {
    const controllers = readControllers(CgroupMountRoot);
    // devices and freezer are v2 pseudo-controllers: always there, never listed.
    const all = ["devices", "freezer", ...controllers];
    return {
      mode: "unified",
      mountPoints: new Map(all.map((c) => [c, CgroupMountRoot])),
      unifiedMountpoint: CgroupMountRoot,
    };
  }
  const [mountinfo, selfCgroup] = await Promise.all([
    readFile("/proc/self/mountinfo", "utf8"),
    readFile("/proc/self/cgroup", "utf8"),
  ]);
  const mountPoints = parseCgroupV1Mounts(mountinfo, selfCgroup);
  if (mountPoints.size === 0) throw failedPrecondition("failed to find cgroup mounts");
  const hybrid = join(CgroupMountRoot, "unified");
  if (await isCgroup2(hybrid)) return { mode: "hybrid", mountPoints, unifiedMountpoint: hybrid };
  return { mode: "legacy", mountPoints };
}

async function isCgroup2(path: string): Promise<boolean> {
  return (await statfs(path).catch(() => undefined))?.type === Cgroup2SuperMagic;
}

/**
 * The v1 hierarchies of /proc/self/mountinfo, keyed by the controllers /proc/self/cgroup knows
 * ("name=systemd" becomes "systemd"); the shortest mount point wins, as in the kubelet.
 */
export function parseCgroupV1Mounts(mountinfo: string, selfCgroup: string): Map<string, string> {
  const known = new Set(selfCgroup.split("\n").flatMap((line) => line.split(":")[1]?.split(",") ?? []));
  known.delete("");
  const mountPoints = new Map<string, string>();
  for (const line of mountinfo.split("\n")) {
    const [before, after] = line.split(" - ");
    const [fstype, , superOptions = ""] = after?.split(" ") ?? [];
    const mountpoint = before?.split(" ")[4];
    if (fstype !== "cgroup" || mountpoint === undefined) continue;
    const path = mountpoint.replace(/\\([0-7]{3})/g, (_, octal: string) =>
      String.fromCharCode(parseInt(octal, 8)),
    );
    for (const option of superOptions.split(",")) {
      if (!known.has(option)) continue;
      const subsystem = option.replace(/^name=/, "");
      const previous = mountPoints.get(subsystem);
      if (previous === undefined || path.length < previous.length) mountPoints.set(subsystem, path);
    }
  }
  return mountPoints;
}

function readControllers(dir: string): Set<string> {
  return new Set(readFileSync(join(dir, "cgroup.controllers"), "utf8").split(/\s+/).filter(Boolean));
}

/** One write of a cgroup file; `subsystem` "" is the v2 (unified) directory. */
export interface CgroupWrite {
  subsystem: string;
  file: string;
  value: string;
  /** Skipped where the kernel lacks the file (hugetlb reservations). */
  optional?: boolean;
}

export interface CgroupLayout {
  mode: CgroupMode;
  /** Whether the hugetlb controller is usable (a v1 mount, or a v2 root controller). */
  hugetlb: boolean;
  /** The node's hugepage sizes as quantities ("2Mi"). */
  hugePageSizes: readonly string[];
}

/**
 * The files a ResourceConfig becomes, in the order runc writes them (toResources, then the fs or fs2
 * manager's Set). Zero means "leave alone", as in libcontainer; -1 quota or pids means unlimited.
 * Every hugepage size not in the config is limited to 0.
 */
export function cgroupWrites(config: ResourceConfig, layout: CgroupLayout): CgroupWrite[] {
  const set = (v: bigint | undefined): v is bigint => v !== undefined && v !== 0n;
  const pidsValue = (v: bigint) => (v < 0n ? "max" : String(v));
  const hugetlb = layout.hugetlb ? hugetlbLimits(config, layout.hugePageSizes) : [];
  const writes: CgroupWrite[] = [];
  if (layout.mode !== "unified") {
    if (set(config.memory))
      writes.push({ subsystem: "memory", file: "memory.limit_in_bytes", value: `${config.memory}` });
    if (set(config.cpuShares))
      writes.push({ subsystem: "cpu", file: "cpu.shares", value: `${config.cpuShares}` });
    if (set(config.cpuPeriod))
      writes.push({ subsystem: "cpu", file: "cpu.cfs_period_us", value: `${config.cpuPeriod}` });
    if (set(config.cpuQuota))
      writes.push({ subsystem: "cpu", file: "cpu.cfs_quota_us", value: `${config.cpuQuota}` });
    if (set(config.pidsLimit))
      writes.push({ subsystem: "pids", file: "pids.max", value: pidsValue(config.pidsLimit) });
    for (const { pageSize, limit } of hugetlb) {
      const prefix = `hugetlb.${pageSize}`;
      writes.push({ subsystem: "hugetlb", file: `${prefix}.limit_in_bytes`, value: `${limit}` });
      writes.push({
        subsystem: "hugetlb",
        file: `${prefix}.rsvd.limit_in_bytes`,
        value: `${limit}`,
        optional: true,
      });
    }
    return writes;
  }
  const unified = (file: string, value: string, optional?: boolean) =>
    writes.push({ subsystem: "", file, value, ...(optional ? { optional } : {}) });
  if (set(config.pidsLimit)) unified("pids.max", pidsValue(config.pidsLimit));
  if (set(config.memory)) unified("memory.max", `${config.memory}`);
  const weight = getCPUWeight(config.cpuShares);
  if (weight !== 0n) unified("cpu.weight", `${weight}`);
  if (set(config.cpuQuota) || set(config.cpuPeriod)) {
    const quota = set(config.cpuQuota) && config.cpuQuota > 0n ? `${config.cpuQuota}` : Cgroup2MaxCpuLimit;
    unified("cpu.max", set(config.cpuPeriod) ? `${quota} ${config.cpuPeriod}` : quota);
  }
  for (const { pageSize, limit } of hugetlb) {
    unified(`hugetlb.${pageSize}.max`, `${limit}`);
    unified(`hugetlb.${pageSize}.rsvd.max`, `${limit}`, true);
  }
  for (const [file, value] of Object.entries(config.unified ?? {})) unified(file, value);
  return writes;
}

export type CgroupResource = "cpu" | "memory";

/** CgroupManager (pkg/kubelet/cm/types.go): how the kubelet makes, changes and removes cgroups. */
export interface CgroupManager {
  /** Name: the cgroupfs path of a cgroup name. */
  name(name: CgroupName): string;
  /** CgroupName: the cgroup name of a cgroupfs path. */
  cgroupName(cgroupfs: string): CgroupName;
  /** Validate: throws NotFound unless the cgroup exists in every hierarchy the kubelet uses. */
  validate(name: CgroupName): Promise<void>;
  exists(name: CgroupName): Promise<boolean>;
  /** Create: makes the cgroup in every hierarchy, then applies its resources (failures are only logged). */
  create(config: CgroupConfig): Promise<void>;
  update(config: CgroupConfig): Promise<void>;
  /** Destroy: removes the cgroup and any child cgroups in every hierarchy; kills nothing. */
  destroy(name: CgroupName): Promise<void>;
  /** Pids: every process in the cgroup or a child, in any hierarchy. */
  pids(name: CgroupName): Promise<number[]>;
  /** ReduceCPULimits: the cgroup's CPU shares down to the minimum. */
  reduceCPULimits(name: CgroupName): Promise<void>;
  /** GetCgroupConfig: what the cgroup's CPU or memory files hold. */
  getCgroupConfig(name: CgroupName, resource: CgroupResource): Promise<ResourceConfig>;
}

// runc's v1 subsystems in the order it applies them; "systemd" is the name=systemd hierarchy.
const runcV1Subsystems = [
  "cpuset",
  "devices",
  "memory",
  "cpu",
  "cpuacct",
  "pids",
  "blkio",
  "hugetlb",
  "net_cls",
  "net_prio",
  "perf_event",
  "freezer",
  "rdma",
  "systemd",
];

/** The hierarchies Validate looks at on v1 (hugetlb only where mounted). */
const validatedV1Subsystems = new Set(["cpu", "cpuacct", "cpuset", "memory", "systemd", "pids", "hugetlb"]);
/** The controllers the kubelet needs on v2, as far as the kernel has them. */
const neededV2Controllers = ["cpu", "cpuset", "memory", "hugetlb", "pids"];

/** cgroupManagerImpl for the cgroupfs driver. */
export class CgroupfsManager implements CgroupManager {
  private rootControllers?: Set<string>;

  constructor(
    readonly subsystems: CgroupSubsystems,
    /** The node's hugepage sizes ("2Mi", "1Gi"), libcontainer's HugePageSizes. */
    private readonly hugePageSizes: readonly string[],
    private readonly log: Logger,
  ) {}

  name(name: CgroupName): string {
    return cgroupNameToCgroupfs(name);
  }

  cgroupName(cgroupfs: string): CgroupName {
    return parseCgroupfsToCgroupName(cgroupfs);
  }

  private get unified(): boolean {
    return this.subsystems.mode === "unified";
  }

  private get unifiedMount(): string {
    return this.subsystems.unifiedMountpoint ?? CgroupMountRoot;
  }

  /** runc's paths for the cgroup: each mounted v1 subsystem plus the v2 tree on hybrid hosts; the v2 tree alone on v2. */
  private libctPaths(name: CgroupName): { subsystem: string; mount: string; dir: string }[] {
    const cgroupfs = this.name(name);
    const unified = { subsystem: "", mount: this.unifiedMount, dir: join(this.unifiedMount, cgroupfs) };
    if (this.unified) return [unified];
    const paths = runcV1Subsystems.flatMap((subsystem) => {
      const mount = this.subsystems.mountPoints.get(subsystem);
      return mount === undefined ? [] : [{ subsystem, mount, dir: join(mount, cgroupfs) }];
    });
    if (this.subsystems.mode === "hybrid") paths.push(unified);
    return paths;
  }

  private supportedUnifiedControllers(): string[] {
    this.rootControllers ??= readControllers(CgroupMountRoot);
    const available = this.rootControllers;
    return neededV2Controllers.filter((c) => available.has(c));
  }

  async validate(name: CgroupName): Promise<void> {
    const cgroupfs = this.name(name);
    if (this.unified) {
      let enabled: Set<string>;
      try {
        enabled = readControllers(join(this.unifiedMount, cgroupfs));
      } catch (err) {
        throw notFound(`could not read controllers for cgroup ${JSON.stringify(cgroupfs)}`, err);
      }
      const missing = this.supportedUnifiedControllers().filter((c) => !enabled.has(c));
      if (missing.length > 0) {
        throw notFound(
          `cgroup ${JSON.stringify(cgroupfs)} has some missing controllers: ${missing.sort().join(", ")}`,
        );
      }
      return;
    }
    const missing: string[] = [];
    for (const [subsystem, mount] of this.subsystems.mountPoints) {
      if (!validatedV1Subsystems.has(subsystem)) continue;
      const dir = join(mount, cgroupfs);
      if (!exists(dir)) missing.push(dir);
    }
    if (missing.length > 0) {
      throw notFound(`cgroup ${JSON.stringify(cgroupfs)} has some missing paths: ${missing.join(", ")}`);
    }
  }

  async exists(name: CgroupName): Promise<boolean> {
    try {
      await this.validate(name);
      return true;
    } catch (err) {
      this.log.debug({ cgroup: this.name(name), err: messageOf(err) }, "cgroup validate failed");
      return false;
    }
  }

  async create(config: CgroupConfig): Promise<void> {
    const cgroupfs = this.name(config.name);
    await this.makeDirs(config.name).catch((err: unknown) => {
      throw wrap(err, `failed to create cgroup ${JSON.stringify(cgroupfs)}`);
    });
    // Like the kubelet, a cgroup that exists but could not be configured is not an error of Create.
    await this.update(config).catch((err: unknown) =>
      this.log.error({ cgroup: cgroupfs, err: messageOf(err) }, "cgroup manager.Set failed"),
    );
  }

  /** runc's Apply without a process: the directories, in every hierarchy but devices (the kubelet skips devices). */
  private async makeDirs(name: CgroupName): Promise<void> {
    if (this.unified) return createCgroupPath(this.unifiedMount, this.name(name));
    for (const { subsystem, mount, dir } of this.libctPaths(name)) {
      if (subsystem === "cpuset") await cpusetEnsure(mount, this.name(name));
      else if (subsystem !== "devices") await mkdir(dir, { recursive: true, mode: 0o755 });
    }
  }

  async update(config: CgroupConfig): Promise<void> {
    const cgroupfs = this.name(config.name);
    const writes = cgroupWrites(config.resourceParameters, {
      mode: this.subsystems.mode,
      hugetlb: this.unified
        ? this.supportedUnifiedControllers().includes("hugetlb")
        : this.subsystems.mountPoints.has("hugetlb"),
      hugePageSizes: this.hugePageSizes,
    });
    const dirs = new Map(this.libctPaths(config.name).map((p) => [p.subsystem, p.dir]));
    const hasQuota = writes.some((w) => w.file === "cpu.cfs_quota_us");
    const deferred: CgroupWrite[] = [];
    const apply = async (w: CgroupWrite, canDefer: boolean) => {
      const dir = dirs.get(w.subsystem);
      if (dir === undefined) {
        throw failedPrecondition(
          `cannot set ${w.file} of cgroup ${JSON.stringify(cgroupfs)}: no ${w.subsystem} hierarchy`,
        );
      }
      try {
        await writeCgroupFile(dir, w.file, w.value);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (w.optional && code === "ENOENT") return;
        // The kernel may refuse a shorter CFS period until the quota is lowered; runc writes it again after the quota.
        if (canDefer && code === "EINVAL" && w.file === "cpu.cfs_period_us" && hasQuota) {
          deferred.push(w);
          return;
        }
        throw wrap(err, `failed to set ${w.file} to ${w.value} for cgroup ${JSON.stringify(cgroupfs)}`);
      }
    };
    for (const w of writes) await apply(w, true);
    for (const w of deferred) await apply(w, false);
  }

  async destroy(name: CgroupName): Promise<void> {
    const remaining = new Map(this.libctPaths(name).map((p) => [p.subsystem, p.dir]));
    // runc's RemovePaths: a cgroup can stay busy for a moment after its last process died.
    let delay = 10;
    let lastError: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      if (attempt > 0) {
        await sleep(delay);
        delay *= 2;
      }
      for (const [subsystem, dir] of remaining) {
        await removeCgroupTree(dir).catch((err: unknown) => {
          lastError = err;
        });
        if (!exists(dir)) remaining.delete(subsystem);
      }
      if (remaining.size === 0) return;
    }
    throw failedPrecondition(
      `unable to destroy cgroup paths for cgroup ${JSON.stringify(this.name(name))}: ${[...remaining.values()].join(", ")}`,
      lastError,
    );
  }

  async pids(name: CgroupName): Promise<number[]> {
    const found = new Set<number>();
    for (const mount of new Set(this.subsystems.mountPoints.values())) {
      collectPids(join(mount, this.name(name)), found, this.log);
    }
    return [...found].sort((a, b) => a - b);
  }

  async reduceCPULimits(name: CgroupName): Promise<void> {
    await this.update({ name, resourceParameters: { cpuShares: MinShares } });
  }

  async getCgroupConfig(name: CgroupName, resource: CgroupResource): Promise<ResourceConfig> {
    const mount = this.subsystems.mountPoints.get(resource);
    if (mount === undefined) {
      throw failedPrecondition(
        `failed to build ${resource} cgroup fs path for cgroup ${JSON.stringify(this.name(name))}`,
      );
    }
    const dir = join(mount, this.name(name));
    if (resource === "memory") {
      return { memory: readUint(dir, this.unified ? "memory.max" : "memory.limit_in_bytes") };
    }
    if (!this.unified) {
      return {
        cpuShares: readUint(dir, "cpu.shares"),
        cpuQuota: readInt(dir, "cpu.cfs_quota_us"),
        cpuPeriod: readUint(dir, "cpu.cfs_period_us"),
      };
    }
    const cpuMax = readCgroupFile(dir, "cpu.max").split(" ");
    if (cpuMax.length !== 2) {
      throw invalidArgument(`failed to parse cpu.max ${JSON.stringify(cpuMax.join(" "))} of ${dir}`);
    }
    const [limit = "", period = ""] = cpuMax;
    return {
      cpuShares: cpuWeightToCpuShares(readUint(dir, "cpu.weight")),
      cpuQuota: limit === Cgroup2MaxCpuLimit ? -1n : parseInteger(limit, dir, "cpu.max"),
      cpuPeriod: parseInteger(period, dir, "cpu.max"),
    };
  }
}

/** The cgroup manager for this host: its mounts, the cgroupfs driver. */
export async function newCgroupManager(
  hugePageSizes: readonly string[],
  log: Logger,
): Promise<CgroupfsManager> {
  return new CgroupfsManager(await getCgroupSubsystems(), hugePageSizes, log);
}

function exists(path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false }) !== undefined;
  } catch {
    return false;
  }
}

/** Writes a cgroup file as runc does: no create, truncate. */
async function writeCgroupFile(dir: string, file: string, value: string): Promise<void> {
  await writeFile(join(dir, file), value, { flag: constants.O_WRONLY | constants.O_TRUNC });
}

function readCgroupFile(dir: string, file: string): string {
  return readFileSync(join(dir, file), "utf8").trim();
}

function parseInteger(text: string, dir: string, file: string): bigint {
  if (!/^-?[0-9]+$/.test(text))
    throw invalidArgument(`failed to parse ${file} ${JSON.stringify(text)} of ${dir}`);
  return BigInt(text);
}

function readInt(dir: string, file: string): bigint {
  return parseInteger(readCgroupFile(dir, file), dir, file);
}

/** GetCgroupParamUint: "max" is the largest uint64, which the kubelet then reads as int64 -1. */
function readUint(dir: string, file: string): bigint {
  const text = readCgroupFile(dir, file);
  return text === "max" ? -1n : parseInteger(text, dir, file);
}

/**
 * fs2.CreateCgroupPath: makes each level of the path and enables every controller the root has in
 * the subtree_control of the root and of each level above the leaf, so the leaf gets the controllers.
 * A level it made is removed again if a later step fails.
 */
export async function createCgroupPath(mountpoint: string, cgroupfs: string): Promise<void> {
  const controllers = [...readControllers(mountpoint)];
  const enable = controllers.map((c) => `+${c}`);
  const levels = [mountpoint];
  for (const component of cgroupfs.split("/").filter(Boolean))
    levels.push(join(levels.at(-1) ?? mountpoint, component));
  const made: string[] = [];
  try {
    for (const [i, level] of levels.entries()) {
      if (i > 0) {
        const created = await mkdir(level, { mode: 0o755 }).then(
          () => true,
          (err: NodeJS.ErrnoException) => {
            if (err.code !== "EEXIST") throw err;
            return false;
          },
        );
        if (created) made.push(level);
      }
      if (i < levels.length - 1 && enable.length > 0) {
        // All at once, else one by one: a controller missing here fails later, when it is set.
        await writeCgroupFile(level, "cgroup.subtree_control", enable.join(" ")).catch(async () => {
          for (const e of enable)
            await writeCgroupFile(level, "cgroup.subtree_control", e).catch(() => undefined);
        });
      }
    }
  } catch (err) {
    for (const level of made.reverse()) await rmdir(level).catch(() => undefined);
    throw err;
  }
}

/**
 * runc's cpuset ApplyDir on v1: a new cpuset cgroup starts with no CPUs and no memory nodes, so each
 * level made below the mount copies them from its parent.
 */
async function cpusetEnsure(mount: string, cgroupfs: string): Promise<void> {
  let current = mount;
  for (const component of cgroupfs.split("/").filter(Boolean)) {
    const parent = current;
    current = join(current, component);
    await mkdir(current, { mode: 0o755 }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "EEXIST") throw err;
    });
    for (const file of ["cpuset.cpus", "cpuset.mems"]) {
      if (readCgroupFile(current, file) === "") {
        await writeCgroupFile(current, file, readCgroupFile(parent, file));
      }
    }
  }
}

/** runc's RemovePath: rmdir, else the child cgroups first, bottom-up; gone already is fine. */
async function removeCgroupTree(dir: string): Promise<void> {
  const removed = await rmdir(dir).then(
    () => true,
    (err: NodeJS.ErrnoException) => err.code === "ENOENT",
  );
  if (removed) return;
  const entries = await readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return [];
    throw err;
  });
  for (const entry of entries) {
    if (entry.isDirectory()) await removeCgroupTree(join(dir, entry.name));
  }
  await rmdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "ENOENT") throw err;
  });
}

/** The pids in cgroup.procs of `dir` and every cgroup below it; a cgroup that vanished meanwhile is skipped. */
function collectPids(dir: string, into: Set<number>, log: Logger): void {
  let procs: string;
  try {
    procs = readFileSync(join(dir, "cgroup.procs"), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
      log.debug(
        { path: dir, err: messageOf(err) },
        "cgroup manager encountered error getting procs for cgroup path",
      );
    }
    return;
  }
  for (const pid of procs.split("\n")) if (pid !== "") into.add(Number(pid));
  let entries: Dirent[] = [];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    // vanished meanwhile
  }
  for (const entry of entries) if (entry.isDirectory()) collectPids(join(dir, entry.name), into, log);
}
