// A throw-away local OCI distribution registry (Debian's `docker-registry`, distribution v2) for tests.
//
// startRegistry() runs it on 127.0.0.1 with a kernel-chosen free port, filesystem storage and config in a
// fresh temp dir, and its output logged to <dir>/registry.log. push() copies a BuiltImage's OCI archive with
// skopeo, preserving digests, and checks the registry serves the manifest under the built digest.

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { closeSync, openSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { stringify as toYaml } from "yaml";
import {
  type BuiltImage,
  buildTestImages,
  defaultImagesDir,
  MEDIA_TYPE_INDEX,
  MEDIA_TYPE_MANIFEST,
} from "./images.js";

const execFileAsync = promisify(execFile);

export const REGISTRY_BINARY = "/usr/bin/docker-registry";
export const SKOPEO_BINARY = "/usr/bin/skopeo";

/** Accept header listing the manifest types we serve (OCI first). */
export const MANIFEST_ACCEPT = [
  MEDIA_TYPE_MANIFEST,
  MEDIA_TYPE_INDEX,
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
].join(", ");

export interface RegistryOptions {
  /** Registry binary (default /usr/bin/docker-registry). */
  binary?: string;
  /** Parent for the registry's temp dir (default os.tmpdir()). */
  tmpRoot?: string;
  /** How long to wait for `GET /v2/` to answer (default 15 s). */
  startTimeoutMs?: number;
  /** Attempts at finding a free port before giving up (default 5). */
  portAttempts?: number;
  /** Where candidate ports come from (default freePort: ask the kernel). */
  pickPort?: () => Promise<number>;
}

export interface PushResult {
  /** `<host>/<repo>:<tag>`. */
  ref: string;
  /** `<host>/<repo>@<digest>`. */
  digestRef: string;
  /** Manifest digest as reported by the registry (equal to image.manifestDigest). */
  digest: string;
}

export interface Registry {
  /** "127.0.0.1:PORT". */
  host: string;
  /** "http://127.0.0.1:PORT". */
  url: string;
  port: number;
  /** PID of the registry process. */
  pid: number;
  /** Temp dir holding config.yml, registry.log and data/; removed by stop(). */
  dir: string;
  /** The registry's combined stdout/stderr. */
  logPath: string;
  /** Copy an image into the registry as `<repo>:<tag>`; verifies the served manifest digest. */
  push(image: BuiltImage, repo: string, tag: string): Promise<PushResult>;
  /** GET a manifest; returns the `Docker-Content-Digest` header, content type and body. */
  fetchManifest(
    repo: string,
    reference: string,
  ): Promise<{ digest: string | null; mediaType: string | null; body: Buffer }>;
  /** Kill the registry (SIGTERM, then SIGKILL after 5 s), wait for it to exit, remove its temp dir. */
  stop(): Promise<void>;
}

/** Ask the kernel for a currently free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const addr = server.address();
  server.close();
  await once(server, "close");
  if (addr === null || typeof addr === "string") throw new Error("could not determine a free port");
  return addr.port;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Environment for child processes without REGISTRY_* overrides (which the registry would apply). */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("REGISTRY_")) env[k] = v;
  return env;
}

