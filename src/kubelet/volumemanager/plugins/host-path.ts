// Port of kubelet 1.28 pkg/volume/hostpath/host_path.go (the mounter and checkType) with the file type
// probe of pkg/volume/util/hostutil (GetFileType). The volume is the node's path itself: setting it up
// only checks, or creates, what the pod says should be there; tearing it down leaves it alone.
import { constants, mkdir, open, stat } from "node:fs/promises";
import { failedPrecondition, invalidArgument } from "../../../lib/errdefs.js";
import type { VolumePlugin } from "../volume-plugin.js";

export const hostPathPluginName = "kubernetes.io/host-path";

export const hostPathPlugin: VolumePlugin = {
  name: hostPathPluginName,
  source: "hostPath",
  requiresRemount: false,
  async setUp(_host, _pod, volume) {
    const path = volume.hostPath?.path ?? "";
    // validation.ValidatePathNoBacksteps
    if (path.split("/").includes(".."))
      throw invalidArgument(`invalid HostPath \`${path}\`: must not contain '..'`);
    const pathType = volume.hostPath?.type ?? "";
    if (pathType !== "") await checkType(path, pathType);
    return { hostPath: path };
  },
  async tearDown() {},
};

/**
 * checkType: whether `path` is what HostPathType `pathType` asks for, creating it for the OrCreate
 * types (a directory 0755 with its parents, an empty file 0644 in an existing directory).
 */
export async function checkType(path: string, pathType: string): Promise<void> {
  const info = await stat(path).catch(() => undefined);
  switch (pathType) {
    case "DirectoryOrCreate":
      if (!info) return makeDir(path);
      return requireType(info.isDirectory(), path, "a directory");
    case "Directory":
      return requireType(info?.isDirectory(), path, "a directory");
    case "FileOrCreate":
      if (!info) return makeFile(path);
      return requireType(!info.isDirectory(), path, "a file");
    // Anything that exists and is no directory passes as a file, sockets and devices included.
    case "File":
      return requireType(info && !info.isDirectory(), path, "a file");
    case "Socket":
      return requireType(info?.isSocket(), path, "a socket file");
    case "CharDevice":
      return requireType(info?.isCharacterDevice(), path, "a character device");
    case "BlockDevice":
      return requireType(info?.isBlockDevice(), path, "a block device");
    default:
      throw invalidArgument(`${pathType} is an invalid volume type`);
  }
}

function requireType(ok: boolean | undefined, path: string, what: string): void {
  if (!ok) throw failedPrecondition(`hostPath type check failed: ${path} is not ${what}`);
}

async function makeDir(path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o755 });
}

// O_CREAT without O_EXCL: a file that appeared meanwhile is fine, as upstream's makeFile has it.
async function makeFile(path: string): Promise<void> {
  const file = await open(path, constants.O_RDONLY | constants.O_CREAT, 0o644);
  await file.close();
}
