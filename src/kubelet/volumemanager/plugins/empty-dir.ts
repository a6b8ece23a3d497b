// Port of kubelet 1.28 pkg/volume/emptydir (empty_dir.go, empty_dir_linux.go's mount detector).
// An emptyDir is a directory in the pod's volumes, or a tmpfs mounted there for medium Memory. The
// configMap, secret, downwardAPI and projected plugins wrap one (NewWrapperMounter) and write into it.
import { chmod, lstat, mkdir, realpath, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { EmptyDirVolumeSource, Pod } from "kubernetes-types/core/v1.js";
import { BerthError, notImplemented } from "../../../lib/errdefs.js";
import { mountAll, readMountInfo, unmountAll } from "../../../lib/mount/mount.js";
import { parseQuantity, Quantity } from "../../api/quantity.js";
import { QuotaPeriod, resourceConfigForPod } from "../../cm/helpers-linux.js";
import type { FeatureGates } from "../../features/features.js";
import { removeAllOneFilesystem } from "../remove-all.js";
import { podUidOf, type VolumeHost, type VolumePlugin } from "../volume-plugin.js";

export const emptyDirPluginName = "kubernetes.io/empty-dir";

/** Containers run as any user, so an emptyDir is open to all (upstream issue 2630). */
const perm = 0o777;

export const emptyDirPlugin: VolumePlugin = {
  name: emptyDirPluginName,
  source: "emptyDir",
  requiresRemount: false,
  async setUp(host, pod, volume) {
    const dir = host.getPodVolumeDir(podUidOf(pod), emptyDirPluginName, volume.name);
    await setUpEmptyDir(host, pod, volume.name, volume.emptyDir ?? {}, dir);
    return { hostPath: dir };
  },
  tearDown(host, podUid, volumeName) {
    const dir = host.getPodVolumeDir(podUid, emptyDirPluginName, volumeName);
    return tearDownEmptyDir(host, podUid, volumeName, dir);
  },
};

/** NewWrapperMounter's name for the emptyDir under another plugin's volume: its ready marker's name. */
export function wrappedVolumeName(volumeName: string): string {
  return `wrapped_${volumeName}`;
}

/**
 * emptyDir.SetUpAt: makes `dir` an emptyDir of `source`'s medium. `name` names the ready marker in the
 * pod's emptyDir plugin directory, which makes a second call a no-op while the volume is intact.
 */
export async function setUpEmptyDir(
  host: VolumeHost,
  pod: Pod,
  name: string,
  source: EmptyDirVolumeSource,
  dir: string,
): Promise<void> {
  const medium = source.medium ?? "";
  const readyDir = join(host.getPodPluginDir(podUidOf(pod), emptyDirPluginName), name);
  if (await isReady(readyDir)) {
    if (medium === "Memory" && (await getMountMedium(dir)).isMount) return;
    if (medium === "") {
      if (await exists(dir)) return;
      // Someone removed the volume under a running pod: set it up anew.
      host.log.warn(
        { readyDir, dir },
        "volume ready file exists, but the volume dir does not; removing the ready dir",
      );
      await rm(readyDir, { recursive: true, force: true });
    }
  }
  if (medium === "") await setupDir(dir);
  else if (medium === "Memory") await setupTmpfs(host, pod, source, dir);
  else if (medium.startsWith("HugePages")) {
    throw notImplemented(`emptyDir medium ${JSON.stringify(medium)} is not supported by berth's kubelet`);
  } else throw new BerthError("InvalidArgument", `unknown storage medium ${JSON.stringify(medium)}`);
  await setReady(readyDir);
}

/**
 * emptyDir.TearDownAt: unmounts a memory-backed volume and deletes the directory with its contents.
 * A missing directory is already torn down.
 */
export async function tearDownEmptyDir(
  host: VolumeHost,
  podUid: string,
  name: string,
  dir: string,
): Promise<void> {
  const readyDir = join(host.getPodPluginDir(podUid, emptyDirPluginName), name);
  await rm(readyDir, { recursive: true, force: true });
  if (!(await exists(dir))) {
    host.log.warn({ dir }, "unmount skipped because path does not exist");
    return;
  }
  const { medium, isMount } = await getMountMedium(dir);
  if (isMount && (medium === "Memory" || medium === "HugePages")) await unmountAll(dir);
  // Anything else still mounted below makes this fail rather than delete what it holds.
  await removeAllOneFilesystem(dir);
}

/**
 * calculateEmptyDirMemorySize: a memory-backed volume is as large as the pod may use: the node's
 * allocatable memory, or the pod's memory limit when lower, or the volume's sizeLimit when lower still.
 * Zero leaves the size to the kernel (half of RAM). SizeMemoryBackedVolumes is on, as by default in 1.28.
 */
export function calculateEmptyDirMemorySize(
  nodeAllocatableMemory: Quantity,
  sizeLimit: Quantity | undefined,
  pod: Pod,
  gates: Pick<FeatureGates, "CustomCPUCFSQuotaPeriod" | "InPlacePodVerticalScaling" | "SidecarContainers">,
): Quantity {
  let size = nodeAllocatableMemory;
  // The function that sizes the pod's cgroup, so the volume matches the memory the pod can get.
  const podMemory = resourceConfigForPod(pod, false, QuotaPeriod, false, gates).memory;
  if (podMemory !== undefined) {
    const podLimit = new Quantity(podMemory * 1_000_000_000n);
    if (podLimit.cmp(Quantity.zero) > 0 && podLimit.cmp(size) <= 0) size = podLimit;
  }
  if (sizeLimit !== undefined && sizeLimit.cmp(Quantity.zero) > 0 && sizeLimit.cmp(size) <= 0)
    size = sizeLimit;
  return size;
}

async function setupTmpfs(
  host: VolumeHost,
  pod: Pod,
  source: EmptyDirVolumeSource,
  dir: string,
): Promise<void> {
  await setupDir(dir);
  const { medium, isMount } = await getMountMedium(dir);
  if (isMount && medium === "Memory") return;
  const size = calculateEmptyDirMemorySize(
    parseQuantity(host.nodeAllocatable.memory ?? "0"),
    source.sizeLimit === undefined ? undefined : parseQuantity(source.sizeLimit),
    pod,
    host.featureGates,
  ).value();
  host.log.debug({ pod: pod.metadata?.uid, dir, size: String(size) }, "mounting tmpfs for volume");
  await mountAll([{ type: "tmpfs", source: "tmpfs", options: size > 0n ? [`size=${size}`] : [] }], dir);
}

/** setupDir: the directory with mode 0777 whatever the kubelet's umask. */
async function setupDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: perm });
  if (((await lstat(dir)).mode & 0o777) !== perm) await chmod(dir, perm);
}

type StorageMedium = "" | "Memory" | "HugePages";

/**
 * GetMountMedium: whether something is mounted on `dir` itself, and the medium of the topmost mount
 * there (a tmpfs is Memory). mountinfo is the authority: a bind of the same filesystem counts too.
 */
async function getMountMedium(dir: string): Promise<{ medium: StorageMedium; isMount: boolean }> {
  const real = await realpath(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw err;
  });
  if (real === undefined) return { medium: "", isMount: false };
  const top = (await readMountInfo()).filter((m) => m.mountPoint === real).at(-1);
  if (!top) return { medium: "", isMount: false };
  const medium = top.fsType === "tmpfs" ? "Memory" : top.fsType === "hugetlbfs" ? "HugePages" : "";
  return { medium, isMount: true };
}

// volumeutil.SetReady / IsReady: a "ready" file marks a volume whose setup completed.
async function isReady(dir: string): Promise<boolean> {
  return stat(join(dir, "ready")).then(
    (s) => s.isFile(),
    () => false,
  );
}

async function setReady(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o750 });
  await writeFile(join(dir, "ready"), "", { mode: 0o600 });
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return false;
      throw err;
    },
  );
}
