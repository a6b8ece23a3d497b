// After containerd 1.6 pkg/cri/server/container_create_linux.go (containerMounts, containerSpec,
// containerSpecOpts), container_create.go (volumeMounts), pkg/cri/opts/spec_linux.go
// (WithProcessArgs, WithMounts, WithPodNamespaces, WithAdditionalGIDs) and pkg/cri/opts/container.go
// (WithVolumes): the runtime spec of a container in a pod. The steps run in containerd's order,
// since later ones overwrite earlier ones (the user resets the additional gids, privilege replaces
// the capabilities, RuntimeDefault seccomp depends on the final capabilities).
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, realpath, stat } from "node:fs/promises";
import { hostname as osHostname } from "node:os";
import { join, posix } from "node:path";
import { promisify } from "node:util";
import {
  type ContainerConfig,
  type Mount as CriMount,
  type LinuxContainerResources,
  MountPropagation,
  NamespaceMode,
  type PodSandboxConfig,
} from "../../cri/gen/runtime/v1/api_pb.js";
import { BerthError, wrap } from "../../lib/errdefs.js";
import type { LinuxResources, Mount, Spec } from "../../runc/oci-spec.js";
import type { ImageConfig } from "../images/oci.js";
import type { SandboxFiles } from "./sandbox-files.js";
import {
  Annotations,
  applyResources,
  checkApparmor,
  defaultUnixSpec,
  hostResourceOptions,
  isCgroup2UnifiedMode,
  linuxOf,
  oomScoreAdj,
  ownCapabilities,
  passthroughAnnotations,
  processOf,
  relativeRootfsPath,
  requestedProfile,
  seccompEnabled,
  withAnnotations,
  withCapabilities,
  withDevices,
  withEnv,
  withHostDevices,
  withLinuxNamespace,
  withoutAmbientCaps,
  withPrivileged,
  withResources,
  withSeccomp,
} from "./spec-opts.js";
import {
  generateUserString,
  rootPath,
  type WithRootfs,
  withAdditionalGids,
  withSupplementalGroups,
  withUser,
} from "./user.js";

const exec = promisify(execFile);

export interface ContainerSpecInput {
  id: string;
  sandboxId: string;
  /** The infra process, whose namespaces the container joins (/proc/<pid>/ns/…). */
  sandboxPid: number;
  /** With NamespaceMode TARGET: the process of the target container, whose pid namespace is joined. */
  targetPid?: number;
  config: ContainerConfig;
  sandboxConfig: PodSandboxConfig;
  imageName: string;
  imageConfig: ImageConfig["config"];
  /** Not read on Linux: like containerd, the container joins the network of /proc/<sandboxPid>. */
  netnsPath: string;
  files: SandboxFiles;
  /** "" = containerd's default, /k8s.io/<id> */
  cgroupsPath: string;
  /** The container's root dir: image volumes are made under <rootDir>/volumes. */
  rootDir: string;
  restrictOomScoreAdj: boolean;
  /** runs fn with the container's rootfs mounted (read-only) at some dir: for /etc/passwd and /etc/group lookups */
  withRootfs: WithRootfs;
  /** The runtime's pod_annotations and container_annotations globs (default none). */
  podAnnotations?: string[];
  containerAnnotations?: string[];
}

const etcHostname = "/etc/hostname";
const etcHosts = "/etc/hosts";
const resolvConfPath = "/etc/resolv.conf";
const devShm = "/dev/shm";

/** Go's filepath.Clean for absolute and relative slash paths. */
function clean(p: string): string {
  if (p === "") return ".";
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith("/") ? n.slice(0, -1) : n;
}

function unknown(message: string): BerthError {
  return new BerthError("Unknown", message);
}

const isInCriMounts = (dst: string, mounts: CriMount[]) =>
  mounts.some((m) => clean(m.containerPath) === clean(dst));

type MountSpec = Pick<
  CriMount,
  "containerPath" | "hostPath" | "readonly" | "propagation" | "selinuxRelabel"
> & {
  idMapped?: boolean;
};

