// A throw-away local OCI distribution registry (Debian's `docker-registry`, distribution v2) for tests.
//
// startRegistry() runs it on 127.0.0.1 with a kernel-chosen free port, filesystem storage and config in a
// fresh temp dir, and its output logged to <dir>/registry.log. push() copies a BuiltImage's (or BuiltIndex's)
// OCI archive with skopeo, preserving digests, and checks the registry serves the manifest under the built
// digest. Options turn on HTTPS with a self-signed certificate, htpasswd (bcrypt) basic auth, or token auth
// against a token server (token-server.ts); down()/up() stop and restart the process on the same port and
// storage, for tests of clients that retry.

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { closeSync, existsSync, openSync, statSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import bcrypt from "bcryptjs";
import { Agent, fetch as undiciFetch } from "undici";
import { stringify as toYaml } from "yaml";
import { freePort } from "../lib/free-port.js";
import {
  type BuiltImage,
  MEDIA_TYPE_INDEX,
  MEDIA_TYPE_MANIFEST,
  sha256,
} from "../local-images/oci-image-builder.js";
import { type BuiltIndex, buildTestImages, defaultImagesDir } from "./images.js";
import { makeSelfSignedCert, type SelfSignedCert } from "./self-signed-cert.js";
import type { RegistryTokenAuth } from "./token-server.js";

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
  /** Serve HTTPS with a fresh self-signed certificate for 127.0.0.1 (see Registry.tls). */
  tls?: boolean;
  /** Require HTTP basic auth for these accounts (user → password), kept as bcrypt hashes in an htpasswd file. */
  htpasswd?: Record<string, string>;
  /** Require bearer tokens issued by this token server. */
  tokenAuth?: RegistryTokenAuth;
  /** Account push() and fetchManifest() use when auth is on (default: the first htpasswd account). */
  credentials?: { username: string; password: string };
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
  /** "http://127.0.0.1:PORT" ("https://…" with tls). */
  url: string;
  /** The self-signed certificate served with tls (its certPath is the CA file clients trust). */
  tls?: SelfSignedCert;
  port: number;
  /** PID of the registry process (changes on up()). */
  pid: number;
  /** Temp dir holding config.yml, registry.log and data/; removed by stop(). */
  dir: string;
  /** The registry's combined stdout/stderr. */
  logPath: string;
  /** Copy an image (or a whole index) into the registry as `<repo>:<tag>`; verifies the served digest. */
  push(image: BuiltImage | BuiltIndex, repo: string, tag: string): Promise<PushResult>;
  /** GET a manifest; returns the `Docker-Content-Digest` header, content type and body. */
  fetchManifest(
    repo: string,
    reference: string,
  ): Promise<{ digest: string | null; mediaType: string | null; body: Buffer }>;
  /** Upload a blob with the registry API (monolithic upload); returns its digest. */
  putBlob(repo: string, data: Buffer): Promise<string>;
  /** PUT a manifest document of any media type (e.g. Docker schema 2); returns the served digest. */
  putManifest(repo: string, reference: string, mediaType: string, body: Buffer): Promise<string>;
  /** Path of a blob's data file in the registry's storage (to corrupt it in tests). */
  blobPath(digest: string): string;
  /** Stop the registry process, keeping its port, config and storage for up(). */
  down(): Promise<void>;
  /** Start the process again after down(), on the same port and storage; resolves once it answers. */
  up(): Promise<void>;
  /** Kill the registry (SIGTERM, then SIGKILL after 5 s), wait for it to exit, remove its temp dir. */
  stop(): Promise<void>;
}

/** Ask the kernel for a currently free TCP port on 127.0.0.1. */
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

interface Setup {
  binary: string;
  dir: string;
  timeoutMs: number;
  tls?: SelfSignedCert;
  /** Path of the htpasswd file, when basic auth is on. */
  htpasswdPath?: string;
  tokenAuth?: RegistryTokenAuth;
  /** Connects to the registry, trusting its certificate when there is one. */
  agent: Agent;
}

