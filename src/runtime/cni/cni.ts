// After containerd/go-cni (cni.go, namespace.go, opts.go WithLoNetwork, result.go): the pod
// network of a sandbox is two network lists, the loopback network on "lo" and the pod
// network from conf_dir (or berth's default) on "eth0", added in that order and removed in
// reverse. Configs are read by load(); watching conf_dir and reloading is the caller's.
import { failedPrecondition, messageOf, wrap } from "../../lib/errdefs.js";
import type { Logger } from "../../lib/log.js";
import { netNSExists } from "../netns/netns.js";
import { cachedAttachments } from "./cache.js";
import { confListFromBytes, loadConfDir, type NetworkConfigList } from "./conf.js";
import { findInPath } from "./invoke.js";
import {
  addNetworkList,
  checkNetworkList,
  delNetworkList,
  type PluginRunner,
  type RuntimeConf,
} from "./network-list.js";
import { ErrUnknownContainer, pluginErrorOf } from "./plugin-error.js";
import { type Dns, parseResult, type Result, type Route } from "./result.js";

export interface CniOptions {
  /** CNI_PATH, where plugin binaries are found ([plugins.cri.cni] bin_dir). */
  binDirs: string[];
  /** Where network configs are read from ([plugins.cri.cni] conf_dir). */
  confDir: string;
  /** libcni's cache dir, owned by berth: results are kept under <cacheDir>/results. */
  cacheDir: string;
  /** The pod network when confDir holds no config file; without it the network is not ready then. */
  defaultNetwork?: NetworkConfigList;
  /** Deadline of one plugin run (default 60 s). */
  timeoutMs?: number;
  log: Logger;
}

/** go-cni's capability args, passed as runtimeConfig to the plugins that declare them. */
export interface CapabilityArgs {
  portMappings?: PortMapping[];
  bandwidth?: { ingressRate?: number; ingressBurst?: number; egressRate?: number; egressBurst?: number };
  ipRanges?: { subnet: string; rangeStart?: string; rangeEnd?: string; gateway?: string }[][];
  dns?: { servers?: string[]; searches?: string[]; options?: string[] };
}

export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol: "tcp" | "udp" | "sctp";
  hostIP?: string;
}

export interface NamespaceOpts {
  /** CNI_ARGS, in order (see toCniLabels). */
  labels?: Record<string, string>;
  capabilityArgs?: CapabilityArgs;
  signal?: AbortSignal;
}

export interface Network {
  config: NetworkConfigList;
  ifName: string;
}

export interface IPAddress {
  ip: string;
  prefixLength: number;
  gateway?: string;
}

export interface InterfaceConfig {
  mac?: string;
  /** The netns path, for interfaces inside the pod. */
  sandbox?: string;
  ipConfigs: IPAddress[];
}

/** go-cni's Result: what the pod network's plugins made, by interface name. */
export interface SetupResult {
  interfaces: Record<string, InterfaceConfig>;
  /** The pod's addresses (those of eth0), IPv4 first as containerd's selectPodIPs orders them. */
  ips: IPAddress[];
  dns: Dns[];
  routes: Route[];
}

const DefaultIfName = "eth0";
const DefaultTimeoutMs = 60_000;

/**
 * containerd brings lo up through CNI too, as a network of its own. Its version is 1.0.0
 * (go-cni's is 0.3.1) so that CHECK, which needs 0.4.0, works on every network.
 */
const loopback: Network = {
  config: confListFromBytes(
    JSON.stringify({ cniVersion: "1.0.0", name: "cni-loopback", plugins: [{ type: "loopback" }] }),
  ),
  ifName: "lo",
};

export class Cni {
  private loaded: Network[] = [];
  private loadError: Error | undefined = failedPrecondition("cni plugin not initialized: config not loaded");

  constructor(private readonly o: CniOptions) {}

  /**
   * Reads conf_dir anew; on failure no network is loaded and status() says why. The networks
   * are swapped whole, so a setup running meanwhile finishes on the ones it started with.
   */
  async load(): Promise<void> {
    try {
      const list = (await loadConfDir(this.o.confDir, this.o.log)) ?? this.o.defaultNetwork;
      if (!list) throw failedPrecondition(`no network config found in "${this.o.confDir}"`);
      if (list === this.o.defaultNetwork) {
        this.o.log.info(
          { network: list.name, confDir: this.o.confDir },
          "no CNI config found, using the default network",
        );
      }
      this.loaded = [loopback, { config: list, ifName: DefaultIfName }];
      this.loadError = undefined;
    } catch (err) {
      this.loaded = [];
      this.loadError = wrap(err, "cni plugin not initialized");
      throw wrap(err, "failed to load CNI config");
    }
  }

  /** The networks a pod gets, loopback first. */
  get networks(): readonly Network[] {
    return this.loaded;
  }

  /** Throws unless a config is loaded and every plugin it names is in CNI_PATH (NetworkReady). */
  async status(): Promise<void> {
    if (this.loadError) throw this.loadError;
    for (const n of this.loaded) {
      for (const p of n.config.plugins) {
        await findInPath(p.type, this.o.binDirs).catch((err) => {
          throw wrap(err, "cni plugin not initialized");
        });
      }
    }
  }

