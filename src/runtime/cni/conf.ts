// Ported from containernetworking/cni libcni/conf.go (ConfFiles, ConfFromBytes,
// ConfListFromBytes, ConfListFromConf) with the choice of go-cni's loadFromConfDir at
// max_conf_num = 1: files *.conf, *.conflist and *.json sorted by name, the first valid one
// is the pod network. A file that does not parse is skipped with a warning, as CRI-O's ocicni
// does, rather than failing the whole directory as go-cni does.
import type { Dirent } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { extname, join } from "node:path";
import { failedPrecondition, invalidArgument, messageOf, wrap } from "../../lib/errdefs.js";
import type { Logger } from "../../lib/log.js";
import { isSpecVersion } from "./spec-version.js";

/** One plugin of a list: its JSON object as written, which is what it gets on stdin. */
export interface NetworkConfig {
  type: string;
  /** The runtimeConfig keys it asks for ("portMappings", "bandwidth", …). */
  capabilities: Record<string, boolean>;
  raw: Record<string, unknown>;
}

export interface NetworkConfigList {
  name: string;
  cniVersion: string;
  disableCheck: boolean;
  plugins: NetworkConfig[];
  /** The list as JSON: the result cache keeps it, so DEL runs the config that ADD ran. */
  bytes: string;
}

const ConfExtensions = [".conf", ".conflist", ".json"];

/** libcni's rule for network names and container ids. */
const IdPattern = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function validateName(what: string, value: string): void {
  if (!IdPattern.test(value))
    throw invalidArgument(`invalid ${what} "${value}": want [a-zA-Z0-9][a-zA-Z0-9_.-]*`);
}

/** A network config list (a *.conflist file). */
export function confListFromBytes(bytes: string): NetworkConfigList {
  const obj = parseObject(bytes);
  const name = obj.name;
  if (typeof name !== "string" || name === "") throw invalidArgument("no name");
  validateName("network name", name);
  const cniVersion = specVersion(obj.cniVersion);
  const disableCheck = obj.disableCheck === true || obj.disableCheck === "true";
  if (!Array.isArray(obj.plugins) || obj.plugins.length === 0) throw invalidArgument("no plugins in list");
  const plugins = obj.plugins.map((p, i) => {
    try {
      return networkConfig(p);
    } catch (err) {
      throw wrap(err, `plugin ${i}`);
    }
  });
  return { name, cniVersion, disableCheck, plugins, bytes };
}

/** A single network config (a *.conf or *.json file) wrapped into a list of one. */
export function confListFromConf(bytes: string): NetworkConfigList {
  const obj = parseObject(bytes);
  if (obj.plugins !== undefined && obj.type === undefined) {
    throw invalidArgument("no plugin type; perhaps this is a .conflist?");
  }
  const plugin = networkConfig(obj);
  return confListFromBytes(
    JSON.stringify({ cniVersion: obj.cniVersion, name: obj.name, plugins: [plugin.raw] }),
  );
}

/**
 * The first valid network config list in `dir`; undefined when it holds no config file
 * at all (or does not exist). Files that do not parse are logged and skipped; when no
 * file parses, the error names each file and why.
 */
export async function loadConfDir(dir: string, log: Logger): Promise<NetworkConfigList | undefined> {
  const files = await confFiles(dir);
  if (files.length === 0) return undefined;
  const problems: string[] = [];
  for (const file of files) {
    try {
      const bytes = await readFile(file, "utf8");
      const list = file.endsWith(".conflist") ? confListFromBytes(bytes) : confListFromConf(bytes);
      log.info({ file, network: list.name }, "loaded CNI network config");
      return list;
    } catch (err) {
      log.warn({ file, err: messageOf(err) }, "skipping invalid CNI network config");
      problems.push(`${file}: ${messageOf(err)}`);
    }
  }
  throw failedPrecondition(`no valid CNI network config in "${dir}": ${problems.join("; ")}`);
}

async function confFiles(dir: string): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw wrap(err, `failed to read CNI config directory "${dir}"`);
  }
  return entries
    .filter((e) => !e.isDirectory() && ConfExtensions.includes(extname(e.name)))
    .map((e) => e.name)
    .sort()
    .map((n) => join(dir, n));
}

function networkConfig(v: unknown): NetworkConfig {
  if (!isObject(v)) throw invalidArgument("plugin config is not an object");
  const type = v.type;
  if (typeof type !== "string" || type === "") throw invalidArgument("missing 'type'");
  // The type names a binary in CNI_PATH; a path would run something outside it.
  if (type.includes("/") || type === "." || type === "..")
    throw invalidArgument(`invalid plugin type "${type}"`);
  const capabilities: Record<string, boolean> = {};
  if (v.capabilities !== undefined) {
    if (!isObject(v.capabilities)) throw invalidArgument("'capabilities' is not an object");
    for (const [k, on] of Object.entries(v.capabilities)) capabilities[k] = on === true;
  }
  return { type, capabilities, raw: v };
}

function specVersion(v: unknown): string {
  if (typeof v !== "string" || !isSpecVersion(v))
    throw invalidArgument(`unknown cniVersion ${JSON.stringify(v)}`);
  return v;
}

function parseObject(bytes: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(bytes);
  } catch (err) {
    throw invalidArgument(`invalid JSON: ${messageOf(err)}`, err);
  }
  if (!isObject(v)) throw invalidArgument("not a JSON object");
  return v;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