async function waitExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return true;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([once(child, "exit").then(() => true), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

async function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  if (await waitExit(child, 5000)) return;
  child.kill("SIGKILL");
  await waitExit(child, 5000);
}

class PortInUseError extends Error {}

async function launch(
  binary: string,
  dir: string,
  port: number,
  timeoutMs: number,
): Promise<{ child: ChildProcess; logPath: string }> {
  const configPath = path.join(dir, "config.yml");
  const logPath = path.join(dir, "registry.log");
  const config = {
    version: 0.1,
    log: { level: "info", formatter: "text", accesslog: { disabled: false } },
    storage: {
      filesystem: { rootdirectory: path.join(dir, "data") },
      delete: { enabled: true },
      maintenance: { uploadpurging: { enabled: false } },
    },
    http: {
      addr: `127.0.0.1:${port}`,
      secret: "berth-testenv",
      headers: { "X-Content-Type-Options": ["nosniff"] },
    },
  };
  await writeFile(configPath, toYaml(config));
  const logFd = openSync(logPath, "w");
  let child: ChildProcess;
  try {
    child = spawn(binary, ["serve", configPath], { stdio: ["ignore", logFd, logFd], env: childEnv() });
  } finally {
    closeSync(logFd);
  }
  const spawnError = once(child, "error").then(([err]) => err as Error);

  const url = `http://127.0.0.1:${port}/v2/`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const log = await readFile(logPath, "utf8").catch(() => "");
      if (/address already in use/i.test(log)) throw new PortInUseError(`port ${port} in use`);
      throw new Error(
        `docker-registry exited (${child.exitCode ?? child.signalCode}); log:\n${log.slice(-2000)}`,
      );
    }
    const err = await Promise.race([spawnError, sleep(0).then(() => null)]);
    if (err) throw new Error(`cannot start ${binary}: ${err.message}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200 || res.status === 401) return { child, logPath };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await killAndWait(child);
      const log = await readFile(logPath, "utf8").catch(() => "");
      throw new Error(
        `docker-registry did not answer ${url} within ${timeoutMs} ms; log:\n${log.slice(-2000)}`,
      );
    }
    await sleep(50);
  }
}

/** Start a private registry on 127.0.0.1 with a free port and temp-dir storage. */
export async function startRegistry(opts: RegistryOptions = {}): Promise<Registry> {
  const binary = opts.binary ?? REGISTRY_BINARY;
  const dir = await mkdtemp(path.join(opts.tmpRoot ?? os.tmpdir(), "berth-registry-"));
  const attempts = opts.portAttempts ?? 5;
  let started: { child: ChildProcess; logPath: string; port: number } | undefined;
  try {
    for (let i = 1; started === undefined; i++) {
      const port = await (opts.pickPort ?? freePort)();
      try {
        started = { ...(await launch(binary, dir, port, opts.startTimeoutMs ?? 15000)), port };
      } catch (err) {
        if (!(err instanceof PortInUseError) || i >= attempts) throw err;
      }
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }

  const { child, logPath, port } = started;
  const host = `127.0.0.1:${port}`;
  const url = `http://${host}`;
  if (child.pid === undefined) throw new Error("docker-registry has no pid");
  const pid = child.pid;
  let stopped: Promise<void> | undefined;

  const fetchManifest: Registry["fetchManifest"] = async (repo, reference) => {
    const res = await fetch(`${url}/v2/${repo}/manifests/${reference}`, {
      headers: { Accept: MANIFEST_ACCEPT },
      signal: AbortSignal.timeout(10000),
    });
    const body = Buffer.from(await res.arrayBuffer());
    if (!res.ok) throw new Error(`GET ${repo}:${reference}: HTTP ${res.status}: ${body.toString("utf8")}`);
    return {
      digest: res.headers.get("docker-content-digest"),
      mediaType: res.headers.get("content-type"),
      body,
    };
  };

  const push: Registry["push"] = async (image, repo, tag) => {
    const ref = `${host}/${repo}:${tag}`;
    const args = [
      "--insecure-policy",
      "--tmpdir",
      dir,
      "copy",
      "--quiet",
      "--preserve-digests",
      "--dest-tls-verify=false",
      "--dest-no-creds",
      `oci-archive:${image.archivePath}`,
      `docker://${ref}`,
    ];
    try {
      await execFileAsync(SKOPEO_BINARY, args, { env: childEnv(), timeout: 120000 });
    } catch (err) {
      const e = err as Error & { stderr?: string };
      throw new Error(`skopeo copy to ${ref} failed: ${e.stderr?.trim() || e.message}`);
    }
    const { digest } = await fetchManifest(repo, tag);
    if (digest !== image.manifestDigest) {
      throw new Error(`${ref}: registry serves manifest ${digest}, built ${image.manifestDigest}`);
    }
    return { ref, digestRef: `${host}/${repo}@${digest}`, digest };
  };

  const stop = () => {
    stopped ??= (async () => {
      await killAndWait(child);
      await rm(dir, { recursive: true, force: true });
    })();
    return stopped;
  };

  return { host, url, port, pid, dir, logPath, push, fetchManifest, stop };
}

export interface TestImageRef {
  image: BuiltImage;
  /** Full tag reference in the registry, e.g. "127.0.0.1:PORT/library/busybox:latest". */
  ref: string;
  /** Full digest reference, e.g. "127.0.0.1:PORT/library/busybox@sha256:...". */
  digestRef: string;
  /** Manifest digest. */
  digest: string;
  /** Config digest (image id). */
  imageId: string;
}

export interface RegistryWithTestImages {
  registry: Registry;
  busybox: TestImageRef;
  pause: TestImageRef;
}

/**
 * Build (or reuse, when the files on disk already have the right digests) the test images in
 * `<repo>/build/images` (or `imagesDir`), start a registry and push them as `library/busybox:latest` and
 * `berth/pause:3.9`.
 */
export async function startRegistryWithTestImages(
  opts: RegistryOptions & { imagesDir?: string } = {},
): Promise<RegistryWithTestImages> {
  const images = await buildTestImages(opts.imagesDir ?? defaultImagesDir());
  const find = (name: string) => {
    const img = images.find((i) => i.name === name);
    if (img === undefined) throw new Error(`test image ${name} was not built`);
    return img;
  };
  const registry = await startRegistry(opts);
  try {
    const pushed = async (image: BuiltImage, repo: string, tag: string): Promise<TestImageRef> => {
      const r = await registry.push(image, repo, tag);
      return { image, ref: r.ref, digestRef: r.digestRef, digest: r.digest, imageId: image.configDigest };
    };
    const busybox = await pushed(find("busybox"), "library/busybox", "latest");
    const pause = await pushed(find("pause"), "berth/pause", "3.9");
    return { registry, busybox, pause };
  } catch (err) {
    await registry.stop();
    throw err;
  }
}
