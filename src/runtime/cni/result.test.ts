import assert from "node:assert/strict";
import { test } from "node:test";
import { parseResult } from "./result.js";

const current = {
  interfaces: [
    { name: "cni0", mac: "aa:bb:cc:dd:ee:01" },
    { name: "vethab", mac: "aa:bb:cc:dd:ee:02" },
    { name: "eth0", mac: "aa:bb:cc:dd:ee:03", sandbox: "/run/netns/x" },
  ],
  routes: [{ dst: "0.0.0.0/0", gw: "10.234.0.1" }],
  dns: { nameservers: ["10.234.0.10"], search: ["svc.cluster.local"] },
};

test("1.0.0 results are read as they are", () => {
  const ips = [{ interface: 2, address: "10.234.0.5/24", gateway: "10.234.0.1" }];
  assert.deepEqual(parseResult({ cniVersion: "1.0.0", ...current, ips }), {
    cniVersion: "1.0.0",
    ...current,
    ips,
  });
});

test("0.4.0 and 0.3.x results lose the IP version field", () => {
  for (const cniVersion of ["0.4.0", "0.3.1", "0.3.0"]) {
    const r = parseResult({
      cniVersion,
      ...current,
      ips: [
        { version: "4", interface: 2, address: "10.234.0.5/24", gateway: "10.234.0.1" },
        { version: "6", interface: 2, address: "fd00::5/64" },
      ],
    });
    assert.equal(r.cniVersion, "1.0.0");
    assert.deepEqual(r.ips, [
      { interface: 2, address: "10.234.0.5/24", gateway: "10.234.0.1" },
      { interface: 2, address: "fd00::5/64" },
    ]);
    assert.deepEqual(r.interfaces, current.interfaces);
  }
});

test("0.2.0 results: one IP per family, with its routes", () => {
  const r = parseResult({
    cniVersion: "0.2.0",
    ip4: { ip: "10.234.0.5/24", gateway: "10.234.0.1", routes: [{ dst: "0.0.0.0/0" }] },
    ip6: { ip: "fd00::5/64", routes: [{ dst: "::/0", gw: "fd00::1" }] },
    dns: { nameservers: ["1.1.1.1"] },
  });
  assert.deepEqual(r, {
    cniVersion: "1.0.0",
    interfaces: [],
    ips: [{ address: "10.234.0.5/24", gateway: "10.234.0.1" }, { address: "fd00::5/64" }],
    routes: [{ dst: "0.0.0.0/0" }, { dst: "::/0", gw: "fd00::1" }],
    dns: { nameservers: ["1.1.1.1"] },
  });
});

test("a result with only a version (portmap on no ports, loopback) is empty", () => {
  assert.deepEqual(parseResult({ cniVersion: "1.0.0", dns: {} }), {
    cniVersion: "1.0.0",
    interfaces: [],
    ips: [],
    routes: [],
    dns: {},
  });
});

test("malformed results are refused with what is wrong", () => {
  const cases: [unknown, RegExp][] = [
    ["x", /not a JSON object/],
    [{ cniVersion: "2.0.0" }, /unknown cniVersion "2.0.0"/],
    [{ cniVersion: "1.0.0", ips: [{ address: "10.0.0.300/24" }] }, /ips\[0\]: invalid address/],
    [{ cniVersion: "1.0.0", ips: [{ address: "10.0.0.3" }] }, /ips\[0\]: invalid address/],
    [{ cniVersion: "1.0.0", ips: [{ address: "10.0.0.3/33" }] }, /ips\[0\]: invalid address/],
    [{ cniVersion: "1.0.0", ips: [{ address: "10.0.0.3/24", gateway: "x" }] }, /invalid gateway/],
    [{ cniVersion: "1.0.0", ips: [{ interface: 1, address: "10.0.0.3/24" }] }, /interface 1 is not one of 0/],
    [{ cniVersion: "1.0.0", interfaces: [{}] }, /interface without a name/],
    [{ cniVersion: "1.0.0", routes: [{ gw: "10.0.0.1" }] }, /route without a dst/],
    [{ cniVersion: "1.0.0", ips: {} }, /ips is not a list of objects/],
  ];
  for (const [v, message] of cases) assert.throws(() => parseResult(v), { message }, JSON.stringify(v));
});
