// berth's built-in pod network, used when the CNI conf_dir holds no config file, so that pods
// get an IP on a fresh machine (containerd instead reports the network not ready). It is the
// conflist of containerd's and podman's examples with Debian's plugins: a bridge that is the
// pods' gateway and masquerades their traffic out, host-local IPAM, and portmap for
// hostPorts; the loopback network is added beside it as for any config. It lives in memory
// only: writing it into conf_dir would make it look like the admin's and outlive a config
// dropped there later.
import { confListFromBytes, type NetworkConfigList } from "./conf.js";

export interface DefaultNetworkOptions {
  /**
   * host-local's dataDir, where it records IP allocations. The daemon passes a directory
   * under its state dir (tmpfs), since allocations mean nothing once a reboot has taken the
   * network namespaces holding them.
   */
  dataDir: string;
  /** The network name, which names the cache entries and host-local's subdirectory. */
  name?: string;
  bridge?: string;
  /** Pod addresses; the bridge takes the first one as the gateway. */
  subnet?: string;
}

/**
 * Names chosen apart from other runtimes' defaults on the same host: containerd's and
 * podman's examples use 10.88.0.0/16 (cni0, cni-podman0), CRI-O's 10.85.0.0/16, flannel's
 * pod CIDR 10.244.0.0/16.
 */
export const DefaultNetworkName = "berth";
export const DefaultBridge = "berth0";
export const DefaultSubnet = "10.89.0.0/16";

export function defaultNetwork(o: DefaultNetworkOptions): NetworkConfigList {
  return confListFromBytes(
    JSON.stringify({
      cniVersion: "1.0.0",
      name: o.name ?? DefaultNetworkName,
      plugins: [
        {
          type: "bridge",
          bridge: o.bridge ?? DefaultBridge,
          isGateway: true,
          ipMasq: true,
          // Lets a pod reach itself through a Service or hostPort that lands on its own veth.
          hairpinMode: true,
          ipam: {
            type: "host-local",
            ranges: [[{ subnet: o.subnet ?? DefaultSubnet }]],
            routes: [{ dst: "0.0.0.0/0" }],
            dataDir: o.dataDir,
          },
        },
        { type: "portmap", capabilities: { portMappings: true } },
      ],
    }),
  );
}
