import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { kindOf, messageOf } from "../lib/errdefs.js";
import {
  applyFlags,
  type Config,
  type ConfigFlags,
  defaultConfig,
  formatConfig,
  loadConfig,
  parseConfig,
} from "./config.js";
import { absolutePath, type ConfigSection, positiveInteger, text } from "./config-schema.js";
import type { Plugin } from "./plugin.js";

interface TestConfig {
  image: string;
  maxDownloads: number;
  cni: { binDir: string };
}

const section: ConfigSection<TestConfig> = {
  fields: { image: text, maxDownloads: positiveInteger, cni: { binDir: absolutePath } },
  defaults: () => ({ image: "pause:1", maxDownloads: 3, cni: { binDir: "/usr/lib/cni" } }),
};

const plugins: Plugin[] = [
  { type: "grpc", id: "cri", requires: [], config: section, init: () => ({}) },
  { type: "metadata", id: "lmdb", requires: [], init: () => ({}) },
];

const file = "/etc/berth/config.toml";
const parse = (toml: string) => parseConfig(toml, file, plugins);
const cri = (c: Config) => c.plugins.get("cri") as TestConfig;

describe("defaults", () => {
  test("a fresh machine's paths, version 2, level info", () => {
    const c = defaultConfig(plugins);
    assert.equal(c.version, 2);
    assert.equal(c.root, "/var/lib/berth");
    assert.equal(c.state, "/run/berth");
    assert.equal(c.grpc.address, "/run/berth/berth.sock");
    assert.equal(c.debug.level, "info");
    assert.deepEqual(cri(c), section.defaults());
    assert.equal(c.plugins.has("lmdb"), false, "a plugin without config has no section");
  });

  test("an empty file is the defaults", () => {
    assert.deepEqual(parse(""), { config: defaultConfig(plugins), unknownKeys: [] });
  });

  test("config default prints every key and reads back as the defaults", () => {
    const toml = formatConfig(defaultConfig(plugins), plugins);
    assert.match(toml, /^version = 2$/m);
    assert.match(toml, /^\[plugins\.cri\.cni\]\nbin_dir = "\/usr\/lib\/cni"$/m);
    assert.match(toml, /^max_downloads = 3$/m);
    assert.deepEqual(parse(toml), { config: defaultConfig(plugins), unknownKeys: [] });
  });
});

test("the file overrides the defaults, key by key", () => {
  const { config, unknownKeys } = parse(`
version = 2
root = "/data/berth"
[grpc]
address = "unix:///run/b/b.sock"
[debug]
level = "debug"
[plugins.cri]
max_downloads = 5
[plugins.cri.cni]
bin_dir = "/opt/cni/bin"
`);
  assert.deepEqual(unknownKeys, []);
  assert.equal(config.root, "/data/berth");
  assert.equal(config.state, "/run/berth", "untouched keys keep their default");
  assert.equal(config.grpc.address, "/run/b/b.sock", "an endpoint is stored as its socket path");
  assert.equal(config.debug.level, "debug");
  assert.deepEqual(cri(config), { image: "pause:1", maxDownloads: 5, cni: { binDir: "/opt/cni/bin" } });
});

test("no version means 2", () => {
  assert.equal(parse('root = "/x"').config.version, 2);
});

describe("flags override the file", () => {
  const base = parse('root = "/from/file"\nstate = "/from/file/state"\n[debug]\nlevel = "warn"').config;
  const cases: { name: string; flags: ConfigFlags; check(c: Config): void }[] = [
    { name: "none", flags: {}, check: (c) => assert.equal(c.root, "/from/file") },
    { name: "--root", flags: { root: "/flag/root" }, check: (c) => assert.equal(c.root, "/flag/root") },
    { name: "--state", flags: { state: "/flag/state" }, check: (c) => assert.equal(c.state, "/flag/state") },
    {
      name: "relative --root is taken from the working directory",
      flags: { root: "rel" },
      check: (c) => assert.equal(c.root, join(process.cwd(), "rel")),
    },
    {
      name: "--address as a path",
      flags: { address: "/tmp/x.sock" },
      check: (c) => assert.equal(c.grpc.address, "/tmp/x.sock"),
    },
    {
      name: "--address as an endpoint",
      flags: { address: "unix:///tmp/y.sock" },
      check: (c) => assert.equal(c.grpc.address, "/tmp/y.sock"),
    },
    { name: "--log-level", flags: { logLevel: "trace" }, check: (c) => assert.equal(c.debug.level, "trace") },
  ];
  for (const { name, flags, check } of cases) test(name, () => check(applyFlags(base, flags)));

  const bad: { flags: ConfigFlags; message: string }[] = [
    {
      flags: { address: "tcp://127.0.0.1:1" },
      message: 'flag --address: want a unix socket path or unix:// endpoint, got "tcp://127.0.0.1:1"',
    },
    {
      flags: { logLevel: "loud" },
      message: 'flag --log-level: want one of "error", "warn", "info", "debug", "trace", got "loud"',
    },
    {
      flags: { state: "/from/file" },
      message: "root and state must be different directories, both are /from/file",
    },
  ];
  for (const { flags, message } of bad) {
    test(`bad ${Object.keys(flags)[0]} is named`, () => {
      assert.throws(
        () => applyFlags(base, flags),
        (err) => {
          assert.equal(messageOf(err), message);
          assert.equal(kindOf(err), "InvalidArgument");
          return true;
        },
      );
    });
  }
});

