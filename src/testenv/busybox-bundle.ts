// Busybox bundles for the runc and shim tests: the busybox test image's layer unpacked into a
// rootfs, and a minimal runtime spec in the shape `runc spec` prints, with its own
// namespaces (a new network namespace too) and a cgroup under a parent the test owns.
import { createReadStream } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { newLogger } from "../lib/log.js";
import type { LinuxResources, Spec } from "../runc/oci-spec.js";
import { applyLayer } from "../runtime/archive/apply.js";
import { decompressStream } from "../runtime/archive/decompress.js";
import { buildTestImages, defaultImagesDir } from "./images.js";

/** Unpacks the busybox test image into `dir` (created); returns `dir`. */
export async function unpackBusybox(dir: string): Promise<string> {
  const busybox = (await buildTestImages(defaultImagesDir())).find((i) => i.name === "busybox");
  if (!busybox) throw new Error("the test images have no busybox");
  await mkdir(dir, { recursive: true });
  for (const digest of busybox.layerDigests) {
    const blob = join(busybox.layoutDir, "blobs", "sha256", digest.replace(/^sha256:/, ""));
    const { stream } = await decompressStream(createReadStream(blob));
    await applyLayer(dir, stream, { log: newLogger("error") });
  }
  return dir;
}

export interface BundleSpecOptions {
  args: string[];
  /** Absolute path of the (shared, unchanged) rootfs. */
  rootfs: string;
  /** e.g. "/berth-test-shim-123/c1". */
  cgroupsPath: string;
  resources?: LinuxResources;
  oomScoreAdj?: number;
  env?: string[];
}

const capabilities = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

export function bundleSpec(o: BundleSpecOptions): Spec {
  return {
    ociVersion: "1.0.2-dev",
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: o.args,
      env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", ...(o.env ?? [])],
      cwd: "/",
      capabilities: { bounding: capabilities, effective: capabilities, permitted: capabilities },
      rlimits: [{ type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
      ...(o.oomScoreAdj !== undefined ? { oomScoreAdj: o.oomScoreAdj } : {}),
    },
    root: { path: o.rootfs, readonly: false },
    hostname: "berth-test",
    mounts: [
      { destination: "/proc", type: "proc", source: "proc" },
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
        options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"],
      },
      {
        destination: "/dev/shm",
        type: "tmpfs",
        source: "shm",
        options: ["nosuid", "noexec", "nodev", "mode=1777"],
      },
      { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
    ],
    linux: {
      cgroupsPath: o.cgroupsPath,
      ...(o.resources ? { resources: o.resources } : {}),
      namespaces: [{ type: "pid" }, { type: "network" }, { type: "ipc" }, { type: "uts" }, { type: "mount" }],
      maskedPaths: ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"],
      readonlyPaths: ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    },
  };
}

/** Writes `spec` as `<dir>/config.json` (dir created); returns `dir`. */
export async function writeBundle(dir: string, spec: Spec): Promise<string> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "config.json"), JSON.stringify(spec, null, 2));
  return dir;
}
