// Plugins and their loader, after containerd's plugin/plugin.go and the plugin loop of
// services/server/server.go: every service of the daemon is a record with a type, an id
// and the types it requires; the loader inits them so that each plugin comes after every
// plugin of the types it requires, and closes them in reverse.
import { join } from "node:path";
import type { ConnectRouter } from "@connectrpc/connect";
import { failedPrecondition, messageOf, wrap } from "../lib/errdefs.js";
import type { Logger } from "../lib/log.js";
import type { ConfigSection } from "./config-schema.js";

/** Plugin types, after containerd's (io.containerd.metadata.v1 → "metadata"). */
export const PluginType = {
  Metadata: "metadata",
  Content: "content",
  Snapshotter: "snapshotter",
  Images: "images",
  Leases: "leases",
  GC: "gc",
  /** Runs containers: tasks, their bundles and monitors. */
  Runtime: "runtime",
  /** Served on the daemon's socket: the instance is a GrpcService. */
  Grpc: "grpc",
} as const;

export interface Plugin<T = unknown, C = unknown> {
  type: string;
  /** Unique in the daemon: it names the plugin's config section, [plugins.<id>]. */
  id: string;
  /** Types whose plugins must be initialized first; only these can be got from the InitContext. */
  requires: readonly string[];
  /** Its [plugins.<id>] section; absent when the plugin takes no config. */
  config?: ConfigSection<C>;
  init(ic: InitContext<C>): T | Promise<T>;
  close?(instance: T): void | Promise<void>;
}

export interface InitContext<C = unknown> {
  /** <root>/<type>.<id>: the plugin's persistent directory, created by the plugin if it needs it. */
  root: string;
  /** <state>/<type>.<id>: its directory for state that does not survive a reboot. */
  state: string;
  /** Its config section with defaults filled in. */
  config: C;
  log: Logger;
  /**
   * The instance of a required plugin of `type`: the only one of that type, or the one
   * named by `id`.
   */
  get<T>(type: string, id?: string): T;
}

/** What a Grpc plugin's instance does: register its services on the daemon's router. */
export interface GrpcService {
  register(router: ConnectRouter): void;
}

export interface LoadedPlugin {
  plugin: Plugin;
  instance: unknown;
}

export interface LoadedPlugins {
  /** In init order. */
  readonly loaded: readonly LoadedPlugin[];
  /** Closes every plugin in reverse init order; a failing close is logged and the rest still close. */
  close(): Promise<void>;
}

export interface LoadOptions {
  root: string;
  state: string;
  /** Each plugin's decoded config section, by id; a plugin missing here gets its defaults. */
  configs: ReadonlyMap<string, unknown>;
  log: Logger;
}

export function pluginUri(p: { type: string; id: string }): string {
  return `${p.type}.${p.id}`;
}

/**
 * The init order: each plugin after all plugins of the types it requires, otherwise in
 * list order. Duplicate ids, missing dependencies and cycles are errors.
 */
export function initOrder(plugins: readonly Plugin[]): Plugin[] {
  const byId = new Map<string, Plugin>();
  for (const p of plugins) {
    const other = byId.get(p.id);
    if (other) {
      throw failedPrecondition(`plugin id "${p.id}" is used twice: ${pluginUri(other)} and ${pluginUri(p)}`);
    }
    byId.set(p.id, p);
  }
  const order: Plugin[] = [];
  const done = new Set<Plugin>();
  const visiting: Plugin[] = [];
  const visit = (p: Plugin) => {
    if (done.has(p)) return;
    const at = visiting.indexOf(p);
    if (at >= 0) {
      const cycle = [...visiting.slice(at), p].map(pluginUri).join(" → ");
      throw failedPrecondition(`plugin dependency cycle: ${cycle}`);
    }
    visiting.push(p);
    for (const type of p.requires) {
      const deps = plugins.filter((d) => d.type === type);
      if (deps.length === 0) {
        throw failedPrecondition(
          `plugin ${pluginUri(p)} requires a "${type}" plugin, and none is registered`,
        );
      }
      for (const d of deps) visit(d);
    }
    visiting.pop();
    done.add(p);
    order.push(p);
  };
  for (const p of plugins) visit(p);
  return order;
}

/**
 * Inits `plugins` in dependency order. If one fails, those already started are closed
 * in reverse and the error names the plugin.
 */
export async function loadPlugins(plugins: readonly Plugin[], opts: LoadOptions): Promise<LoadedPlugins> {
  const loaded: LoadedPlugin[] = [];
  const close = async () => {
    for (const { plugin, instance } of [...loaded].reverse()) {
      try {
        await plugin.close?.(instance);
      } catch (err) {
        opts.log.error({ plugin: pluginUri(plugin), err: messageOf(err) }, "failed to close plugin");
      }
    }
    loaded.length = 0;
  };
  for (const p of initOrder(plugins)) {
    const uri = pluginUri(p);
    opts.log.info({ type: p.type, id: p.id }, "loading plugin");
    try {
      const instance = await p.init({
        root: join(opts.root, uri),
        state: join(opts.state, uri),
        config: opts.configs.get(p.id) ?? p.config?.defaults(),
        log: opts.log.child({ plugin: uri }),
        get: <T>(type: string, id?: string) => dependency(p, loaded, type, id) as T,
      });
      loaded.push({ plugin: p, instance });
    } catch (err) {
      await close();
      throw wrap(err, `failed to load plugin ${uri}`);
    }
  }
  return { loaded, close };
}

function dependency(p: Plugin, loaded: LoadedPlugin[], type: string, id?: string): unknown {
  if (!p.requires.includes(type)) {
    throw failedPrecondition(`plugin ${pluginUri(p)} asked for a "${type}" plugin without requiring it`);
  }
  const found = loaded.filter((l) => l.plugin.type === type && (id === undefined || l.plugin.id === id));
  if (found.length === 1) return found[0]?.instance;
  if (found.length === 0) throw failedPrecondition(`no plugin ${id ? `${type}.${id}` : `of type "${type}"`}`);
  const ids = found.map((l) => l.plugin.id).join(", ");
  throw failedPrecondition(`several "${type}" plugins (${ids}): name the one wanted`);
}
