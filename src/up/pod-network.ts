// The pod network of the runtime `berth up` starts: berth's default network (a bridge that is
// the pods' gateway and masquerades their traffic, host-local addresses), but on a bridge and a
// subnet of its own, so that it shares no addresses with another berth runtime on this host and
// can be removed whole at the end: the CNI bridge plugin makes a bridge and never deletes it.
import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { failedPrecondition, wrap } from "../lib/errdefs.js";
import { defaultNetwork } from "../runtime/cni/default-network.js";

const execFileAsync = promisify(execFile);

export interface PodNetwork {
  /** The runtime's [plugins.cri.cni] conf_dir, holding this network alone. */
  confDir: string;
  bridge: string;
  subnet: string;
}

const bridgePrefix = "berth-up";
/** Subnets 10.90.<n>.0/24: beside berth's default 10.89.0.0/16, and a /24 is plenty for a demo node. */
const subnetCount = 250;

/** Writes the network's config under `dir`, on the first bridge from `seed` on that does not exist yet. */
export async function writePodNetwork(dir: string, seed: number): Promise<PodNetwork> {
  let n = seed % subnetCount;
  for (let tries = 0; existsSync(`/sys/class/net/${bridgePrefix}${n}`); tries++) {
    if (tries === subnetCount)
      throw failedPrecondition(`every bridge ${bridgePrefix}0…${subnetCount - 1} exists`);
    n = (n + 1) % subnetCount;
  }
  const network = {
    confDir: join(dir, "net.d"),
    bridge: `${bridgePrefix}${n}`,
    subnet: `10.90.${n}.0/24`,
  };
  const list = defaultNetwork({
    dataDir: join(dir, "ipam"),
    name: network.bridge,
    bridge: network.bridge,
    subnet: network.subnet,
  });
  await mkdir(network.confDir, { recursive: true });
  await writeFile(join(network.confDir, "10-berth-up.conflist"), list.bytes);
  return network;
}

/**
 * Deletes the bridge once the runtime has taken its pods off it. A pod's veth goes with its
 * network namespace, which the kernel may free a moment after the runtime let go of it; one
 * still on the bridge after that is a pod left behind, and the bridge stays.
 */
export async function removeBridge(bridge: string): Promise<boolean> {
  if (!existsSync(`/sys/class/net/${bridge}`)) return false;
  const ports = () => readdirSync(`/sys/class/net/${bridge}/brif`);
  for (const deadline = Date.now() + 3000; ports().length > 0 && Date.now() < deadline; ) await sleep(50);
  if (ports().length > 0)
    throw failedPrecondition(`bridge ${bridge} still has pods on it: ${ports().join(", ")}`);
  try {
    await execFileAsync("ip", ["link", "del", bridge]);
  } catch (err) {
    throw wrap(err, `failed to delete bridge ${bridge}`);
  }
  return true;
}
