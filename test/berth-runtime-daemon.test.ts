// `berth runtime` as a user runs it: the real daemon as a child process, answered through
// the real CLI. Every daemon started here is stopped and its dirs removed.
import assert from "node:assert/strict";
import { existsSync, readFileSync, statSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { LockFileName } from "../src/runtime/dir-lock.js";
import {
  type BerthRuntime,
  type BerthRuntimeOptions,
  startBerthRuntime,
} from "../src/testenv/berth-runtime.js";
import { berth, berthOk } from "./support/berth-cli.js";

const started: BerthRuntime[] = [];
let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "berth-runtime-test-"));
});
after(async () => {
  for (const rt of started) await rt.stop();
  await rm(dir, { recursive: true, force: true });
});

async function start(opts?: BerthRuntimeOptions): Promise<BerthRuntime> {
  const rt = await startBerthRuntime(opts);
  started.push(rt);
  return rt;
}

type LogLine = Record<string, unknown> & { level: string; msg: string };
const logLines = (text: string): LogLine[] =>
  text
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as LogLine);
const logOf = (rt: BerthRuntime) => logLines(readFileSync(rt.logPath, "utf8"));

/** Runs `berth runtime` with private dirs under the test dir plus `args`; for starts that must fail. */
async function runtimeFails(name: string, args: string[]) {
  const base = join(dir, name);
  const r = await berth([
    "runtime",
    "--root",
    join(base, "root"),
    "--state",
    join(base, "state"),
    "--address",
    join(base, "berth.sock"),
    ...args,
  ]);
  assert.equal(r.code, 1, `exit code; stderr: ${r.stderr}`);
  const lines = logLines(r.stderr);
  assert.equal(lines.length, r.stderr.trimEnd().split("\n").length, "stderr is JSON log lines only");
  const errors = lines.filter((l) => l.level === "error");
  assert.equal(errors.length, 1, `one error line: ${r.stderr}`);
  assert.equal(errors[0]?.msg, "berth runtime failed to start");
  return String(errors[0]?.err);
}

test("version: RuntimeName berth, RuntimeApiVersion v1", async () => {
  const rt = await start();
  const out = await berthOk(["--runtime-endpoint", rt.endpoint, "version"]);
  assert.equal(
    out,
    ["Version:  0.1.0", "RuntimeName:  berth", "RuntimeVersion:  0.1.0", "RuntimeApiVersion:  v1", ""].join(
      "\n",
    ),
  );
});

test("info: runtime and network ready out of the box (berth's default network), and the CRI config", async () => {
  const confDir = join(dir, "net.d-empty");
  const rt = await start({
    configToml: `[plugins.cri]\nsandbox_image = "127.0.0.1:5000/berth/pause:3.9"\n[plugins.cri.cni]\nconf_dir = "${confDir}"\n`,
  });
  const info = JSON.parse(await berthOk(["--runtime-endpoint", rt.endpoint, "info"]));
  assert.deepEqual(info.status.conditions, [
    { type: "RuntimeReady", status: true, reason: "", message: "" },
    { type: "NetworkReady", status: true, reason: "", message: "" },
  ]);
  assert.equal(info.config.sandboxImage, "127.0.0.1:5000/berth/pause:3.9");
  assert.equal(info.config.maxConcurrentDownloads, 3);
  assert.deepEqual(info.config.cni, { binDir: "/usr/lib/cni", confDir });
  assert.equal(info.config.rootDir, join(rt.root, "grpc.cri"));
  assert.equal(info.config.stateDir, join(rt.state, "grpc.cri"));
});

test("info: network not ready while the CNI config names a plugin that is not installed", async () => {
  const confDir = join(dir, "net.d-missing-plugin");
  await mkdir(confDir, { recursive: true });
  await writeFile(
    join(confDir, "10-missing.conflist"),
    JSON.stringify({ cniVersion: "1.0.0", name: "missing", plugins: [{ type: "no-such-cni-plugin" }] }),
  );
  const rt = await start({ configToml: `[plugins.cri.cni]\nconf_dir = "${confDir}"\n` });
  const info = JSON.parse(await berthOk(["--runtime-endpoint", rt.endpoint, "info"]));
  const network = info.status.conditions.find((c: { type: string }) => c.type === "NetworkReady");
  assert.equal(network.status, false);
  assert.equal(network.reason, "NetworkPluginNotReady");
  assert.match(
    network.message,
    /^Network plugin returns error: cni plugin not initialized: .*no-such-cni-plugin/,
  );
});