function registryConfig(setup: Setup, port: number) {
  const { dir, tls, htpasswdPath, tokenAuth } = setup;
  const auth = htpasswdPath
    ? { htpasswd: { realm: "berth-registry", path: htpasswdPath } }
    : tokenAuth
      ? {
          token: {
            realm: tokenAuth.realm,
            service: tokenAuth.service,
            issuer: tokenAuth.issuer,
            rootcertbundle: tokenAuth.rootCertBundle,
          },
        }
      : undefined;
  return {
    version: 0.1,
    log: { level: "info", formatter: "text", accesslog: { disabled: false } },
    storage: {
      filesystem: { rootdirectory: path.join(dir, "data") },
      delete: { enabled: true },
      maintenance: { uploadpurging: { enabled: false } },
    },
    auth,
    http: {
      addr: `127.0.0.1:${port}`,
      secret: "berth-testenv",
      headers: { "X-Content-Type-Options": ["nosniff"] },
      tls: tls ? { certificate: tls.certPath, key: tls.keyPath } : undefined,
    },
  };
}

async function launch(setup: Setup, port: number): Promise<ChildProcess> {
  const { binary, dir, timeoutMs } = setup;
  const configPath = path.join(dir, "config.yml");
  const logPath = path.join(dir, "registry.log");
  // yaml drops undefined members, so unset options leave no key behind.
  await writeFile(configPath, toYaml(registryConfig(setup, port)));
  // The log is appended to across up(); only this run's part tells why this run failed.
  const logStart = existsSync(logPath) ? statSync(logPath).size : 0;
  const runLog = async () =>
    (await readFile(logPath).catch(() => Buffer.alloc(0))).subarray(logStart).toString();
  const logFd = openSync(logPath, "a");
  let child: ChildProcess;
  try {
    child = spawn(binary, ["serve", configPath], { stdio: ["ignore", logFd, logFd], env: childEnv() });
  } finally {
    closeSync(logFd);
  }
  const spawnError = once(child, "error").then(([err]) => err as Error);

  const url = `${setup.tls ? "https" : "http"}://127.0.0.1:${port}/v2/`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const log = await runLog();
      if (/address already in use/i.test(log)) throw new PortInUseError(`port ${port} in use`);
      throw new Error(
        `docker-registry exited (${child.exitCode ?? child.signalCode}); log:\n${log.slice(-2000)}`,
      );
    }
    const err = await Promise.race([spawnError, sleep(0).then(() => null)]);
    if (err) throw new Error(`cannot start ${binary}: ${err.message}`);
    try {
      const res = await undiciFetch(url, { dispatcher: setup.agent, signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200 || res.status === 401) return child;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await killAndWait(child);
      throw new Error(
        `docker-registry did not answer ${url} within ${timeoutMs} ms; log:\n${(await runLog()).slice(-2000)}`,
      );
    }
    await sleep(50);
  }
}

