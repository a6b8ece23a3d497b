// hosts.toml as containerd 1.6 reads it (after remotes/docker/config/hosts_test.go), the defaults
// when there is no file, and the errors for files that do not parse.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { kindOf, messageOf } from "../../lib/errdefs.js";
import {
  configureHostConfigs,
  type HostCapability,
  type HostConfig,
  hostPaths,
  isLocalhost,
  loadHostDir,
  parseHostsFile,
} from "./hosts.js";

const all: HostCapability[] = ["pull", "resolve", "push"];

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "berth-hosts-test-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test("parseHostsFile: upstream TestParseHostFile, mirrors in file order then the server", () => {
  const toml = `
server = "https://test-default.registry"
ca = "/etc/path/default"

[host."https://mirror.registry"]
  capabilities = ["pull"]
  ca = "/etc/certs/mirror.pem"
  skip_verify = false

[host."https://mirror-bak.registry/us"]
  capabilities = ["pull"]
  skip_verify = true

[host."http://mirror.registry"]
  capabilities = ["pull"]

[host."https://test-1.registry"]
  capabilities = ["pull", "resolve", "push"]
  ca = ["/etc/certs/test-1-ca.pem", "/etc/certs/special.pem"]
  client = [["/etc/certs/client.cert", "/etc/certs/client.key"],["/etc/certs/client.pem", ""]]

[host."https://test-2.registry"]
  client = "/etc/certs/client.pem"

[host."https://test-3.registry"]
  client = ["/etc/certs/client-1.pem", "/etc/certs/client-2.pem"]

[host."https://override.registry/api/custom"]
  override_path = true
  header = { X-Mirror = "1", X-Many = ["a", "b"] }

[host."noscheme.registry:5000/path/"]
  capabilities = ["PULL", "Resolve"]
`;
  const expected: HostConfig[] = [
    {
      scheme: "https",
      host: "mirror.registry",
      path: "/v2",
      capabilities: ["pull"],
      caCerts: ["/etc/certs/mirror.pem"],
      skipVerify: false,
    },
    {
      scheme: "https",
      host: "mirror-bak.registry",
      path: "/us/v2",
      capabilities: ["pull"],
      skipVerify: true,
    },
    { scheme: "http", host: "mirror.registry", path: "/v2", capabilities: ["pull"] },
    {
      scheme: "https",
      host: "test-1.registry",
      path: "/v2",
      capabilities: all,
      caCerts: ["/etc/certs/test-1-ca.pem", "/etc/certs/special.pem"],
      clientPairs: [
        ["/etc/certs/client.cert", "/etc/certs/client.key"],
        ["/etc/certs/client.pem", ""],
      ],
    },
    {
      scheme: "https",
      host: "test-2.registry",
      path: "/v2",
      capabilities: all,
      clientPairs: [["/etc/certs/client.pem", ""]],
    },
    {
      scheme: "https",
      host: "test-3.registry",
      path: "/v2",
      capabilities: all,
      clientPairs: [
        ["/etc/certs/client-1.pem", ""],
        ["/etc/certs/client-2.pem", ""],
      ],
    },
    {
      scheme: "https",
      host: "override.registry",
      path: "/api/custom",
      capabilities: all,
      header: { "X-Mirror": ["1"], "X-Many": ["a", "b"] },
    },
    { scheme: "https", host: "noscheme.registry:5000", path: "/path/v2", capabilities: ["pull", "resolve"] },
    {
      scheme: "https",
      host: "test-default.registry",
      path: "/v2",
      capabilities: all,
      caCerts: ["/etc/path/default"],
    },
  ];
  const hosts = parseHostsFile("/etc/certs", toml, "/etc/certs/hosts.toml");
  assert.deepEqual(hosts, expected);
});

test("parseHostsFile: relative ca and client paths are under the host directory", () => {
  const hosts = parseHostsFile(
    "/etc/berth/certs.d/r.test",
    'server = "https://r.test"\nca = "ca.crt"\nclient = "c.pem"\n',
    "f",
  );
  assert.deepEqual(hosts[0]?.caCerts, ["/etc/berth/certs.d/r.test/ca.crt"]);
  assert.deepEqual(hosts[0]?.clientPairs, [["/etc/berth/certs.d/r.test/c.pem", ""]]);
});

test("parseHostsFile: a file without server leaves the last host for the defaults", () => {
  const hosts = parseHostsFile("/d", 'skip_verify = true\n[host."http://127.0.0.1:5001"]\n', "f");
  assert.equal(hosts.length, 2);
  assert.deepEqual(hosts[1], { scheme: "", host: "", path: "", capabilities: all, skipVerify: true });
});

