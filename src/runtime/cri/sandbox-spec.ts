// After containerd 1.6 pkg/cri/server/sandbox_run_linux.go (sandboxContainerSpec and
// sandboxContainerSpecOpts): the runtime spec of a pod's infra (pause) container. It runs the
// image's entrypoint read-only, holds the pod's namespaces, and carries the pod's DNS file,
// sysctls and security context; it gets the minimum CPU shares and is the last the OOM killer picks.
import { NamespaceMode, type PodSandboxConfig } from "../../cri/gen/runtime/v1/api_pb.js";
import { BerthError, wrap } from "../../lib/errdefs.js";
import type { Spec } from "../../runc/oci-spec.js";
import type { ImageConfig } from "../images/oci.js";
import type { SandboxFiles } from "./sandbox-files.js";
import {
  Annotations,
  defaultUnixSpec,
  linuxOf,
  oomScoreAdj,
  passthroughAnnotations,
  processOf,
  relativeRootfsPath,
  requestedProfile,
  seccompEnabled,
  withAnnotations,
  withEnv,
  withLinuxNamespace,
  withMounts,
  withoutNamespace,
  withSeccomp,
  withSysctls,
} from "./spec-opts.js";
import { generateUserString, type WithRootfs, withSupplementalGroups, withUser } from "./user.js";

/** The kubelet's choice for infra containers: only critical system processes rank lower. */
export const defaultSandboxOomScoreAdj = -998;
/** The minimum the kernel accepts: a pause container needs no CPU. */
export const defaultSandboxCpuShares = 2;

export interface SandboxSpecInput {
  id: string;
  config: PodSandboxConfig;
  imageConfig: ImageConfig["config"];
  /** "" = host network */
  netnsPath: string;
  files: SandboxFiles;
  /** "" = containerd's default, /k8s.io/<id> */
  cgroupsPath: string;
  restrictOomScoreAdj: boolean;
  /** The pause image's rootfs, for the user lookups a non-numeric or uid-only user needs. */
  withRootfs: WithRootfs;
  /** The runtime's pod_annotations: globs of pod annotations copied into the spec (default none). */
  podAnnotations?: string[];
}

export async function sandboxSpec(i: SandboxSpecInput): Promise<Spec> {
  const { id, config } = i;
  const image = i.imageConfig ?? {};
  const sc = config.linux?.securityContext;
  const ns = sc?.namespaceOptions;
  const s = defaultUnixSpec(id, i.cgroupsPath);
  const p = processOf(s);

  withEnv(s, image.Env ?? []);
  s.root = { path: relativeRootfsPath, readonly: true };
  if (config.hostname !== "") s.hostname = config.hostname;
  if (image.WorkingDir) p.cwd = image.WorkingDir;
  const args = [...(image.Entrypoint ?? []), ...(image.Cmd ?? [])];
  if (args.length === 0) {
    throw new BerthError(
      "Unknown",
      `invalid empty entrypoint and cmd in image config ${JSON.stringify(image)}`,
    );
  }
  p.args = args;

  if (ns?.network === NamespaceMode.NODE) {
    // The host's network comes with the host's hostname.
    withoutNamespace(s, "network");
    withoutNamespace(s, "uts");
  } else {
    withLinuxNamespace(s, { type: "network", path: i.netnsPath });
  }
  if (ns?.pid === NamespaceMode.NODE) withoutNamespace(s, "pid");
  if (ns?.ipc === NamespaceMode.NODE) withoutNamespace(s, "ipc");

  withMounts(s, [
    { destination: "/dev/shm", type: "bind", source: i.files.shm || "/dev/shm", options: ["rbind", "ro"] },
    // Runtimes that run pods in VMs read the pod's DNS from here.
    { destination: "/etc/resolv.conf", type: "bind", source: i.files.resolvConf, options: ["rbind", "ro"] },
  ]);
  // Applied before the user below, which resets the additional gids: containerd 1.6 does the same.
  withSupplementalGroups(s, sc?.supplementalGroups ?? []);
  withSysctls(s, config.linux?.sysctls ?? {});
  const linux = linuxOf(s);
  linux.resources = { ...linux.resources, cpu: { ...linux.resources?.cpu, shares: defaultSandboxCpuShares } };

  const res = config.linux?.resources;
  if (res) {
    withAnnotations(s, {
      [Annotations.SandboxCpuPeriod]: String(res.cpuPeriod),
      [Annotations.SandboxCpuQuota]: String(res.cpuQuota),
      [Annotations.SandboxCpuShares]: String(res.cpuShares),
      [Annotations.SandboxMem]: String(res.memoryLimitInBytes),
    });
  }
  p.oomScoreAdj = await oomScoreAdj(defaultSandboxOomScoreAdj, i.restrictOomScoreAdj);
  withAnnotations(s, passthroughAnnotations(config.annotations, i.podAnnotations ?? []));
  withAnnotations(s, {
    [Annotations.ContainerType]: Annotations.ContainerTypeSandbox,
    [Annotations.SandboxId]: id,
    [Annotations.SandboxNamespace]: config.metadata?.namespace ?? "",
    [Annotations.SandboxUid]: config.metadata?.uid ?? "",
    [Annotations.SandboxName]: config.metadata?.name ?? "",
    [Annotations.SandboxLogDir]: config.logDirectory,
  });

  try {
    const profile = requestedProfile(sc?.seccomp, sc?.seccompProfilePath ?? "");
    await withSeccomp(s, profile, sc?.privileged ?? false, await seccompEnabled());
  } catch (err) {
    throw wrap(err, "failed to generate seccomp spec opts");
  }
  let userstr: string;
  try {
    userstr = generateUserString("", sc?.runAsUser, sc?.runAsGroup) || image.User || "";
  } catch (err) {
    throw wrap(err, "failed to generate user string");
  }
  if (userstr !== "") await withUser(s, userstr, i.withRootfs);
  return s;
}