/** Start a private registry on 127.0.0.1 with a free port and temp-dir storage. */
export async function startRegistry(opts: RegistryOptions = {}): Promise<Registry> {
  const dir = await mkdtemp(path.join(opts.tmpRoot ?? os.tmpdir(), "berth-registry-"));
  const attempts = opts.portAttempts ?? 5;
  const credentials = opts.credentials ?? firstAccount(opts.htpasswd);
  let setup: Setup | undefined;
  let child: ChildProcess | undefined;
  let port = 0;
  try {
    if (opts.htpasswd && opts.tokenAuth) throw new Error("registry: choose htpasswd or tokenAuth, not both");
    if (opts.tokenAuth && !credentials) throw new Error("registry: tokenAuth needs credentials to push with");
    const tls = opts.tls ? await makeSelfSignedCert(dir, "registry") : undefined;
    setup = {
      binary: opts.binary ?? REGISTRY_BINARY,
      dir,
      timeoutMs: opts.startTimeoutMs ?? 15000,
      tls,
      htpasswdPath: opts.htpasswd ? await writeHtpasswd(dir, opts.htpasswd) : undefined,
      tokenAuth: opts.tokenAuth,
      agent: new Agent({ connect: tls ? { ca: tls.certPem } : {} }),
    };
    for (let i = 1; child === undefined; i++) {
      port = await (opts.pickPort ?? freePort)();
      try {
        child = await launch(setup, port);
      } catch (err) {
        if (!(err instanceof PortInUseError) || i >= attempts) throw err;
      }
    }
  } catch (err) {
    await setup?.agent.close();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }

  const { agent, tls } = setup;
  const host = `127.0.0.1:${port}`;
  const url = `${tls ? "https" : "http"}://${host}`;
  const logPath = path.join(dir, "registry.log");
  let stopped: Promise<void> | undefined;

  const authorization = async (repo: string, actions = "pull"): Promise<Record<string, string>> => {
    if (!credentials || (!opts.htpasswd && !opts.tokenAuth)) return {};
    if (opts.tokenAuth) {
      const token = await opts.tokenAuth.mint(credentials.username, `repository:${repo}:${actions}`);
      return { Authorization: `Bearer ${token}` };
    }
    const basic = Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64");
    return { Authorization: `Basic ${basic}` };
  };

  const fetchManifest: Registry["fetchManifest"] = async (repo, reference) => {
    const res = await undiciFetch(`${url}/v2/${repo}/manifests/${reference}`, {
      dispatcher: agent,
      headers: { Accept: MANIFEST_ACCEPT, ...(await authorization(repo)) },
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
      "--all",
      "--preserve-digests",
      "--dest-tls-verify=false",
      ...(credentials
        ? ["--dest-creds", `${credentials.username}:${credentials.password}`]
        : ["--dest-no-creds"]),
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

  const api = async (
    method: string,
    target: string,
    repo: string,
    headers: Record<string, string>,
    body?: Buffer,
  ) => {
    const res = await undiciFetch(target.startsWith("/") ? `${url}${target}` : target, {
      method,
      dispatcher: agent,
      headers: { ...headers, ...(await authorization(repo, "pull,push")) },
      body,
      signal: AbortSignal.timeout(60000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${target}: HTTP ${res.status}: ${text}`);
    return res;
  };

  const putBlob: Registry["putBlob"] = async (repo, data) => {
    const digest = sha256(data);
    const started = await api("POST", `/v2/${repo}/blobs/uploads/`, repo, {});
    const location = new URL(started.headers.get("location") ?? "", url);
    location.searchParams.set("digest", digest);
    await api("PUT", location.toString(), repo, { "Content-Type": "application/octet-stream" }, data);
    return digest;
  };

  const putManifest: Registry["putManifest"] = async (repo, reference, mediaType, body) => {
    const res = await api(
      "PUT",
      `/v2/${repo}/manifests/${reference}`,
      repo,
      { "Content-Type": mediaType },
      body,
    );
    return res.headers.get("docker-content-digest") ?? "";
  };

  const blobPath = (digest: string) => {
    const hex = digest.slice("sha256:".length);
    return path.join(
      dir,
      "data",
      "docker",
      "registry",
      "v2",
      "blobs",
      "sha256",
      hex.slice(0, 2),
      hex,
      "data",
    );
  };

  let current: ChildProcess | undefined = child;
  const registry: Registry = {
    host,
    url,
    port,
    pid: child.pid ?? 0,
    dir,
    logPath,
    tls,
    push,
    fetchManifest,
    putBlob,
    putManifest,
    blobPath,
    down: async () => {
      if (current) await killAndWait(current);
      current = undefined;
    },
    up: async () => {
      if (stopped) throw new Error("registry: up() after stop()");
      if (current) return;
      current = await launch(setup, port);
      registry.pid = current.pid ?? 0;
    },
    stop: () => {
      stopped ??= (async () => {
        if (current) await killAndWait(current);
        current = undefined;
        await agent.close();
        await rm(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
  return registry;
}

function firstAccount(users: Record<string, string> | undefined) {
  const first = Object.entries(users ?? {})[0];
  return first ? { username: first[0], password: first[1] } : undefined;
}

/** docker-registry's htpasswd auth accepts only bcrypt entries. */
async function writeHtpasswd(dir: string, users: Record<string, string>): Promise<string> {
  const file = path.join(dir, "htpasswd");
  const lines = Object.entries(users).map(([user, password]) => `${user}:${bcrypt.hashSync(password, 10)}`);
  await writeFile(file, `${lines.join("\n")}\n`, { mode: 0o600 });
  return file;
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
