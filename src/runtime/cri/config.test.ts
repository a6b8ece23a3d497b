import assert from "node:assert/strict";
import { test } from "node:test";
import { defaultConfig, parseConfig } from "../config.js";
import { type CriConfig, defaultCriConfig, hasCapSysResource } from "./config.js";
import { criPlugin } from "./plugin.js";

test("defaults: containerd's values, berth's paths and pause image", () => {
  assert.deepEqual(defaultCriConfig(true), {
    sandboxImage: "berth.local/pause:3.9",
    snapshotter: "overlayfs",
    maxConcurrentDownloads: 3,
    restrictOomScoreAdj: false,
    registry: { configPath: "/etc/berth/certs.d" },
    cni: { binDir: "/usr/lib/cni", confDir: "/etc/cni/net.d" },
  });
});

test("without CAP_SYS_RESOURCE, oom_score_adj is restricted by default", () => {
  assert.equal(defaultCriConfig(false).restrictOomScoreAdj, true);
  const fromThisMachine = defaultConfig([criPlugin]).plugins.get("cri") as CriConfig;
  assert.equal(fromThisMachine.restrictOomScoreAdj, !hasCapSysResource());
});

test("CAP_SYS_RESOURCE is bit 24 of CapEff", () => {
  const status = (eff: string) => `Name:\tnode\nCapPrm:\t000001ffffffffff\nCapEff:\t${eff}\nCapBnd:\t0\n`;
  assert.equal(hasCapSysResource(status("000001ffffffffff")), true);
  assert.equal(hasCapSysResource(status("000001fffeffffff")), false);
  assert.equal(hasCapSysResource(status("0000000001000000")), true);
  assert.equal(hasCapSysResource("no caps here"), false);
});

test("[plugins.cri] keys are containerd's names", () => {
  const { config, unknownKeys } = parseConfig(
    `
[plugins.cri]
sandbox_image = "127.0.0.1:5000/berth/pause:3.9"
max_concurrent_downloads = 8
restrict_oom_score_adj = false
snapshotter = "native"
[plugins.cri.registry]
config_path = "/etc/containerd/certs.d"
[plugins.cri.cni]
bin_dir = "/opt/cni/bin"
conf_dir = "/etc/cni/other.d"
`,
    "config.toml",
    [criPlugin],
  );
  assert.deepEqual(unknownKeys, []);
  assert.deepEqual(config.plugins.get("cri"), {
    sandboxImage: "127.0.0.1:5000/berth/pause:3.9",
    snapshotter: "native",
    maxConcurrentDownloads: 8,
    restrictOomScoreAdj: false,
    registry: { configPath: "/etc/containerd/certs.d" },
    cni: { binDir: "/opt/cni/bin", confDir: "/etc/cni/other.d" },
  });
});

test("the example of a bad value", () => {
  assert.throws(
    () =>
      parseConfig('[plugins.cri]\nmax_concurrent_downloads = "three"', "/etc/berth/config.toml", [criPlugin]),
    {
      message:
        'config /etc/berth/config.toml: key "plugins.cri.max_concurrent_downloads": want a positive integer, got "three"',
    },
  );
});