/** The pod's shared files, unless the container mounts its own over them. */
export function containerMounts(files: SandboxFiles, config: ContainerConfig): MountSpec[] {
  const sc = config.linux?.securityContext;
  const readonly = sc?.readonlyRootfs ?? false;
  const out: MountSpec[] = [];
  const add = (containerPath: string, hostPath: string, ro: boolean) => {
    if (!isInCriMounts(containerPath, config.mounts)) {
      out.push({
        containerPath,
        hostPath,
        readonly: ro,
        propagation: MountPropagation.PROPAGATION_PRIVATE,
        selinuxRelabel: false,
      });
    }
  };
  add(etcHostname, files.hostname, readonly);
  add(etcHosts, files.hosts, readonly);
  add(resolvConfPath, files.resolvConf, readonly);
  add(devShm, files.shm || devShm, false);
  return out;
}

/** A fresh directory under <rootDir>/volumes for each image volume the CRI mounts do not cover. */
export function volumeMounts(
  rootDir: string,
  config: ContainerConfig,
  image: ImageConfig["config"],
): MountSpec[] {
  return Object.keys(image?.Volumes ?? {})
    .sort()
    .filter((dst) => !isInCriMounts(dst, config.mounts))
    .map((dst) => ({
      containerPath: dst,
      hostPath: join(rootDir, "volumes", randomBytes(32).toString("hex")),
      readonly: false,
      propagation: MountPropagation.PROPAGATION_PRIVATE,
      selinuxRelabel: true,
    }));
}

/** The optional fields (shared:N, master:N …) of the mount that holds `path`. */
async function mountPropagationOf(path: string): Promise<{ mountpoint: string; optional: string[] }> {
  const info = await readFile("/proc/self/mountinfo", "utf8");
  let best: { mountpoint: string; optional: string[] } | undefined;
  for (const line of info.split("\n")) {
    const f = line.split(" ");
    const mountpoint = (f[4] ?? "").replace(/\\([0-7]{3})/g, (_, o: string) =>
      String.fromCharCode(Number.parseInt(o, 8)),
    );
    const under = mountpoint === "/" || path === mountpoint || path.startsWith(`${mountpoint}/`);
    // The last of equally long mount points is the one on top.
    if (mountpoint !== "" && under && (!best || mountpoint.length >= best.mountpoint.length)) {
      best = { mountpoint, optional: f.slice(6, f.indexOf("-")) };
    }
  }
  if (!best) throw unknown(`failed to find the mount of "${path}"`);
  return best;
}

async function ensureShared(path: string, orSlave: boolean): Promise<void> {
  const m = await mountPropagationOf(path);
  if (m.optional.some((o) => o.startsWith("shared:") || (orSlave && o.startsWith("master:")))) return;
  const what = orSlave ? "a shared or slave mount" : "a shared mount";
  throw unknown(`path "${path}" is mounted on "${m.mountpoint}" but it is not ${what}`);
}

/**
 * The CRI mounts, then the extra ones they do not override, as bind mounts sorted so that a
 * mount never hides a deeper one; default mounts they replace (and /dev/* under a supplied
 * /dev) are dropped, cgroupfs is added read-only. Missing host paths are created, as the
 * kubelet expects. Propagation other than private needs the host mount to propagate too, and
 * makes the rootfs propagate as well.
 */