test("unknown keys are listed with their full path, not an error", () => {
  const { config, unknownKeys } = parse(`
oom_score = -999
[ttrpc]
address = "/x"
[plugins.cri]
imag = "typo"
[plugins.cri.cni]
max_conf_num = 1
[plugins.lmdb]
x = 1
[plugins."io.containerd.grpc.v1.cri"]
sandbox_image = "y"
`);
  assert.deepEqual(unknownKeys, [
    "oom_score",
    "ttrpc",
    "plugins.cri.imag",
    "plugins.cri.cni.max_conf_num",
    "plugins.lmdb",
    'plugins."io.containerd.grpc.v1.cri"',
  ]);
  assert.deepEqual(cri(config), section.defaults());
});

describe("bad values name the file and the key", () => {
  const cases: { toml: string; message: string }[] = [
    {
      toml: '[plugins.cri]\nmax_downloads = "three"',
      message: 'key "plugins.cri.max_downloads": want a positive integer, got "three"',
    },
    {
      toml: "[plugins.cri]\nmax_downloads = 0",
      message: 'key "plugins.cri.max_downloads": want a positive integer, got 0',
    },
    {
      toml: "[plugins.cri]\nmax_downloads = 2.5",
      message: 'key "plugins.cri.max_downloads": want a positive integer, got 2.5',
    },
    {
      toml: '[plugins.cri]\nimage = ""',
      message: 'key "plugins.cri.image": want a non-empty string, got ""',
    },
    {
      toml: '[plugins.cri.cni]\nbin_dir = "opt/cni"',
      message: 'key "plugins.cri.cni.bin_dir": want an absolute path, got "opt/cni"',
    },
    { toml: '[plugins.cri]\ncni = "x"', message: 'key "plugins.cri.cni": want a table, got "x"' },
    { toml: 'plugins = "x"', message: 'key "plugins": want a table, got "x"' },
    { toml: "version = 1", message: 'key "version": want 2, got 1' },
    { toml: 'root = "var/lib"', message: 'key "root": want an absolute path, got "var/lib"' },
    {
      toml: "[grpc]\naddress = 5",
      message: 'key "grpc.address": want a unix socket path or unix:// endpoint, got 5',
    },
    {
      toml: '[debug]\nlevel = "verbose"',
      message: 'key "debug.level": want one of "error", "warn", "info", "debug", "trace", got "verbose"',
    },
    {
      toml: "[grpc]\naddress = [1, 2]",
      message: 'key "grpc.address": want a unix socket path or unix:// endpoint, got [1,2]',
    },
  ];
  for (const { toml, message } of cases) {
    test(message, () => {
      assert.throws(
        () => parse(toml),
        (err) => {
          assert.equal(messageOf(err), `config ${file}: ${message}`);
          assert.equal(kindOf(err), "InvalidArgument");
          return true;
        },
      );
    });
  }
});

describe("TOML syntax errors give file, line and column", () => {
  const cases: { toml: string; message: string }[] = [
    {
      toml: 'version = 2\nroot = "/x\n',
      message: "line 2, column 11: control characters are not allowed in strings",
    },
    { toml: "a = = 2", message: "line 1, column 5: invalid value" },
    {
      toml: "[grpc]\n[grpc]\n",
      message: "line 2, column 2: trying to redefine an already defined table or value",
    },
  ];
  for (const { toml, message } of cases) {
    test(message, () => {
      assert.throws(
        () => parse(toml),
        (err) => messageOf(err) === `config ${file}: ${message}`,
      );
    });
  }
});

describe("loadConfig", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-config-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("reads --config, then applies the flags over it", async () => {
    const path = join(dir, "config.toml");
    await writeFile(
      path,
      'root = "/from/file"\nstate = "/from/file/state"\n[plugins.cri]\nimage = "p:2"\nextra = 1\n',
    );
    const loaded = await loadConfig({ config: path, root: "/from/flag" }, plugins);
    assert.equal(loaded.path, path);
    assert.equal(loaded.config.root, "/from/flag");
    assert.equal(loaded.config.state, "/from/file/state");
    assert.equal(cri(loaded.config).image, "p:2");
    assert.deepEqual(loaded.unknownKeys, ["plugins.cri.extra"]);
  });

  test("an explicit --config that does not exist is an error", async () => {
    const path = join(dir, "missing.toml");
    await assert.rejects(loadConfig({ config: path }, plugins), (err) => {
      return messageOf(err) === `config ${path}: no such file`;
    });
  });

  test("errors in the file name the file", async () => {
    const path = join(dir, "bad.toml");
    await writeFile(path, "[plugins.cri]\nmax_downloads = -1\n");
    await assert.rejects(loadConfig({ config: path }, plugins), {
      message: `config ${path}: key "plugins.cri.max_downloads": want a positive integer, got -1`,
    });
  });
});
