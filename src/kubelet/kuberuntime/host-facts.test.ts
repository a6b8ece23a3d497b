import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.js";
import { parseQuantity } from "../api/quantity.js";
import { parseResourceList } from "../api/resources.js";
import { nodeCapacity } from "../cm/node-allocatable.js";
import { defaultKubeletConfiguration } from "../config/kubelet-configuration.js";
import {
  containerHostFacts,
  kubeletHost,
  nodeAllocatableOf,
  nodeConfigOf,
  podDirOf,
  sandboxHostFacts,
} from "./host-facts.js";

const config = {
  ...defaultKubeletConfiguration(),
  rootDir: "/var/lib/berth",
  cgroupRoot: "/berth",
  clusterDNS: ["10.96.0.10"],
  clusterDomain: "cluster.local",
  kubeReserved: parseResourceList({ cpu: "500m", memory: "1Gi" }),
};
const pod: Pod = { metadata: { uid: "u1", name: "p", namespace: "ns" }, spec: { containers: [] } };

describe("host facts", () => {
  it("nodeConfigOf: the cgroup root, QoS cgroups and reservations of the configuration", () => {
    const nc = nodeConfigOf(config);
    assert.equal(nc.cgroupRoot, "/berth");
    assert.equal(nc.cgroupsPerQOS, true);
    assert.deepEqual(nc.nodeAllocatable.enforceNodeAllocatable, ["pods"]);
    assert.equal(nc.nodeAllocatable.kubeReserved, config.kubeReserved);
    assert.deepEqual(
      nc.nodeAllocatable.hardEvictionThresholds.map((t) => t.signal),
      ["memory.available"],
    );
  });

  it("nodeAllocatableOf: capacity less reservations and eviction, as quantities parseQuantity reads back", () => {
    const capacity = nodeCapacity({
      cpuCores: 2,
      memoryBytes: 8n << 30n,
      hugePages: [{ pageSize: "2Mi", totalBytes: 64n << 20n }],
      ephemeralStorageBytes: 100n << 30n,
    });
    const allocatable = nodeAllocatableOf(capacity, nodeConfigOf(config).nodeAllocatable);
    assert.deepEqual(allocatable, {
      cpu: "1500m",
      // 8Gi - 1Gi kube-reserved - 100Mi eviction - 64Mi of hugepages
      memory: `${(8n << 30n) - (1n << 30n) - (100n << 20n) - (64n << 20n)}`,
      "ephemeral-storage": `${100n << 30n}`,
      "hugepages-2Mi": `${64n << 20n}`,
    });
    for (const value of Object.values(allocatable)) parseQuantity(value);
  });

  it("kubeletHost, sandboxHostFacts and containerHostFacts: the generators' inputs", () => {
    const host = kubeletHost(
      config,
      { hostIPs: ["192.0.2.1"], nodeEtcHosts: "hosts", resolvConf: "nameserver 192.0.2.53\n" },
      { cpu: "2" },
      {
        volumes: () => ({ data: { hostPath: "/d" } }),
        localObjects: () => ({ configMaps: {}, secrets: {} }),
        cgroupParent: (p) => `/berth/kubepods/pod${p.metadata?.uid}`,
      },
    );
    assert.equal(podDirOf("/var/lib/berth", "u1"), "/var/lib/berth/pods/u1");
    assert.deepEqual(sandboxHostFacts(host, pod), {
      cgroupParent: "/berth/kubepods/podu1",
      dns: {
        clusterDNS: ["10.96.0.10"],
        clusterDomain: "cluster.local",
        resolvConf: "nameserver 192.0.2.53\n",
        nodeIPs: ["192.0.2.1"],
      },
    });
    assert.deepEqual(
      containerHostFacts(host, pod, {
        terminationMessageId: "abcd1234",
        imageUser: { uid: 0n, username: "" },
      }),
      {
        podDir: "/var/lib/berth/pods/u1",
        volumes: { data: { hostPath: "/d" } },
        localObjects: { configMaps: {}, secrets: {} },
        hostIPs: ["192.0.2.1"],
        nodeAllocatable: { cpu: "2" },
        clusterDomain: "cluster.local",
        nodeEtcHosts: "hosts",
        terminationMessageId: "abcd1234",
        imageUser: { uid: 0n, username: "" },
      },
    );
  });

  it("without --resolv-conf the DNS settings carry no resolver text", () => {
    const host = kubeletHost(
      { ...config, resolvConf: "" },
      { hostIPs: [], nodeEtcHosts: "" },
      {},
      { volumes: () => ({}), localObjects: () => ({ configMaps: {}, secrets: {} }), cgroupParent: () => "" },
    );
    assert.equal("resolvConf" in host.dns, false);
  });
});