test("parseHostsFile: bad files are InvalidArgument naming the file and the key", () => {
  const file = "/etc/berth/certs.d/x/hosts.toml";
  const cases: [string, RegExp][] = [
    ['server = "https://x\n', /^failed to parse hosts file "\/etc\/berth\/certs.d\/x\/hosts.toml": /],
    ["server = 5", /^invalid hosts file ".*hosts.toml": server: must be a string$/],
    [
      '[host."https://m"]\ncapabilities = ["pull", "fly"]',
      /: host."https:\/\/m".capabilities: unknown capability fly$/,
    ],
    [
      '[host."https://m"]\ncapabilities = "pull"',
      /: host."https:\/\/m".capabilities: must be a list of strings$/,
    ],
    ['[host."https://m"]\nskip_verify = "yes"', /: host."https:\/\/m".skip_verify: must be a boolean$/],
    ['[host."https://m"]\nca = 3', /: host."https:\/\/m".ca: must be a path or a list of paths$/],
    [
      '[host."https://m"]\nclient = [["a", "b", "c"]]',
      /: host."https:\/\/m".client: invalid pair \["a","b","c"\]$/,
    ],
    [
      '[host."https://m"]\nheader = { X = 1 }',
      /: host."https:\/\/m".header.X: must be a string or a list of strings$/,
    ],
    ['host = "https://m"', /: host: must be a table/],
    ['server = "https://[bad"', /: server: unable to parse server https:\/\/\[bad$/],
  ];
  for (const [text, message] of cases) {
    assert.throws(
      () => parseHostsFile("/d", text, file),
      (err) => kindOf(err) === "InvalidArgument" && message.test(messageOf(err)),
      text,
    );
  }
});

test("hostPaths: host_port_ first, then host:port, then _default", () => {
  assert.deepEqual(hostPaths("/c", "127.0.0.1:5000"), [
    "/c/127.0.0.1_5000_",
    "/c/127.0.0.1:5000",
    "/c/_default",
  ]);
  assert.deepEqual(hostPaths("/c", "docker.io"), ["/c/docker.io", "/c/_default"]);
});

test("isLocalhost: localhost and loopback addresses, with or without a port", () => {
  const cases: [string, boolean][] = [
    ["localhost", true],
    ["localhost:5000", true],
    ["127.0.0.1", true],
    ["127.0.0.1:5000", true],
    ["127.1.2.3:80", true],
    ["[::1]:5000", true],
    ["::1", true],
    ["10.0.0.1:5000", false],
    ["registry.local:5000", false],
    ["docker.io", false],
  ];
  for (const [host, want] of cases) assert.equal(isLocalhost(host), want, host);
});

test("configureHostConfigs: defaults without a hosts directory", async () => {
  const empty = path.join(dir, "none");
  const cases: [string, HostConfig][] = [
    ["docker.io", { scheme: "https", host: "registry-1.docker.io", path: "/v2", capabilities: all }],
    ["registry.test", { scheme: "https", host: "registry.test", path: "/v2", capabilities: all }],
    ["registry.test:5000", { scheme: "https", host: "registry.test:5000", path: "/v2", capabilities: all }],
    [
      "127.0.0.1:5000",
      { scheme: "http", host: "127.0.0.1:5000", path: "/v2", capabilities: all, skipVerify: true },
    ],
    ["localhost", { scheme: "http", host: "localhost", path: "/v2", capabilities: all, skipVerify: true }],
  ];
  for (const [host, want] of cases) assert.deepEqual(await configureHostConfigs(host, empty), [want], host);
});

test("configureHostConfigs: hosts.toml in <dir>/<host>/ and <dir>/<host_port_>/, _default for the rest", async () => {
  const root = path.join(dir, "certs.d");
  await mkdir(path.join(root, "mirror.test"), { recursive: true });
  await writeFile(
    path.join(root, "mirror.test", "hosts.toml"),
    'server = "http://127.0.0.1:1"\n[host."http://127.0.0.1:5001"]\n  capabilities = ["pull", "resolve"]\n',
  );
  await mkdir(path.join(root, "127.0.0.1_5000_"), { recursive: true });
  await writeFile(
    path.join(root, "127.0.0.1_5000_", "hosts.toml"),
    'server = "https://127.0.0.1:5000"\nca = "ca.crt"\n',
  );
  assert.deepEqual(await configureHostConfigs("mirror.test", root), [
    { scheme: "http", host: "127.0.0.1:5001", path: "/v2", capabilities: ["pull", "resolve"] },
    { scheme: "http", host: "127.0.0.1:1", path: "/v2", capabilities: all },
  ]);
  assert.deepEqual(await configureHostConfigs("127.0.0.1:5000", root), [
    {
      scheme: "https",
      host: "127.0.0.1:5000",
      path: "/v2",
      capabilities: all,
      caCerts: [path.join(root, "127.0.0.1_5000_", "ca.crt")],
    },
  ]);
  await mkdir(path.join(root, "_default"), { recursive: true });
  await writeFile(path.join(root, "_default", "hosts.toml"), '[host."http://127.0.0.1:5002"]\n');
  assert.deepEqual(await configureHostConfigs("other.test", root), [
    { scheme: "http", host: "127.0.0.1:5002", path: "/v2", capabilities: all },
    { scheme: "https", host: "other.test", path: "/v2", capabilities: all },
  ]);
});

test("loadHostDir: without hosts.toml, Docker's certs.d files (*.crt CAs, *.cert with *.key)", async () => {
  const d = path.join(dir, "docker-layout");
  await mkdir(d, { recursive: true });
  for (const f of ["ca.crt", "client.cert", "client.key", "other.cert", "README"])
    await writeFile(path.join(d, f), "");
  assert.deepEqual(await loadHostDir(d), [
    {
      scheme: "",
      host: "",
      path: "",
      capabilities: all,
      caCerts: [path.join(d, "ca.crt")],
      clientPairs: [
        [path.join(d, "client.cert"), path.join(d, "client.key")],
        [path.join(d, "other.cert"), ""],
      ],
    },
  ]);
});
