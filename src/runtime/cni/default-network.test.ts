import assert from "node:assert/strict";
import { test } from "node:test";
import { defaultNetwork } from "./default-network.js";

test("the default network's own names and subnet", () => {
  const list = defaultNetwork({ dataDir: "/run/berth/cni/networks" });
  assert.equal(list.name, "berth");
  assert.deepEqual(
    list.plugins.map((p) => p.type),
    ["bridge", "portmap"],
  );
  assert.deepEqual(list.plugins[0]?.raw.bridge, "berth0");
  assert.deepEqual(list.plugins[0]?.raw.ipam, {
    type: "host-local",
    ranges: [[{ subnet: "10.89.0.0/16" }]],
    routes: [{ dst: "0.0.0.0/0" }],
    dataDir: "/run/berth/cni/networks",
  });
  assert.deepEqual(list.plugins[1]?.capabilities, { portMappings: true });
});
