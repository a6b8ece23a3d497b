// The `berth runtime` config file, after containerd's services/server/config/config.go:
// TOML, `version = 2`, the daemon's own keys at the top and one [plugins.<id>] section per
// plugin (berth names sections by plugin id, as containerd's version 1 files did:
// [plugins.cri] is containerd's [plugins."io.containerd.grpc.v1.cri"]).
// Precedence: defaults < file < flags. Unknown keys are returned for a warning; a bad
// value or a TOML syntax error is an error naming the file and the key or line.
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { parse, stringify, TomlError, type TomlTable } from "smol-toml";
import { DefaultEndpoint, socketPath } from "../cri/endpoint.js";
import { invalidArgument, messageOf, wrap } from "../lib/errdefs.js";
import { type LogLevel, LogLevels } from "../lib/log.js";
import {
  absolutePath,
  badValue,
  converted,
  decodeSection,
  encodeSection,
  type Field,
  type Fields,
  isTable,
  keyPath,
  oneOf,
} from "./config-schema.js";
import type { Plugin } from "./plugin.js";

export const DefaultConfigPath = "/etc/berth/config.toml";

/** The daemon's own keys. */
export interface ServerConfig {
  version: 2;
  /** Persistent data: <root>/<type>.<id> per plugin. */
  root: string;
  /** Data that does not survive a reboot: <state>/<type>.<id> per plugin. */
  state: string;
  grpc: { address: string };
  debug: { level: LogLevel };
}

export interface Config extends ServerConfig {
  /** Each plugin's section, defaults filled in, by plugin id. */
  plugins: ReadonlyMap<string, unknown>;
}

/** What `berth runtime` flags can override, as containerd's --address, --root, --state, --log-level. */
export interface ConfigFlags {
  /** --config: an explicit file must exist; the default path may be absent. */
  config?: string;
  address?: string;
  root?: string;
  state?: string;
  logLevel?: string;
}

export interface LoadedConfig {
  config: Config;
  /** The file read, or undefined when the default path does not exist. */
  path?: string;
  /** Full keys no one knows ("plugins.cri.sandbox_imag"), for a warning. */
  unknownKeys: string[];
}

const socketAddress = converted("a unix socket path or unix:// endpoint", (raw) => {
  try {
    return socketPath(raw);
  } catch {
    return undefined;
  }
});

const logLevel = oneOf(LogLevels);

const serverFields: Fields<ServerConfig> = {
  version: oneOf([2] as const),
  root: absolutePath,
  state: absolutePath,
  grpc: { address: socketAddress },
  debug: { level: logLevel },
};

export function defaultServerConfig(): ServerConfig {
  return {
    version: 2,
    root: "/var/lib/berth",
    state: "/run/berth",
    grpc: { address: socketPath(DefaultEndpoint) },
    debug: { level: "info" },
  };
}

export function defaultConfig(plugins: readonly Plugin[]): Config {
  return decodeConfig({}, plugins).config;
}

/** Reads the config file (if any) and applies the flags over it. */
export async function loadConfig(flags: ConfigFlags, plugins: readonly Plugin[]): Promise<LoadedConfig> {
  const path = flags.config ?? DefaultConfigPath;
  let text: string | undefined;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
    if (!(missing && flags.config === undefined)) {
      throw invalidArgument(`config ${path}: ${missing ? "no such file" : messageOf(err)}`);
    }
  }
  const { config, unknownKeys } =
    text === undefined ? decodeConfig({}, plugins) : parseConfig(text, path, plugins);
  return { config: applyFlags(config, flags), path: text === undefined ? undefined : path, unknownKeys };
}

/** Parses and checks config text; `file` names it in errors. */
export function parseConfig(
  text: string,
  file: string,
  plugins: readonly Plugin[],
): { config: Config; unknownKeys: string[] } {
  let raw: TomlTable;
  try {
    raw = parse(text);
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    const reason = (err.message.split("\n")[0] ?? "").replace(/^Invalid TOML document: /, "");
    throw invalidArgument(`config ${file}: line ${err.line}, column ${err.column}: ${reason}`);
  }
  try {
    return decodeConfig(raw, plugins);
  } catch (err) {
    throw wrap(err, `config ${file}`);
  }
}

/** The flags over the config: the same checks as the file, errors naming the flag. */
export function applyFlags(config: Config, flags: ConfigFlags): Config {
  const out = { ...config, grpc: { ...config.grpc }, debug: { ...config.debug } };
  // Paths on the command line are taken relative to the working directory, as a shell user expects.
  if (flags.root !== undefined) out.root = resolve(flags.root);
  if (flags.state !== undefined) out.state = resolve(flags.state);
  if (flags.address !== undefined) out.grpc.address = flagValue("--address", socketAddress, flags.address);
  if (flags.logLevel !== undefined) out.debug.level = flagValue("--log-level", logLevel, flags.logLevel);
  if (out.root === out.state) {
    throw invalidArgument(`root and state must be different directories, both are ${out.root}`);
  }
  return out;
}

/** The config as TOML, every key present (`berth runtime config default`). */
export function formatConfig(config: Config, plugins: readonly Plugin[]): string {
  const { plugins: sections, ...server } = config;
  const table = encodeSection(serverFields, server);
  const pluginTables: TomlTable = {};
  for (const p of plugins) {
    if (p.config) pluginTables[p.id] = encodeSection(p.config.fields, sections.get(p.id));
  }
  table.plugins = pluginTables;
  return stringify(table);
}

function decodeConfig(raw: TomlTable, plugins: readonly Plugin[]): { config: Config; unknownKeys: string[] } {
  const unknownKeys: string[] = [];
  const { plugins: rawPlugins, ...rest } = raw;
  const server = decodeSection(serverFields, defaultServerConfig(), rest, "", unknownKeys);
  if (rawPlugins !== undefined && !isTable(rawPlugins)) throw badValue("plugins", "a table", rawPlugins);
  const sections = new Map<string, unknown>();
  for (const p of plugins) {
    if (!p.config) continue;
    const at = keyPath("plugins", p.id);
    sections.set(
      p.id,
      decodeSection(p.config.fields, p.config.defaults(), rawPlugins?.[p.id], at, unknownKeys),
    );
  }
  for (const id of Object.keys(rawPlugins ?? {})) {
    if (!sections.has(id)) unknownKeys.push(keyPath("plugins", id));
  }
  return { config: { ...server, plugins: sections }, unknownKeys };
}

function flagValue<T>(flag: string, field: Field<T>, raw: string): T {
  const v = field.read(raw);
  if (v === undefined) throw invalidArgument(`flag ${flag}: want ${field.want}, got ${JSON.stringify(raw)}`);
  return v;
}