test("start-up: private root, 0660 socket, metadata database, one 'started' line with versions and paths", async () => {
  const rt = await start();
  assert.equal(statSync(rt.root).mode & 0o777, 0o700);
  assert.equal(statSync(rt.socket).mode & 0o777, 0o660);
  assert.ok(existsSync(join(rt.root, "metadata.lmdb", "meta.lmdb")));
  assert.equal(readFileSync(join(rt.root, LockFileName), "utf8"), `${rt.pid}\n`);
  const startedLines = logOf(rt).filter((l) => l.msg === "berth runtime started");
  assert.equal(startedLines.length, 1);
  assert.deepEqual(
    { ...startedLines[0], time: undefined, node: undefined },
    {
      level: "info",
      time: undefined,
      msg: "berth runtime started",
      version: "0.1.0",
      criVersion: "v1",
      node: undefined,
      pid: rt.pid,
      config: null,
      root: rt.root,
      state: rt.state,
      address: rt.endpoint,
      plugins: [
        "metadata.lmdb",
        "content.local",
        "snapshotter.overlayfs",
        "leases.metadata",
        "gc.scheduler",
        "runtime.task",
        "grpc.cri",
      ],
    },
  );
});

test("two daemons run side by side on their own roots and sockets", async () => {
  const [a, b] = await Promise.all([start(), start()]);
  assert.ok(a && b);
  assert.notEqual(a.pid, b.pid);
  for (const rt of [a, b]) {
    assert.match(await berthOk(["--runtime-endpoint", rt.endpoint, "version"]), /RuntimeName: {2}berth/);
  }
});

test("a second daemon on the same root is refused, naming the root and the holder", async () => {
  const rt = await start();
  const err = await runtimeFails("same-root", ["--root", rt.root]);
  assert.equal(
    err,
    `root directory ${rt.root} is in use by another berth runtime (pid ${rt.pid}; ${join(rt.root, LockFileName)} is locked)`,
  );
  await berthOk(["--runtime-endpoint", rt.endpoint, "version"]);
});

test("a second daemon on the same socket is refused", async () => {
  const rt = await start();
  const err = await runtimeFails("same-socket", ["--address", rt.endpoint]);
  assert.equal(err, `address ${rt.socket} is in use: another process is serving on it`);
  await berthOk(["--runtime-endpoint", rt.endpoint, "version"]);
});

test("SIGTERM: exit 0, socket and locks removed, shutdown logged", async () => {
  const rt = await start();
  assert.deepEqual(await rt.terminate(), { code: 0, signal: null });
  assert.equal(existsSync(rt.socket), false, "socket removed");
  assert.equal(existsSync(join(rt.root, LockFileName)), false, "root lock removed");
  assert.equal(existsSync(join(rt.state, LockFileName)), false, "state lock removed");
  const msgs = logOf(rt).map((l) => l.msg);
  assert.deepEqual(msgs.slice(-2), ["shutting down", "berth runtime stopped"]);
  assert.equal(logOf(rt).find((l) => l.msg === "shutting down")?.signal, "SIGTERM", "the signal is logged");
});

test("kill -9, then a restart on the same dirs works: the stale socket and lock file do not block", async () => {
  const rt = await start();
  const firstPid = rt.pid;
  await rt.kill9();
  assert.ok(existsSync(rt.socket), "a killed daemon leaves its socket");
  assert.ok(existsSync(join(rt.root, LockFileName)), "and its lock file");
  await rt.restart();
  assert.notEqual(rt.pid, firstPid);
  assert.match(await berthOk(["--runtime-endpoint", rt.endpoint, "version"]), /RuntimeApiVersion: {2}v1/);
});

test("a bad value: exit 1, one error line naming the file and the key", async () => {
  const config = join(dir, "bad-value.toml");
  await writeFile(config, 'version = 2\n[plugins.cri]\nmax_concurrent_downloads = "three"\n');
  const err = await runtimeFails("bad-value", ["--config", config]);
  assert.equal(
    err,
    `config ${config}: key "plugins.cri.max_concurrent_downloads": want a positive integer, got "three"`,
  );
  assert.equal(existsSync(join(dir, "bad-value", "root")), false, "nothing was created");
});

test("a TOML syntax error: exit 1, naming the file, line and column", async () => {
  const config = join(dir, "bad-syntax.toml");
  await writeFile(config, 'version = 2\n[grpc\naddress = "/x"\n');
  const err = await runtimeFails("bad-syntax", ["--config", config]);
  assert.match(err, new RegExp(`^config ${config}: line 2, column \\d+: `));
});

test("a missing --config and a bad flag are errors too", async () => {
  const missing = join(dir, "missing.toml");
  assert.equal(await runtimeFails("missing", ["--config", missing]), `config ${missing}: no such file`);
  assert.equal(
    await runtimeFails("bad-level", ["--log-level", "loud"]),
    'flag --log-level: want one of "error", "warn", "info", "debug", "trace", got "loud"',
  );
});

test("unknown keys are a warning listing them, and the daemon starts", async () => {
  const rt = await start({ configToml: '[plugins.cri]\nsandbox_imag = "typo"\n[ttrpc]\naddress = ""\n' });
  const warning = logOf(rt).find((l) => l.msg === "ignoring unknown keys in config");
  assert.equal(warning?.level, "warn");
  assert.deepEqual(warning?.keys, ["ttrpc", "plugins.cri.sandbox_imag"]);
  assert.equal(warning?.config, join(rt.dir, "config.toml"));
});
