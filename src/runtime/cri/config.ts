// The CRI plugin's [plugins.cri] section, after containerd's pkg/cri/config/config.go.
// Keys keep containerd's names; `snapshotter` sits in the section itself rather than
// under [plugins.cri.containerd], as containerd 2 moved it too.
import { readFileSync } from "node:fs";
import { absolutePath, boolean, type ConfigSection, positiveInteger, text } from "../config-schema.js";

export interface CriConfig {
  /** The pause image every pod sandbox runs. */
  sandboxImage: string;
  snapshotter: string;
  /** Layers one pull fetches at a time. */
  maxConcurrentDownloads: number;
  /** Caps a container's oom_score_adj at the daemon's own, for hosts where lowering it is not allowed. */
  restrictOomScoreAdj: boolean;
  registry: {
    /** Per-registry hosts.toml files: <config_path>/<host>/hosts.toml. */
    configPath: string;
  };
  cni: {
    binDir: string;
    confDir: string;
  };
}

/**
 * Defaults that work on a fresh machine. The sandbox image is berth's own pause image,
 * built locally and imported, under a name no public registry serves. Lowering an
 * oom_score_adj needs CAP_SYS_RESOURCE (the kubelet asks -998 for sandboxes), so
 * without it the score is restricted instead of failing every pod.
 */
export function defaultCriConfig(canLowerOomScoreAdj = hasCapSysResource()): CriConfig {
  return {
    sandboxImage: "berth.local/pause:3.9",
    snapshotter: "overlayfs",
    maxConcurrentDownloads: 3,
    restrictOomScoreAdj: !canLowerOomScoreAdj,
    registry: { configPath: "/etc/berth/certs.d" },
    cni: { binDir: "/usr/lib/cni", confDir: "/etc/cni/net.d" },
  };
}

export const criConfigSection: ConfigSection<CriConfig> = {
  fields: {
    sandboxImage: text,
    snapshotter: text,
    maxConcurrentDownloads: positiveInteger,
    restrictOomScoreAdj: boolean,
    registry: { configPath: absolutePath },
    cni: { binDir: absolutePath, confDir: absolutePath },
  },
  defaults: () => defaultCriConfig(),
};

const CapSysResource = 24n;

/** Whether this process has CAP_SYS_RESOURCE in its effective set. */
export function hasCapSysResource(status = readFileSync("/proc/self/status", "utf8")): boolean {
  const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  return hex !== undefined && ((BigInt(`0x${hex}`) >> CapSysResource) & 1n) === 1n;
}
