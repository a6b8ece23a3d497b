// Ports containerd 1.6 remotes/docker/config/hosts.go (and IsLocalhost from registry.go): the endpoints
// to try for a registry host, from `<configDir>/<host>/hosts.toml` as containerd reads
// /etc/containerd/certs.d. Mirrors (`[host."<url>"]`, in file order) come first, the `server` last;
// with no file the registry itself is the one endpoint: https://<host>/v2, plain http for localhost and
// loopback addresses, and registry-1.docker.io for docker.io.
import { readdir, readFile, stat } from "node:fs/promises";
import { isIP } from "node:net";
import path from "node:path";
import { rootCertificates } from "node:tls";
import { parse as parseToml, type TomlPrimitive, type TomlTable } from "smol-toml";
import { Agent, type Dispatcher, interceptors } from "undici";
import { BerthError, invalidArgument, messageOf } from "../../lib/errdefs.js";

/** Where per-host configuration lives, like containerd's /etc/containerd/certs.d. */
export const DEFAULT_CONFIG_DIR = "/etc/berth/certs.d";

export type HostCapability = "pull" | "resolve" | "push";
const allCapabilities: readonly HostCapability[] = ["pull", "resolve", "push"];

/** One endpoint as configured (containerd's hostConfig). */
export interface HostConfig {
  scheme: string;
  /** host[:port] to connect to. */
  host: string;
  /** API root, "/v2" unless override_path says otherwise. */
  path: string;
  capabilities: readonly HostCapability[];
  /** CA certificate files trusted in addition to the system's. */
  caCerts?: string[];
  /** Client certificate and key files ("" key: the key is in the certificate file). */
  clientPairs?: [string, string][];
  skipVerify?: boolean;
  /** Headers sent with every request to this endpoint. */
  header?: Record<string, string[]>;
}

/** An endpoint ready for requests: its config and the dispatcher holding its TLS settings. */
export interface RegistryHost extends HostConfig {
  dispatcher: Dispatcher;
}

/** IsLocalhost: "localhost" or a loopback address, with or without a port. */
export function isLocalhost(host: string): boolean {
  let name = host;
  const m = /^\[(.*)\](?::\d+)?$/.exec(host) ?? /^([^:]*):\d+$/.exec(host);
  if (m) name = m[1] as string;
  if (name === "localhost") return true;
  if (isIP(name) === 4) return name.startsWith("127.");
  return isIP(name) === 6 && /^(0*:)*:?0*1$/.test(name);
}

/** hostDirectory: ":port" becomes "_port_" in directory names. */
function hostDirectory(host: string): string {
  const i = host.lastIndexOf(":");
  return i > 0 ? `${host.slice(0, i)}_${host.slice(i + 1)}_` : host;
}

/** hostPaths: where a host's directory may be, in order; `_default` applies to every host. */
export function hostPaths(root: string, host: string): string[] {
  const ch = hostDirectory(host);
  return [...(ch !== host ? [path.join(root, ch)] : []), path.join(root, host), path.join(root, "_default")];
}

/** HostDirFromRoot: the first existing directory for `host`, or undefined. */
export async function hostDir(root: string, host: string): Promise<string | undefined> {
  for (const p of hostPaths(root, host)) {
    try {
      await stat(p);
      return p;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
        throw new BerthError("Unknown", `failed to read host directory "${p}": ${messageOf(err)}`, {
          cause: err,
        });
      }
    }
  }
  return undefined;
}

type Table = Record<string, TomlPrimitive>;

/**
 * parseHostsFile: the endpoints of a hosts.toml, mirrors first in file order, then `server` (whose
 * host is "" when the file names none, for configureHosts to fill in). `file` names errors.
 */
export function parseHostsFile(baseDir: string, text: string, file: string): HostConfig[] {
  let tree: TomlTable;
  try {
    tree = parseToml(text);
  } catch (err) {
    throw invalidArgument(`failed to parse hosts file "${file}": ${messageOf(err).split("\n")[0]}`, err);
  }
  const fail = (key: string, message: string) =>
    invalidArgument(`invalid hosts file "${file}": ${key}: ${message}`);
  const hosts: HostConfig[] = [];
  const hostTables = tree.host ?? {};
  if (!isTable(hostTables)) throw fail("host", 'must be a table of [host."<url>"] sections');
  for (const [url, config] of Object.entries(hostTables)) {
    const key = `host."${url}"`;
    if (!isTable(config)) throw fail(key, "must be a table");
    hosts.push(parseHostConfig(url, baseDir, config, (k, m) => fail(`${key}.${k}`, m)));
  }
  const server = tree.server ?? "";
  if (typeof server !== "string") throw fail("server", "must be a string");
  hosts.push(parseHostConfig(server, baseDir, tree, fail));
  return hosts;
}

