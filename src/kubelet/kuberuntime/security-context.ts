// pkg/kubelet/kuberuntime/security_context.go (kubelet 1.28), with the pieces it calls: the pod and
// container security contexts merged (pkg/securitycontext/util.go), the seccomp profile choice
// (kuberuntime/helpers.go getSeccompProfile), the AppArmor annotation (pkg/security/apparmor) and the
// pod's namespaces (kuberuntime/util/util.go NamespacesForPod). The result is the
// LinuxContainerSecurityContext the kubelet sends in CreateContainer.
import path from "node:path";
import { create } from "@bufbuild/protobuf";
import type {
  Capabilities,
  Container,
  Pod,
  PodSecurityContext,
  SELinuxOptions,
  SeccompProfile,
  SecurityContext,
} from "kubernetes-types/core/v1.js";
import {
  Int64ValueSchema,
  type LinuxContainerSecurityContext,
  LinuxContainerSecurityContextSchema,
  NamespaceMode,
  type NamespaceOption,
  NamespaceOptionSchema,
  type SecurityProfile,
  SecurityProfile_ProfileType,
  SecurityProfileSchema,
} from "../../cri/gen/runtime/v1/api_pb.js";
import { invalidArgument } from "../../lib/errdefs.js";

/** Where Localhost seccomp profiles live: <kubelet root dir>/seccomp, with the kubelet's default root. */
export const defaultSeccompProfileRoot = "/var/lib/kubelet/seccomp";

const appArmorContainerAnnotationKeyPrefix = "container.apparmor.security.beta.kubernetes.io/";

/** The kubelet settings the security context depends on (KubeRuntimeSettings provides them). */
export interface SecurityContextSettings {
  /** seccompDefault: RuntimeDefault instead of Unconfined when the pod names no profile. */
  seccompDefault: boolean;
  /** Defaults to defaultSeccompProfileRoot. */
  seccompProfileRoot?: string;
}

/**
 * determineEffectiveSecurityContext: the container's security context with the pod's filled in, the
 * seccomp and AppArmor profiles, the image's user when the pod sets none (`uid`, else `username`),
 * the pod's namespaces and supplemental groups (fsGroup first), no_new_privs and the /proc paths.
 */
export function determineEffectiveSecurityContext(
  pod: Pod,
  container: Container,
  uid: bigint | undefined,
  username: string,
  settings: SecurityContextSettings,
): LinuxContainerSecurityContext {
  const effective = effectiveSecurityContext(pod, container);
  const synthesized = convertToRuntimeSecurityContext(effective);

  synthesized.seccomp = getSeccompProfile(
    container.name,
    pod.spec?.securityContext,
    container.securityContext,
    settings.seccompDefault,
    settings.seccompProfileRoot ?? defaultSeccompProfileRoot,
  );
  // 1.28 still sends AppArmor in the deprecated string field, straight from the beta annotation.
  synthesized.apparmorProfile =
    pod.metadata?.annotations?.[appArmorContainerAnnotationKeyPrefix + container.name] ?? "";

  if (!synthesized.runAsUser) {
    if (uid !== undefined) synthesized.runAsUser = create(Int64ValueSchema, { value: uid });
    synthesized.runAsUsername = username;
  }

  synthesized.namespaceOptions = namespacesForPod(pod);
  const podSc = pod.spec?.securityContext;
  if (podSc?.fsGroup !== undefined) synthesized.supplementalGroups.push(BigInt(podSc.fsGroup));
  for (const group of podSc?.supplementalGroups ?? []) synthesized.supplementalGroups.push(BigInt(group));

  synthesized.noNewPrivs = addNoNewPrivileges(effective);
  synthesized.maskedPaths = convertToRuntimeMaskedPaths(effective.procMount);
  synthesized.readonlyPaths = convertToRuntimeReadonlyPaths(effective.procMount);
  return synthesized;
}

