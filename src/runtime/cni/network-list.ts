// Ported from containernetworking/cni libcni/api.go (AddNetworkList, CheckNetworkList,
// DelNetworkList, buildOneConfig, injectRuntimeConfig): a list's plugins run in order on ADD,
// each getting the previous one's result as prevResult, and in reverse on DEL, each getting
// the cached result of the ADD.
import { failedPrecondition, invalidArgument, wrap } from "../../lib/errdefs.js";
import type { Logger } from "../../lib/log.js";
import { readCache, removeCache, writeCache } from "./cache.js";
import { type NetworkConfig, type NetworkConfigList, validateName } from "./conf.js";
import { type Command, execPlugin, findInPath } from "./invoke.js";
import { parseResult } from "./result.js";
import { versionAtLeast } from "./spec-version.js";

/** libcni's RuntimeConf: one attachment's parameters apart from the network config. */
export interface RuntimeConf {
  containerId: string;
  netns: string;
  ifName: string;
  args: [string, string][];
  /** runtimeConfig values by capability; each plugin gets the ones it declares. */
  capabilityArgs: Record<string, unknown>;
}

/** How plugins are run: libcni's CNIConfig, plus berth's deadline and logger. */
export interface PluginRunner {
  path: string[];
  cacheDir: string;
  timeoutMs: number;
  log: Logger;
  signal?: AbortSignal;
}

/** Runs ADD through the list and caches the final result, which it returns as the plugin wrote it. */
export async function addNetworkList(
  c: PluginRunner,
  list: NetworkConfigList,
  rt: RuntimeConf,
): Promise<unknown> {
  validateName("container id", rt.containerId);
  validateInterfaceName(rt.ifName);
  let result: unknown;
  for (const plugin of list.plugins) {
    try {
      result = await run(c, "ADD", list, plugin, result, rt);
      if (result === undefined) throw invalidArgument("plugin printed no result");
      parseResult(result);
    } catch (err) {
      throw wrap(err, `plugin type="${plugin.type}" failed (add)`);
    }
  }
  await writeCache(c.cacheDir, {
    containerId: rt.containerId,
    networkName: list.name,
    ifName: rt.ifName,
    netns: rt.netns,
    config: list.bytes,
    cniArgs: rt.args,
    capabilityArgs: rt.capabilityArgs,
    result,
  });
  return result;
}

/** Runs CHECK through the list against the cached result (spec 0.4.0 and later). */
export async function checkNetworkList(
  c: PluginRunner,
  list: NetworkConfigList,
  rt: RuntimeConf,
): Promise<void> {
  if (!versionAtLeast(list.cniVersion, "0.4.0")) {
    throw failedPrecondition(`configuration version "${list.cniVersion}" does not support the CHECK command`);
  }
  if (list.disableCheck) return;
  const cached = await readCache(c.cacheDir, list.name, rt.containerId, rt.ifName);
  for (const plugin of list.plugins) {
    try {
      await run(c, "CHECK", list, plugin, cached?.result, rt);
    } catch (err) {
      throw wrap(err, `plugin type="${plugin.type}" failed (check)`);
    }
  }
}

/** Runs DEL through the list in reverse, then drops the cached result. */
export async function delNetworkList(
  c: PluginRunner,
  list: NetworkConfigList,
  rt: RuntimeConf,
): Promise<void> {
  // Spec versions before 0.4.0 have no prevResult on DEL.
  const cached = versionAtLeast(list.cniVersion, "0.4.0")
    ? await readCache(c.cacheDir, list.name, rt.containerId, rt.ifName)
    : undefined;
  for (const plugin of [...list.plugins].reverse()) {
    try {
      await run(c, "DEL", list, plugin, cached?.result, rt);
    } catch (err) {
      throw wrap(err, `plugin type="${plugin.type}" failed (delete)`);
    }
  }
  await removeCache(c.cacheDir, list.name, rt.containerId, rt.ifName);
}

async function run(
  c: PluginRunner,
  command: Command,
  list: NetworkConfigList,
  plugin: NetworkConfig,
  prevResult: unknown,
  rt: RuntimeConf,
): Promise<unknown> {
  const file = await findInPath(plugin.type, c.path);
  const stdin = JSON.stringify(buildOneConfig(list, plugin, prevResult, rt));
  c.log.debug(
    { plugin: plugin.type, command, network: list.name, containerId: rt.containerId },
    "running CNI plugin",
  );
  return execPlugin(
    file,
    stdin,
    { command, containerId: rt.containerId, netns: rt.netns, ifName: rt.ifName, args: rt.args, path: c.path },
    { timeoutMs: c.timeoutMs, signal: c.signal, log: c.log },
  );
}

/**
 * A plugin's stdin: its own config with the list's name and version, the previous result,
 * and runtimeConfig holding only the capabilities it declares (libcni injectRuntimeConfig).
 */
export function buildOneConfig(
  list: NetworkConfigList,
  plugin: NetworkConfig,
  prevResult: unknown,
  rt: Pick<RuntimeConf, "capabilityArgs">,
): Record<string, unknown> {
  const conf: Record<string, unknown> = { ...plugin.raw, name: list.name, cniVersion: list.cniVersion };
  if (prevResult !== undefined) conf.prevResult = prevResult;
  const runtimeConfig: Record<string, unknown> = {};
  for (const [capability, on] of Object.entries(plugin.capabilities)) {
    if (on && rt.capabilityArgs[capability] !== undefined)
      runtimeConfig[capability] = rt.capabilityArgs[capability];
  }
  if (Object.keys(runtimeConfig).length > 0) conf.runtimeConfig = runtimeConfig;
  return conf;
}

/** libcni's ValidateInterfaceName: what the kernel takes as a link name. */
function validateInterfaceName(name: string): void {
  if (name === "" || name.length > 15 || name === "." || name === ".." || /[/:\s]/.test(name)) {
    throw invalidArgument(`invalid interface name "${name}"`);
  }
}
