// What one instance runs with: containerd's config.toml, the CNI network its CRI plugin
// puts pods on, and a hosts.toml per plain-HTTP test registry.
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import { stringify, type TomlTable } from "smol-toml";
import type { InstanceRecord } from "./instance.js";

const CNI_BIN_DIR = "/usr/lib/cni";
const CRI_PLUGIN = "io.containerd.grpc.v1.cri";

export interface ConfigOptions {
  /** CRI `sandbox_image`: must already be in namespace k8s.io or pullable from registryHosts. */
  sandboxImage: string;
  /** "127.0.0.1:PORT" registries served over plain HTTP; pulls and pushes to them work. */
  registryHosts?: string[];
  /** containerd log level (default "info"). */
  logLevel?: string;
  /** Merged into the generated config.toml: tables recursively, any other value replaces. */
  extraConfig?: TomlTable;
}

export async function writeConfig(rec: InstanceRecord, opts: ConfigOptions): Promise<void> {
  await fsp.mkdir(rec.cniConfDir, { recursive: true });
  await fsp.mkdir(rec.cniIpamDir, { recursive: true });
  await fsp.mkdir(rec.hostsDir, { recursive: true });
  const config = merge(containerdConfig(rec, opts), opts.extraConfig ?? {});
  await fsp.writeFile(rec.configPath, stringify(config));
  await fsp.writeFile(
    path.join(rec.cniConfDir, "10-berth.conflist"),
    `${JSON.stringify(cniConflist(rec), null, 2)}\n`,
  );
  for (const host of opts.registryHosts ?? []) {
    const dir = path.join(rec.hostsDir, host);
    await fsp.mkdir(dir, { recursive: true });
    await fsp.writeFile(path.join(dir, "hosts.toml"), stringify(registryHostsConfig(host)));
  }
}

function containerdConfig(rec: InstanceRecord, opts: ConfigOptions): TomlTable {
  return {
    version: 2,
    root: rec.root,
    state: rec.state,
    // Negative adjustments need CAP_SYS_RESOURCE, which even root lacks on some hosts.
    oom_score: 0,
    // Plugins that cannot work here only add noise (or errors) to the log.
    disabled_plugins: [
      "io.containerd.snapshotter.v1.aufs",
      "io.containerd.snapshotter.v1.btrfs",
      "io.containerd.snapshotter.v1.devmapper",
      "io.containerd.snapshotter.v1.zfs",
      "io.containerd.tracing.processor.v1.otlp",
      "io.containerd.internal.v1.tracing",
    ],
    grpc: { address: rec.socket },
    ttrpc: { address: `${rec.socket}.ttrpc` },
    debug: { address: "", level: opts.logLevel ?? "info" },
    metrics: { address: "" },
    plugins: {
      "io.containerd.internal.v1.opt": { path: path.join(rec.base, "opt") },
      [CRI_PLUGIN]: {
        sandbox_image: opts.sandboxImage,
        restrict_oom_score_adj: true,
        enable_selinux: false,
        disable_apparmor: true,
        disable_tcp_service: true,
        stream_server_address: "127.0.0.1",
        stream_server_port: "0",
        // Pod netns bind mounts under <state>, not /run/netns: ours alone, and found by
        // unmounting everything under the base dir.
        netns_mounts_under_state_dir: true,
        containerd: {
          snapshotter: "overlayfs",
          default_runtime_name: "runc",
          runtimes: {
            runc: {
              runtime_type: "io.containerd.runc.v2",
              options: { SystemdCgroup: false, Root: rec.runcRoot },
            },
          },
        },
        cni: { bin_dir: CNI_BIN_DIR, conf_dir: rec.cniConfDir, max_conf_num: 1 },
        registry: { config_path: rec.hostsDir },
      },
    },
  };
}

/**
 * The CRI plugin adds the loopback network itself (go-cni WithLoNetwork), so the
 * conflist holds only the pod network: bridge + host-local, then portmap for hostPorts.
 */
function cniConflist(rec: InstanceRecord) {
  return {
    cniVersion: "1.0.0",
    name: rec.network,
    plugins: [
      {
        type: "bridge",
        bridge: rec.bridge,
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: "host-local",
          ranges: [[{ subnet: rec.podCidr }]],
          routes: [{ dst: "0.0.0.0/0" }],
          dataDir: rec.cniIpamDir,
        },
      },
      { type: "portmap", capabilities: { portMappings: true } },
    ],
  };
}

function registryHostsConfig(host: string): TomlTable {
  const url = `http://${host}`;
  return { server: url, host: { [url]: { capabilities: ["pull", "resolve", "push"], skip_verify: true } } };
}

function merge(base: TomlTable, extra: TomlTable): TomlTable {
  const out: TomlTable = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const old = out[key];
    out[key] = isTable(old) && isTable(value) ? merge(old, value) : value;
  }
  return out;
}

function isTable(v: unknown): v is TomlTable {
  return typeof v === "object" && v !== null && Object.getPrototypeOf(v) === Object.prototype;
}