/** convertToRuntimeSecurityContext: the fields that map one to one. */
export function convertToRuntimeSecurityContext(sc: SecurityContext): LinuxContainerSecurityContext {
  return create(LinuxContainerSecurityContextSchema, {
    capabilities: convertToRuntimeCapabilities(sc.capabilities),
    selinuxOptions: convertToRuntimeSELinuxOption(sc.seLinuxOptions),
    runAsUser: sc.runAsUser === undefined ? undefined : { value: BigInt(sc.runAsUser) },
    runAsGroup: sc.runAsGroup === undefined ? undefined : { value: BigInt(sc.runAsGroup) },
    privileged: sc.privileged ?? false,
    readonlyRootfs: sc.readOnlyRootFilesystem ?? false,
  });
}

function convertToRuntimeCapabilities(caps: Capabilities | undefined) {
  if (!caps) return undefined;
  return { addCapabilities: [...(caps.add ?? [])], dropCapabilities: [...(caps.drop ?? [])] };
}

function convertToRuntimeSELinuxOption(opts: SELinuxOptions | undefined) {
  if (!opts) return undefined;
  return { user: opts.user ?? "", role: opts.role ?? "", type: opts.type ?? "", level: opts.level ?? "" };
}

/** The container fields that override the pod's in a merged security context. */
const containerOverrides = [
  "seLinuxOptions",
  "capabilities",
  "privileged",
  "runAsUser",
  "runAsGroup",
  "runAsNonRoot",
  "readOnlyRootFilesystem",
  "allowPrivilegeEscalation",
  "procMount",
] as const;

/**
 * securitycontext.DetermineEffectiveSecurityContext: the pod-level settings that also exist per
 * container (SELinux, Windows options, user, group, runAsNonRoot), overridden by the container's own.
 */
export function effectiveSecurityContext(pod: Pod, container: Container): SecurityContext {
  const podSc = pod.spec?.securityContext;
  const own = container.securityContext;
  if (!podSc) return own ? structuredClone(own) : {};
  const merged: SecurityContext = withoutUndefined({
    seLinuxOptions: podSc.seLinuxOptions && { ...podSc.seLinuxOptions },
    windowsOptions: podSc.windowsOptions && { ...podSc.windowsOptions },
    runAsUser: podSc.runAsUser,
    runAsGroup: podSc.runAsGroup,
    runAsNonRoot: podSc.runAsNonRoot,
  });
  if (!own) return merged;
  for (const key of containerOverrides) {
    if (own[key] !== undefined) Object.assign(merged, { [key]: structuredClone(own[key]) });
  }
  // Windows options merge field by field.
  if (own.windowsOptions)
    merged.windowsOptions = { ...merged.windowsOptions, ...withoutUndefined(own.windowsOptions) };
  return merged;
}

function withoutUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** AddNoNewPrivileges: only an explicit allowPrivilegeEscalation: false sets no_new_privs. */
export function addNoNewPrivileges(sc: SecurityContext): boolean {
  return sc.allowPrivilegeEscalation === false;
}

// The /proc and /sys paths a container does not see (masked) or cannot write (read-only) unless its
// procMount is Unmasked; the kubelet keeps them in step with Docker's defaults.
const defaultMaskedPaths = [
  "/proc/acpi",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/proc/scsi",
  "/sys/firmware",
];
const defaultReadonlyPaths = [
  "/proc/asound",
  "/proc/bus",
  "/proc/fs",
  "/proc/irq",
  "/proc/sys",
  "/proc/sysrq-trigger",
];

export function convertToRuntimeMaskedPaths(procMount: string | undefined): string[] {
  return procMount === "Unmasked" ? [] : [...defaultMaskedPaths];
}

export function convertToRuntimeReadonlyPaths(procMount: string | undefined): string[] {
  return procMount === "Unmasked" ? [] : [...defaultReadonlyPaths];
}