function isTable(v: unknown): v is Table {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function parseHostConfig(
  server: string,
  baseDir: string,
  config: Table,
  fail: (key: string, message: string) => BerthError,
): HostConfig {
  const result: HostConfig = { scheme: "", host: "", path: "", capabilities: allCapabilities };
  const overridePath = config.override_path ?? false;
  if (typeof overridePath !== "boolean") throw fail("override_path", "must be a boolean");
  if (server !== "") {
    const withScheme = server.startsWith("http") ? server : `https://${server}`;
    let u: URL;
    try {
      u = new URL(withScheme);
    } catch {
      throw fail("server", `unable to parse server ${withScheme}`);
    }
    result.scheme = u.protocol.slice(0, -1);
    result.host = u.host;
    // The path as written (URL adds "/" to a bare host), cleaned as Go's path.Clean does.
    const written = withScheme.replace(/^[^:]+:\/\/[^/?#]*/, "").replace(/[?#].*$/, "");
    let p = written === "" ? "" : path.posix.normalize(written).replace(/\/$/, "");
    if (!overridePath && !p.endsWith("/v2")) p = `${p}/v2`;
    result.path = p;
  }

  if (config.skip_verify !== undefined) {
    if (typeof config.skip_verify !== "boolean") throw fail("skip_verify", "must be a boolean");
    result.skipVerify = config.skip_verify;
  }

  const caps = config.capabilities;
  if (caps !== undefined) {
    if (!Array.isArray(caps) || caps.some((c) => typeof c !== "string")) {
      throw fail("capabilities", "must be a list of strings");
    }
    if (caps.length > 0) {
      const set = new Set<HostCapability>();
      for (const c of caps as string[]) {
        const cap = c.toLowerCase();
        if (!(allCapabilities as readonly string[]).includes(cap))
          throw fail("capabilities", `unknown capability ${c}`);
        set.add(cap as HostCapability);
      }
      result.capabilities = allCapabilities.filter((c) => set.has(c));
    }
  }

  const abs = (p: string) => (path.isAbsolute(p) ? p : path.join(baseDir, p));
  const ca = config.ca;
  if (ca !== undefined) {
    if (typeof ca === "string") result.caCerts = [abs(ca)];
    else if (Array.isArray(ca) && ca.every((x) => typeof x === "string"))
      result.caCerts = (ca as string[]).map(abs);
    else throw fail("ca", "must be a path or a list of paths");
  }

  const client = config.client;
  if (client !== undefined) {
    const pairs: [string, string][] = [];
    const items = typeof client === "string" ? [client] : client;
    if (!Array.isArray(items))
      throw fail("client", "must be a path, a list of paths or of [cert, key] pairs");
    for (const item of items) {
      if (typeof item === "string") pairs.push([abs(item), ""]);
      else if (Array.isArray(item) && item.length === 2 && item.every((x) => typeof x === "string")) {
        // An empty key means "in the certificate file" (containerd would join "" with the directory).
        pairs.push([abs(item[0] as string), item[1] === "" ? "" : abs(item[1] as string)]);
      } else throw fail("client", `invalid pair ${JSON.stringify(item)}`);
    }
    result.clientPairs = pairs;
  }

  const header = config.header;
  if (header !== undefined) {
    if (!isTable(header)) throw fail("header", "must be a table");
    const out: Record<string, string[]> = {};
    for (const [name, value] of Object.entries(header)) {
      if (typeof value === "string") out[name] = [value];
      else if (Array.isArray(value) && value.every((x) => typeof x === "string"))
        out[name] = value as string[];
      else throw fail(`header.${name}`, "must be a string or a list of strings");
    }
    result.header = out;
  }
  return result;
}

/**
 * loadCertFiles: Docker's certs.d layout, used when a host directory has no hosts.toml: "*.crt" are CA
 * certificates, "*.cert" client certificates with the same-named "*.key" (if any) as their key.
 */
async function loadCertFiles(dir: string): Promise<HostConfig[]> {
  const host: HostConfig = { scheme: "", host: "", path: "", capabilities: allCapabilities };
  let names: string[] = [];
  try {
    names = (await readdir(dir, { withFileTypes: true })).filter((e) => !e.isDirectory()).map((e) => e.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const caCerts = names.filter((n) => n.endsWith(".crt")).sort();
  const certs = names.filter((n) => n.endsWith(".cert")).sort();
  if (caCerts.length > 0) host.caCerts = caCerts.map((n) => path.join(dir, n));
  if (certs.length > 0) {
    host.clientPairs = certs.map((n): [string, string] => {
      const key = `${n.slice(0, -".cert".length)}.key`;
      return [path.join(dir, n), names.includes(key) ? path.join(dir, key) : ""];
    });
  }
  return [host];
}

/** loadHostDir: a host directory's endpoints, from hosts.toml or else from certificate files. */
export async function loadHostDir(dir: string): Promise<HostConfig[]> {
  const file = path.join(dir, "hosts.toml");
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    text = "";
  }
  return text === "" ? loadCertFiles(dir) : parseHostsFile(dir, text, file);
}

/**
 * The endpoint list for a registry host: the configured ones (a host directory always yields at least
 * the server entry), the last filled in from the defaults when no server is named.
 */
export async function configureHostConfigs(
  host: string,
  configDir = DEFAULT_CONFIG_DIR,
): Promise<HostConfig[]> {
  const dir = await hostDir(configDir, host);
  const hosts = dir !== undefined ? await loadHostDir(dir) : [];
  if (hosts.length === 0) hosts.push({ scheme: "", host: "", path: "", capabilities: allCapabilities });
  const last = hosts[hosts.length - 1] as HostConfig;
  if (last.host === "") {
    if (host === "docker.io") {
      Object.assign(last, { scheme: "https", host: "registry-1.docker.io" });
    } else if (isLocalhost(host)) {
      // Local registries are usually plain HTTP; containerd also skips verification should one be TLS.
      Object.assign(last, { scheme: "http", host, skipVerify: true });
    } else {
      Object.assign(last, { scheme: "https", host });
    }
    last.path = "/v2";
    last.capabilities = allCapabilities;
  }
  return hosts;
}

/** Follows redirects as Go's http.Client does (at most 10; credentials are not sent to another origin). */
const MAX_REDIRECTIONS = 10;

/** A dispatcher for endpoints without TLS settings of their own. */
export function newDefaultDispatcher(): Dispatcher {
  return new Agent().compose(interceptors.redirect({ maxRedirections: MAX_REDIRECTIONS }));
}

/**
 * ConfigureHosts: the endpoints for `host`, each with a dispatcher; endpoints with `ca`, `client` or
 * `skip_verify` get their own (the caller closes them with closeHosts), the rest share `shared`.
 */
export async function configureHosts(
  host: string,
  shared: Dispatcher,
  configDir = DEFAULT_CONFIG_DIR,
): Promise<RegistryHost[]> {
  const configs = await configureHostConfigs(host, configDir);
  const out: RegistryHost[] = [];
  try {
    for (const c of configs) out.push({ ...c, dispatcher: await tlsDispatcher(c, shared) });
  } catch (err) {
    await closeHosts(out, shared);
    throw err;
  }
  return out;
}

async function readPem(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    throw new BerthError("Unknown", `unable to read ${what} "${file}": ${messageOf(err)}`, { cause: err });
  }
}

async function tlsDispatcher(c: HostConfig, shared: Dispatcher): Promise<Dispatcher> {
  if (c.caCerts === undefined && c.clientPairs === undefined && c.skipVerify === undefined) return shared;
  const ca: string[] = [];
  for (const f of c.caCerts ?? []) ca.push(await readPem(f, "CA cert"));
  const cert: string[] = [];
  const key: string[] = [];
  for (const [certFile, keyFile] of c.clientPairs ?? []) {
    const pem = await readPem(certFile, "CERT file");
    cert.push(pem);
    // Without a key file the key is in the certificate's PEM file.
    key.push(keyFile === "" ? pem : await readPem(keyFile, "CERT file"));
  }
  const connect = {
    // Like Go's pool: the system roots plus the configured CAs.
    ...(ca.length > 0 ? { ca: [...rootCertificates, ...ca] } : {}),
    ...(cert.length > 0 ? { cert, key } : {}),
    rejectUnauthorized: c.skipVerify !== true,
  };
  return new Agent({ connect }).compose(interceptors.redirect({ maxRedirections: MAX_REDIRECTIONS }));
}

/** Closes the dispatchers configureHosts made for `hosts` (not the shared one). */
export async function closeHosts(hosts: RegistryHost[], shared: Dispatcher): Promise<void> {
  const own = new Set(hosts.map((h) => h.dispatcher).filter((d) => d !== shared));
  await Promise.all([...own].map((d) => d.close()));
}
