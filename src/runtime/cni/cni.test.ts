import assert from "node:assert/strict";
import { test } from "node:test";
import { createResult } from "./cni.js";
import { CniPluginError, pluginErrorOf } from "./plugin-error.js";
import { parseResult } from "./result.js";

test("createResult: IPs go to the interface they name, IPv4 first among the pod's", () => {
  const bridge = parseResult({
    cniVersion: "1.0.0",
    interfaces: [
      { name: "b0", mac: "aa:00:00:00:00:01" },
      { name: "eth0", sandbox: "/ns" },
    ],
    ips: [
      { interface: 1, address: "fd00::2/64" },
      { interface: 1, address: "10.234.0.2/24", gateway: "10.234.0.1" },
      { interface: 0, address: "10.234.0.1/24" },
    ],
    routes: [{ dst: "0.0.0.0/0" }],
    dns: { nameservers: ["10.0.0.10"] },
  });
  const r = createResult([bridge]);
  assert.deepEqual(r.interfaces, {
    b0: { mac: "aa:00:00:00:00:01", ipConfigs: [{ ip: "10.234.0.1", prefixLength: 24 }] },
    eth0: {
      sandbox: "/ns",
      ipConfigs: [
        { ip: "fd00::2", prefixLength: 64 },
        { ip: "10.234.0.2", prefixLength: 24, gateway: "10.234.0.1" },
      ],
    },
  });
  assert.deepEqual(
    r.ips.map((a) => a.ip),
    ["10.234.0.2", "fd00::2"],
  );
  assert.deepEqual(r.routes, [{ dst: "0.0.0.0/0" }]);
  assert.deepEqual(r.dns, [{ nameservers: ["10.0.0.10"] }]);
});

test("createResult: IPs naming no interface belong to eth0", () => {
  const r = createResult([parseResult({ cniVersion: "0.2.0", ip4: { ip: "10.234.0.9/16" } })]);
  assert.deepEqual(r.ips, [{ ip: "10.234.0.9", prefixLength: 16 }]);
});

test("plugin errors: kinds from the spec's codes, message with details, found behind wraps", () => {
  const e = new CniPluginError(1, "incompatible CNI versions", 'config is "9.0.0"');
  assert.equal(e.kind, "FailedPrecondition");
  assert.equal(e.message, 'incompatible CNI versions; config is "9.0.0"');
  assert.equal(new CniPluginError(3, "no such container").kind, "NotFound");
  assert.equal(new CniPluginError(11, "busy").kind, "Unavailable");
  assert.equal(new CniPluginError(999, "plugin's own").kind, "Unknown");
  const wrapped = new Error("outer", { cause: new Error("middle", { cause: e }) });
  assert.equal(pluginErrorOf(wrapped), e);
  assert.equal(pluginErrorOf(new Error("plain")), undefined);
});
