// The images berth builds from this host's binaries, installed by Debian packages
// (busybox-static, catatonit), so that pods run with no registry at all:
//   busybox  busybox-static's /bin/busybox with every applet hard-linked to it, plus a minimal /etc
//   pause    catatonit (static) at /catatonit, run as `catatonit -P` (pause mode)
// `berth up` imports them as berth.local/busybox and berth.local/pause (the runtime's default
// sandbox image); the tests serve the same layers from a local registry.
import { execFile } from "node:child_process";
import { mkdir, readFile } from "node:fs/promises";
import { promisify } from "node:util";
import { failedPrecondition, messageOf } from "../lib/errdefs.js";
import {
  type BuiltImage,
  buildImageBlobs,
  DEFAULT_PATH_ENV,
  type ImageSpec,
  type LayerEntry,
  normalisePath,
  writeImage,
} from "./oci-image-builder.js";

const execFileAsync = promisify(execFile);

export const BUSYBOX_SOURCE = "/bin/busybox";
export const CATATONIT_SOURCE = "/usr/bin/catatonit";

/** Lines of `/etc/passwd` in the busybox image. */
export const BUSYBOX_PASSWD = [
  "root:x:0:0:root:/root:/bin/sh",
  "berth:x:1000:1000:berth test user:/home/berth:/bin/sh",
  "nobody:x:65534:65534:nobody:/nonexistent:/bin/false",
];
/** Lines of `/etc/group` in the busybox image (user `berth` is also a member of `users`). */
export const BUSYBOX_GROUP = ["root:x:0:", "users:x:100:berth", "berth:x:1000:", "nobody:x:65534:"];

export async function busyboxSpec(busyboxPath = BUSYBOX_SOURCE): Promise<ImageSpec> {
  const binary = await readFile(busyboxPath);
  const { stdout } = await execFileAsync(busyboxPath, ["--list-full"], { encoding: "utf8" });
  const applets = stdout
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && l !== "bin/busybox")
    .map(normalisePath);
  if (!applets.includes("bin/sh")) throw new Error(`${busyboxPath} --list-full does not list bin/sh`);
  const text = (lines: string[]) => Buffer.from(`${lines.join("\n")}\n`, "utf8");
  const entries: LayerEntry[] = [
    { kind: "dir", path: "bin", mode: 0o755 },
    { kind: "dir", path: "sbin", mode: 0o755 },
    { kind: "dir", path: "usr/bin", mode: 0o755 },
    { kind: "dir", path: "usr/sbin", mode: 0o755 },
    { kind: "dir", path: "usr/local/bin", mode: 0o755 },
    { kind: "dir", path: "etc", mode: 0o755 },
    { kind: "dir", path: "dev", mode: 0o755 },
    { kind: "dir", path: "proc", mode: 0o555 },
    { kind: "dir", path: "sys", mode: 0o555 },
    { kind: "dir", path: "tmp", mode: 0o1777 },
    { kind: "dir", path: "var/tmp", mode: 0o1777 },
    { kind: "dir", path: "root", mode: 0o700 },
    { kind: "dir", path: "home", mode: 0o755 },
    { kind: "dir", path: "home/berth", mode: 0o755, uid: 1000, gid: 1000 },
    { kind: "file", path: "bin/busybox", mode: 0o755, data: binary },
    { kind: "file", path: "etc/passwd", mode: 0o644, data: text(BUSYBOX_PASSWD) },
    { kind: "file", path: "etc/group", mode: 0o644, data: text(BUSYBOX_GROUP) },
    ...applets.map((p): LayerEntry => ({ kind: "hardlink", path: p, target: "bin/busybox" })),
  ];
  return {
    name: "busybox",
    tag: "latest",
    repository: "library/busybox",
    layers: [entries],
    config: { Cmd: ["sh"], Env: [DEFAULT_PATH_ENV] },
    createdBy: `COPY ${busyboxPath} /bin/busybox + applet hard links + /etc/passwd, /etc/group`,
  };
}

export async function pauseSpec(catatonitPath = CATATONIT_SOURCE): Promise<ImageSpec> {
  const binary = await readFile(catatonitPath);
  await assertStatic(catatonitPath);
  return {
    name: "pause",
    tag: "3.9",
    repository: "berth/pause",
    layers: [[{ kind: "file", path: "catatonit", mode: 0o755, data: binary }]],
    // Mirrors the upstream pause:3.9 config (Entrypoint, non-root user 65535, PATH), with catatonit's pause mode.
    config: {
      Entrypoint: ["/catatonit", "-P"],
      Env: [DEFAULT_PATH_ENV],
      User: "65535:65535",
      WorkingDir: "/",
    },
    createdBy: `COPY ${catatonitPath} /catatonit`,
  };
}

/** Throws unless the ELF file at `file` has no program interpreter (i.e. is statically linked). */
async function assertStatic(file: string): Promise<void> {
  const buf = await readFile(file);
  if (buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 2 || buf[5] !== 1) {
    throw new Error(`${file}: not a little-endian 64-bit ELF file`);
  }
  const phoff = Number(buf.readBigUInt64LE(0x20));
  const phentsize = buf.readUInt16LE(0x36);
  const phnum = buf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    const PT_INTERP = 3;
    if (buf.readUInt32LE(phoff + i * phentsize) === PT_INTERP) {
      throw new Error(`${file} is dynamically linked; the pause image needs a static binary`);
    }
  }
}

/** The registry host of the node's own images: a name no registry serves, so nothing is ever pulled. */
export const NodeImageRegistry = "berth.local";

/**
 * The node's images by the names pods use: busybox tagged with Debian 12's busybox-static
 * version, pause with the upstream pause version whose config it mirrors.
 */
export const NodeImages = {
  busybox: `${NodeImageRegistry}/busybox:1.35`,
  pause: `${NodeImageRegistry}/pause:3.9`,
} as const;

/**
 * Builds the node's images into `outDir` as OCI archives named for import
 * (`<outDir>/busybox.oci.tar` holds berth.local/busybox:1.35).
 */
export async function buildNodeImages(outDir: string): Promise<BuiltImage[]> {
  let specs: ImageSpec[];
  try {
    specs = [
      { ...(await busyboxSpec()), repository: "busybox", tag: "1.35" },
      { ...(await pauseSpec()), repository: "pause", tag: "3.9" },
    ];
  } catch (err) {
    throw failedPrecondition(
      `failed to build the node's images from ${BUSYBOX_SOURCE} and ${CATATONIT_SOURCE} ` +
        `(Debian's busybox-static and catatonit; scripts/setup.sh installs them): ${messageOf(err)}`,
      err,
    );
  }
  await mkdir(outDir, { recursive: true });
  const built: BuiltImage[] = [];
  for (const spec of specs)
    built.push(await writeImage(await buildImageBlobs(spec), outDir, { imageNamePrefix: NodeImageRegistry }));
  return built;
}
