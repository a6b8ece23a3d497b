// After containerd 1.6 pkg/cri/server/sandbox_run_linux.go (setupSandboxFiles, parseDNSOptions,
// cleanupSandboxFiles): the files every container of a pod shares. /etc/hostname, /etc/hosts
// and /etc/resolv.conf live in the sandbox's root dir; /dev/shm is a tmpfs in its state dir,
// unless the pod uses the host's IPC namespace and with it the host's /dev/shm.
import { mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { hostname as osHostname } from "node:os";
import { join } from "node:path";
import { NamespaceMode, type PodSandboxConfig } from "../../cri/gen/runtime/v1/api_pb.js";
import { wrap } from "../../lib/errdefs.js";
import { mountAll, unmountAll } from "../../lib/mount/mount.js";

export interface SandboxFiles {
  hostname: string;
  hosts: string;
  resolvConf: string;
  /** "" when the pod uses the host IPC namespace (then /dev/shm is the host's) */
  shm: string;
}

/** containerd's defaultShmSize: 64 MiB, Docker's default too. */
const shmSize = 64 * 1024 * 1024;

/** The resolv.conf lines of a pod's DNS config; "" when it sets nothing. */
export function parseDnsOptions(servers: string[], searches: string[], options: string[]): string {
  let out = "";
  if (searches.length > 0) out += `search ${searches.join(" ")}\n`;
  if (servers.length > 0) out += `nameserver ${servers.join("\nnameserver ")}\n`;
  if (options.length > 0) out += `options ${options.join(" ")}\n`;
  return out;
}

// containerd's CopyFile: the copy gets mode 0644 whatever the source has.
async function copyFile(src: string, dst: string): Promise<void> {
  await writeFile(dst, await readFile(src), { mode: 0o644 });
}

/** Whether the pod shares the host's IPC namespace. */
function hostIpc(config: PodSandboxConfig): boolean {
  return config.linux?.securityContext?.namespaceOptions?.ipc === NamespaceMode.NODE;
}

/**
 * Writes the pod's hostname, hosts and resolv.conf into `rootDir` and mounts its /dev/shm
 * under `stateDir` (both must exist). On failure, what was made is removed again.
 */
export async function setupSandboxFiles(
  id: string,
  config: PodSandboxConfig,
  dirs: { rootDir: string; stateDir: string },
): Promise<SandboxFiles> {
  const files: SandboxFiles = {
    hostname: join(dirs.rootDir, "hostname"),
    hosts: join(dirs.rootDir, "hosts"),
    resolvConf: join(dirs.rootDir, "resolv.conf"),
    shm: hostIpc(config) ? "" : join(dirs.stateDir, "shm"),
  };
  try {
    const hostname = config.hostname || osHostname();
    await writeFile(files.hostname, `${hostname}\n`, { mode: 0o644 }).catch((err) => {
      throw wrap(err, `failed to write hostname to "${files.hostname}"`);
    });
    await copyFile("/etc/hosts", files.hosts).catch((err: unknown) => {
      throw wrap(err, `failed to generate sandbox hosts file "${files.hosts}"`);
    });
    const dns = config.dnsConfig;
    const resolv = dns ? parseDnsOptions(dns.servers, dns.searches, dns.options) : "";
    if (resolv === "") {
      await copyFile("/etc/resolv.conf", files.resolvConf).catch((err: unknown) => {
        throw wrap(err, `failed to copy host's resolv.conf to "${files.resolvConf}"`);
      });
    } else {
      await writeFile(files.resolvConf, resolv, { mode: 0o644 }).catch((err) => {
        throw wrap(err, `failed to write resolv content to "${files.resolvConf}"`);
      });
    }
    if (files.shm === "") {
      await stat("/dev/shm").catch((err) => {
        throw wrap(err, `host "/dev/shm" is not available for host ipc`);
      });
    } else {
      await mkdir(files.shm, { recursive: true, mode: 0o700 });
      await mountAll(
        [
          {
            type: "tmpfs",
            source: "shm",
            options: ["nosuid", "nodev", "noexec", `mode=1777,size=${shmSize}`],
          },
        ],
        files.shm,
      ).catch((err) => {
        throw wrap(err, "failed to mount sandbox shm");
      });
    }
    return files;
  } catch (err) {
    await unmountSandboxFiles(files).catch(() => {});
    await Promise.all(
      [files.hostname, files.hosts, files.resolvConf, files.shm]
        .filter((f) => f !== "")
        .map((f) => rm(f, { recursive: true, force: true }).catch(() => {})),
    );
    throw wrap(err, `failed to setup sandbox files for "${id}"`);
  }
}

/** Unmounts the pod's /dev/shm; the files go with the sandbox dirs. Safe to call again. */
export async function unmountSandboxFiles(files: SandboxFiles): Promise<void> {
  if (files.shm === "") return;
  await unmountAll(files.shm).catch((err) => {
    throw wrap(err, `failed to unmount "${files.shm}"`);
  });
}