  /** Attaches the sandbox's netns to every network; on failure it removes what was made. */
  async setup(id: string, netnsPath: string, opts: NamespaceOpts = {}): Promise<SetupResult> {
    await this.status();
    const results: Result[] = [];
    try {
      for (const n of this.loaded) {
        const raw = await addNetworkList(
          this.runner(opts),
          n.config,
          this.runtimeConf(id, netnsPath, n.ifName, opts),
        );
        // As go-cni: loopback's result says nothing about the pod.
        if (n !== loopback) results.push(parseResult(raw));
      }
    } catch (err) {
      // The spec asks for a DEL after a failed ADD, so that nothing half-made stays; it runs
      // even when the caller gave up, as containerd's deferred cleanups get a context of their own.
      await this.remove(id, netnsPath, { ...opts, signal: undefined }).catch((e) =>
        this.o.log.warn({ sandbox: id, err: messageOf(e) }, "failed to undo a failed CNI setup"),
      );
      throw wrap(err, `failed to set up pod network for sandbox "${id}"`);
    }
    return createResult(results);
  }

  /** Runs CHECK for every network: the interfaces and addresses ADD made are still there. */
  async check(id: string, netnsPath: string, opts: NamespaceOpts = {}): Promise<void> {
    await this.status();
    for (const n of this.loaded) {
      try {
        await checkNetworkList(this.runner(opts), n.config, this.runtimeConf(id, netnsPath, n.ifName, opts));
      } catch (err) {
        throw wrap(err, `failed to check network "${n.config.name}" of sandbox "${id}"`);
      }
    }
  }

  /**
   * Detaches the sandbox from its networks; idempotent. Attachments in the cache are deleted
   * with the config and args they were added with, so a changed conf_dir still frees them;
   * loaded networks without an entry (an ADD cut short) are deleted with the current config.
   * A namespace that is already gone is passed as "", which plugins take as "clean up
   * the host side only". Debian's bridge plugin (1.1.1) then frees the IP but keeps its
   * masquerade rules, which it finds by the addresses on eth0 (containernetworking/plugins#810),
   * so StopPodSandbox calls this before it removes the netns, as containerd does.
   */
  async remove(id: string, netnsPath: string, opts: NamespaceOpts = {}): Promise<void> {
    const netns = netnsPath !== "" && (await netNSExists(netnsPath)) ? netnsPath : "";
    const targets: { config: () => NetworkConfigList; rt: RuntimeConf }[] = [];
    for (const a of await cachedAttachments(this.o.cacheDir, id)) {
      const rt = {
        containerId: id,
        netns,
        ifName: a.ifName,
        args: a.cniArgs,
        capabilityArgs: a.capabilityArgs,
      };
      targets.push({ config: () => confListFromBytes(a.config), rt });
    }
    for (const n of this.loaded) {
      if (targets.some((t) => t.rt.ifName === n.ifName)) continue;
      targets.push({ config: () => n.config, rt: this.runtimeConf(id, netns, n.ifName, opts) });
    }
    // The pod network before loopback: the reverse of setup.
    targets.sort((a, b) => Number(a.rt.ifName === loopback.ifName) - Number(b.rt.ifName === loopback.ifName));
    // Every network gets its DEL even if one fails; the first failure is the error, the
    // others are only logged.
    const errors: unknown[] = [];
    for (const t of targets) {
      try {
        await delNetworkList(this.runner(opts), t.config(), t.rt);
      } catch (err) {
        if (pluginErrorOf(err)?.code !== ErrUnknownContainer) errors.push(err);
      }
    }
    for (const err of errors.slice(1)) {
      this.o.log.warn({ sandbox: id, err: messageOf(err) }, "another CNI DEL failed too");
    }
    if (errors.length > 0) throw wrap(errors[0], `failed to remove pod network of sandbox "${id}"`);
  }

  private runner(opts: NamespaceOpts): PluginRunner {
    return {
      path: this.o.binDirs,
      cacheDir: this.o.cacheDir,
      timeoutMs: this.o.timeoutMs ?? DefaultTimeoutMs,
      log: this.o.log,
      signal: opts.signal,
    };
  }

  private runtimeConf(id: string, netns: string, ifName: string, opts: NamespaceOpts): RuntimeConf {
    return {
      containerId: id,
      netns,
      ifName,
      args: Object.entries(opts.labels ?? {}),
      capabilityArgs: { ...opts.capabilityArgs },
    };
  }
}

/** go-cni's createResult: IPs go to the interface they name, or to eth0 when they name none. */
export function createResult(results: Result[]): SetupResult {
  const interfaces: Record<string, InterfaceConfig> = { [DefaultIfName]: { ipConfigs: [] } };
  const dns: Dns[] = [];
  const routes: Route[] = [];
  for (const r of results) {
    for (const i of r.interfaces) {
      interfaces[i.name] = {
        ...(i.mac !== undefined && { mac: i.mac }),
        ...(i.sandbox !== undefined && { sandbox: i.sandbox }),
        ipConfigs: [],
      };
    }
    for (const ip of r.ips) {
      const name =
        ip.interface !== undefined ? (r.interfaces[ip.interface]?.name ?? DefaultIfName) : DefaultIfName;
      const [addr = "", prefix] = ip.address.split("/");
      interfaces[name]?.ipConfigs.push({
        ip: addr,
        prefixLength: Number(prefix),
        ...(ip.gateway !== undefined && { gateway: ip.gateway }),
      });
    }
    dns.push(r.dns);
    routes.push(...r.routes);
  }
  const own = interfaces[DefaultIfName]?.ipConfigs ?? [];
  const ips = [...own.filter((a) => !a.ip.includes(":")), ...own.filter((a) => a.ip.includes(":"))];
  return { interfaces, ips, dns, routes };
}
