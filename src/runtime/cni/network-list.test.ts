import assert from "node:assert/strict";
import { test } from "node:test";
import { confListFromBytes } from "./conf.js";
import { pluginEnv } from "./invoke.js";
import { buildOneConfig } from "./network-list.js";

const list = confListFromBytes(
  JSON.stringify({
    cniVersion: "1.0.0",
    name: "net",
    plugins: [
      { type: "bridge", name: "ignored", cniVersion: "0.3.1", bridge: "b0", runtimeConfig: { stale: true } },
      { type: "portmap", capabilities: { portMappings: true, bandwidth: false } },
    ],
  }),
);
const [bridge, portmap] = list.plugins as [(typeof list.plugins)[0], (typeof list.plugins)[0]];
const capabilityArgs = {
  portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }],
  bandwidth: { ingressRate: 1 },
  dns: { servers: ["10.0.0.10"] },
};

test("each plugin gets the list's name and version, whatever its own say", () => {
  const conf = buildOneConfig(list, bridge, undefined, { capabilityArgs });
  assert.equal(conf.name, "net");
  assert.equal(conf.cniVersion, "1.0.0");
  assert.equal(conf.bridge, "b0");
  assert.equal("prevResult" in conf, false);
});

test("runtimeConfig carries only the capabilities a plugin declares as true", () => {
  assert.deepEqual(buildOneConfig(list, portmap, undefined, { capabilityArgs }).runtimeConfig, {
    portMappings: capabilityArgs.portMappings,
  });
  // A plugin that declares none keeps its own runtimeConfig, as libcni leaves it.
  assert.deepEqual(buildOneConfig(list, bridge, undefined, { capabilityArgs }).runtimeConfig, {
    stale: true,
  });
  assert.equal("runtimeConfig" in buildOneConfig(list, portmap, undefined, { capabilityArgs: {} }), false);
});

test("the previous plugin's result is passed on as prevResult", () => {
  const prev = { cniVersion: "1.0.0", ips: [{ address: "10.234.0.2/24" }] };
  assert.deepEqual(buildOneConfig(list, portmap, prev, { capabilityArgs: {} }).prevResult, prev);
});

test("CNI_* environment: CNI_ARGS joined in order, CNI_PATH by colons", () => {
  const env = pluginEnv({
    command: "ADD",
    containerId: "abc",
    netns: "/run/berth/netns/cni-1",
    ifName: "eth0",
    args: [
      ["K8S_POD_NAMESPACE", "default"],
      ["K8S_POD_NAME", "web"],
      ["IgnoreUnknown", "1"],
    ],
    path: ["/usr/lib/cni", "/opt/cni/bin"],
  });
  assert.deepEqual(env, {
    CNI_COMMAND: "ADD",
    CNI_CONTAINERID: "abc",
    CNI_NETNS: "/run/berth/netns/cni-1",
    CNI_IFNAME: "eth0",
    CNI_ARGS: "K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;IgnoreUnknown=1",
    CNI_PATH: "/usr/lib/cni:/opt/cni/bin",
  });
});

test("CNI_ARGS entries that would split wrongly are refused", () => {
  const base = { command: "DEL" as const, containerId: "a", netns: "", ifName: "eth0", path: [] };
  for (const args of [[["a;b", "1"]], [["a=b", "1"]], [["a", "1;b=2"]], [["", "1"]]] as [
    string,
    string,
  ][][]) {
    assert.throws(() => pluginEnv({ ...base, args }), { kind: "InvalidArgument" });
  }
});