/**
 * getSeccompProfile: the container's seccompProfile field, else the pod's, else RuntimeDefault when
 * seccompDefault is on and Unconfined when it is off. 1.28 reads the fields only, not the old annotations.
 */
export function getSeccompProfile(
  containerName: string,
  podSc: PodSecurityContext | undefined,
  containerSc: SecurityContext | undefined,
  fallbackToRuntimeDefault: boolean,
  profileRoot: string,
): SecurityProfile {
  const field = containerSc?.seccompProfile ?? podSc?.seccompProfile;
  if (field) return fieldSeccompProfile(containerName, field, profileRoot);
  return profile(
    fallbackToRuntimeDefault
      ? SecurityProfile_ProfileType.RuntimeDefault
      : SecurityProfile_ProfileType.Unconfined,
  );
}

function fieldSeccompProfile(
  containerName: string,
  field: SeccompProfile,
  profileRoot: string,
): SecurityProfile {
  switch (field.type) {
    case "RuntimeDefault":
      return profile(SecurityProfile_ProfileType.RuntimeDefault);
    case "Localhost":
      if (!field.localhostProfile) {
        throw invalidArgument(
          `seccomp profile of container "${containerName}": localhostProfile must be set if seccompProfile type is Localhost`,
        );
      }
      return profile(SecurityProfile_ProfileType.Localhost, joinPath(profileRoot, field.localhostProfile));
    default:
      // Unconfined, and any type this kubelet does not know.
      return profile(SecurityProfile_ProfileType.Unconfined);
  }
}

function profile(profileType: SecurityProfile_ProfileType, localhostRef = ""): SecurityProfile {
  return create(SecurityProfileSchema, { profileType, localhostRef });
}

/** filepath.Join: joined and cleaned lexically, without a trailing slash. */
function joinPath(root: string, name: string): string {
  const joined = path.posix.join(root, name);
  return joined.length > 1 && joined.endsWith("/") ? joined.slice(0, -1) : joined;
}

/**
 * NamespacesForPod: network and IPC are the pod's unless hostNetwork/hostIPC; PID is the container's
 * own unless hostPID or shareProcessNamespace. User namespaces stay unset (the 1.28 gate is off).
 */
export function namespacesForPod(pod: Pod): NamespaceOption {
  const spec = pod.spec;
  let pid = NamespaceMode.CONTAINER;
  if (spec?.hostPID) pid = NamespaceMode.NODE;
  else if (spec?.shareProcessNamespace) pid = NamespaceMode.POD;
  return create(NamespaceOptionSchema, {
    network: spec?.hostNetwork ? NamespaceMode.NODE : NamespaceMode.POD,
    ipc: spec?.hostIPC ? NamespaceMode.NODE : NamespaceMode.POD,
    pid,
  });
}

/**
 * verifyRunAsNonRoot (security_context_others.go): with runAsNonRoot the container must not run as
 * uid 0, whether the pod says so or the image does; an image user given only by name cannot be checked
 * and is refused.
 */
export function verifyRunAsNonRoot(
  pod: Pod,
  container: Container,
  uid: bigint | undefined,
  username: string,
): void {
  const sc = effectiveSecurityContext(pod, container);
  if (!sc.runAsNonRoot) return;
  const where = `(pod: "${pod.metadata?.name}_${pod.metadata?.namespace}(${pod.metadata?.uid})", container: ${container.name})`;
  if (sc.runAsUser !== undefined) {
    if (sc.runAsUser === 0) throw invalidArgument(`container's runAsUser breaks non-root policy ${where}`);
    return;
  }
  if (uid === 0n) throw invalidArgument(`container has runAsNonRoot and image will run as root ${where}`);
  if (uid === undefined && username !== "") {
    throw invalidArgument(
      `container has runAsNonRoot and image has non-numeric user (${username}), cannot verify user is non-root ${where}`,
    );
  }
}