async function withCriMounts(s: Spec, criMounts: CriMount[], extra: MountSpec[]): Promise<void> {
  const mounts: MountSpec[] = [
    ...criMounts.map((m) => ({ ...m, idMapped: m.uidMappings.length > 0 || m.gidMappings.length > 0 })),
    ...extra.filter((e) => !isInCriMounts(e.containerPath, criMounts)),
  ];
  const parts = (m: MountSpec) => clean(m.containerPath).split("/").length;
  mounts.sort((a, b) => parts(a) - parts(b));

  const defaults: Mount[] = [
    ...(s.mounts ?? []),
    {
      destination: "/sys/fs/cgroup",
      type: "cgroup",
      source: "cgroup",
      options: ["nosuid", "noexec", "nodev", "relatime", "ro"],
    },
  ];
  const supplied = new Set(mounts.map((m) => clean(m.containerPath)));
  s.mounts = defaults.filter((m) => {
    const dst = clean(m.destination);
    return !supplied.has(dst) && !(supplied.has("/dev") && dst.startsWith("/dev/"));
  });

  const linux = linuxOf(s);
  for (const m of mounts) {
    try {
      await stat(m.hostPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw wrap(err, `failed to stat "${m.hostPath}"`);
      await mkdir(m.hostPath, { recursive: true, mode: 0o755 }).catch((e) => {
        throw wrap(e, `failed to mkdir "${m.hostPath}"`);
      });
    }
    const src = await realpath(m.hostPath).catch((err) => {
      throw wrap(err, `failed to resolve symlink "${m.hostPath}"`);
    });
    const options = ["rbind"];
    switch (m.propagation) {
      case MountPropagation.PROPAGATION_PRIVATE:
        // runc's rootfs is rprivate already.
        options.push("rprivate");
        break;
      case MountPropagation.PROPAGATION_BIDIRECTIONAL:
        await ensureShared(src, false);
        options.push("rshared");
        linux.rootfsPropagation = "rshared";
        break;
      case MountPropagation.PROPAGATION_HOST_TO_CONTAINER:
        await ensureShared(src, true);
        options.push("rslave");
        if (linux.rootfsPropagation !== "rshared") linux.rootfsPropagation = "rslave";
        break;
      default:
        options.push("rprivate");
    }
    // Unlike Docker, a read-only rootfs does not make the mounts read-only too.
    options.push(m.readonly ? "ro" : "rw");
    if (m.idMapped) throw unknown(`idmap mounts not yet supported, but they were requested for: "${src}"`);
    s.mounts.push({ destination: m.containerPath, type: "bind", source: src, options });
  }
}

/**
 * The image's content at each volume path goes into the fresh volume directory, owners and
 * modes kept, so the volume starts as the image had it (containerd's WithVolumes).
 */
async function copyVolumeContents(volumes: MountSpec[], withRootfs: WithRootfs): Promise<void> {
  if (volumes.length === 0) return;
  await withRootfs(async (root) => {
    for (const v of volumes) {
      const src = await rootPath(root, v.containerPath);
      const st = await stat(src).catch(() => undefined);
      if (!st) continue;
      if ((await readdir(v.hostPath)).length !== 0)
        throw unknown(`volume at "${v.hostPath}" is not initially empty`);
      await exec("cp", ["-a", "--", `${src}/.`, v.hostPath]).catch((err) => {
        throw wrap(err, "taking runtime copy of volume");
      });
    }
  });
}

/** The process args: the CRI command or the image entrypoint, then the CRI args or the image cmd. */
export function processArgs(config: ContainerConfig, image: ImageConfig["config"]): string[] {
  let command = config.command;
  let args = config.args;
  // An empty CRI command means "the image's": its entrypoint, and its cmd unless args are given.
  if (command.length === 0) {
    if (args.length === 0) args = image?.Cmd ?? [];
    command = image?.Entrypoint ?? [];
  }
  if (command.length === 0 && args.length === 0) throw unknown("no command specified");
  return [...command, ...args];
}

/**
 * The CRI resources onto `base`, as an UpdateContainerResources applies them: unset (zero)
 * values keep what the spec has.
 */
export function toOciResources(r: LinuxContainerResources, base: LinuxResources | undefined): LinuxResources {
  return applyResources(base, r, hostResourceOptions());
}

function nsPath(pid: number, ns: string): string {
  return `/proc/${pid}/ns/${ns}`;
}

export async function containerSpec(i: ContainerSpecInput): Promise<Spec> {
  try {
    return await buildContainerSpec(i);
  } catch (err) {
    throw wrap(err, `failed to generate container "${i.id}" spec`);
  }
}

async function buildContainerSpec(i: ContainerSpecInput): Promise<Spec> {
  const { config, sandboxConfig } = i;
  const image = i.imageConfig ?? {};
  const sc = config.linux?.securityContext;
  const privileged = sc?.privileged ?? false;
  const s = defaultUnixSpec(i.id, i.cgroupsPath);
  const p = processOf(s);

  p.args = processArgs(config, image);
  // Set below from the security context.
  delete p.noNewPrivileges;
  const cwd = config.workingDir || image.WorkingDir;
  if (cwd) p.cwd = cwd;
  if (config.tty) {
    p.terminal = true;
    p.env = [...(p.env ?? []), "TERM=xterm"];
  }
  withEnv(s, [`HOSTNAME=${sandboxConfig.hostname || osHostname()}`]);
  // The image's variables first, so that the CRI's override them.
  withEnv(s, [...(image.Env ?? []), ...config.envs.map((e) => `${e.key}=${e.value}`)]);

  const volumes = volumeMounts(i.rootDir, config, image);
  await withCriMounts(s, config.mounts, [...containerMounts(i.files, config), ...volumes]);

  // The kubelet sends the default masked and read-only paths itself; none unless it does.
  const linux = linuxOf(s);
  delete linux.maskedPaths;
  delete linux.readonlyPaths;
  if (sc?.maskedPaths.length) linux.maskedPaths = [...sc.maskedPaths];
  if (sc?.readonlyPaths.length) linux.readonlyPaths = [...sc.readonlyPaths];

  const allCaps = await ownCapabilities();
  if (privileged) {
    if (!sandboxConfig.linux?.securityContext?.privileged)
      throw unknown("no privileged container allowed in sandbox");
    withPrivileged(s, allCaps);
    await withHostDevices(s);
  } else {
    await withDevices(s, config.devices);
    withCapabilities(s, sc?.capabilities, allCaps);
  }
  withoutAmbientCaps(s);
  if (sc?.noNewPrivs) p.noNewPrivileges = true;
  if (sc?.readonlyRootfs) s.root = { path: relativeRootfsPath, readonly: true };
  withResources(s, config.linux?.resources, hostResourceOptions());

  withAnnotations(s, passthroughAnnotations(sandboxConfig.annotations, i.podAnnotations ?? []));
  withAnnotations(s, passthroughAnnotations(config.annotations, i.containerAnnotations ?? []));
  if (config.linux?.resources) {
    p.oomScoreAdj = await oomScoreAdj(Number(config.linux.resources.oomScoreAdj), i.restrictOomScoreAdj);
  }

  const nsOpts = sc?.namespaceOptions;
  let targetPid = i.sandboxPid;
  if (nsOpts?.pid === NamespaceMode.TARGET) {
    if (!i.targetPid)
      throw unknown(`no running target container "${nsOpts.targetId}" to share the pid namespace of`);
    targetPid = i.targetPid;
  }
  withLinuxNamespace(s, { type: "network", path: nsPath(i.sandboxPid, "net") });
  withLinuxNamespace(s, { type: "ipc", path: nsPath(i.sandboxPid, "ipc") });
  withLinuxNamespace(s, { type: "uts", path: nsPath(i.sandboxPid, "uts") });
  if (nsOpts?.pid !== NamespaceMode.CONTAINER)
    withLinuxNamespace(s, { type: "pid", path: nsPath(targetPid, "pid") });

  const meta = sandboxConfig.metadata;
  withAnnotations(s, {
    [Annotations.ContainerType]: Annotations.ContainerTypeContainer,
    [Annotations.SandboxId]: i.sandboxId,
    [Annotations.SandboxNamespace]: meta?.namespace ?? "",
    [Annotations.SandboxUid]: meta?.uid ?? "",
    [Annotations.SandboxName]: meta?.name ?? "",
    [Annotations.ContainerName]: config.metadata?.name ?? "",
    [Annotations.ImageName]: i.imageName,
  });
  // A cgroup namespace hides the host's cgroup tree; cgroup v1 and privileged containers keep
  // it visible, as Docker does.
  if (isCgroup2UnifiedMode() && !privileged) withLinuxNamespace(s, { type: "cgroup" });

  // The user is resolved inside the image, then the groups it belongs to there.
  let userstr: string;
  try {
    userstr = generateUserString(sc?.runAsUsername ?? "", sc?.runAsUser, sc?.runAsGroup) || image.User || "";
  } catch (err) {
    throw wrap(err, "failed to generate user string");
  }
  if (userstr !== "") await withUser(s, userstr, i.withRootfs);
  await withAdditionalGids(s, sc?.runAsUsername || String(sc?.runAsUser?.value ?? 0n), i.withRootfs);
  try {
    checkApparmor(requestedProfile(sc?.apparmor, sc?.apparmorProfile ?? ""));
  } catch (err) {
    throw wrap(err, "failed to generate apparmor spec opts");
  }
  try {
    await withSeccomp(
      s,
      requestedProfile(sc?.seccomp, sc?.seccompProfilePath ?? ""),
      privileged,
      await seccompEnabled(),
    );
  } catch (err) {
    throw wrap(err, "failed to generate seccomp spec opts");
  }
  withSupplementalGroups(s, sc?.supplementalGroups ?? []);
  await copyVolumeContents(volumes, i.withRootfs);
  return s;
}
