// The CLI's answers to user errors: one clear line on stderr, a non-zero exit,
// never a stack trace. These need no runtime: each fails before or at dialing.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chown, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { berth } from "./support/berth-cli.js";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "berth-cli-errors-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function assertOneLineError(r: { code: number; stdout: string; stderr: string }, pattern: RegExp) {
  assert.notEqual(r.code, 0, "exit code");
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  assert.equal(r.stderr.trimEnd().split("\n").length, 1, `one line, got: ${r.stderr}`);
}

test("a missing socket names the endpoint and says the runtime is not running", async () => {
  const endpoint = `unix://${join(dir, "missing.sock")}`;
  const r = await berth(["--runtime-endpoint", endpoint, "version"]);
  assertOneLineError(
    r,
    /^berth: cannot connect to runtime endpoint unix:\/\/.*missing\.sock: socket does not exist/,
  );
});

test("CONTAINER_RUNTIME_ENDPOINT is used when no flag is given", async () => {
  const endpoint = `unix://${join(dir, "from-env.sock")}`;
  const r = await berth(["ps"], { env: { CONTAINER_RUNTIME_ENDPOINT: endpoint } });
  assertOneLineError(r, /from-env\.sock: socket does not exist/);
});

test("a stale socket that nobody listens on is refused", async () => {
  const path = join(dir, "stale.sock");
  // A process that exits without closing its server leaves the socket file behind.
  execFileSync(process.execPath, [
    "-e",
    `require("net").createServer().listen(${JSON.stringify(path)}, () => process.exit(0))`,
  ]);
  const r = await berth(["--runtime-endpoint", `unix://${path}`, "version"]);
  assertOneLineError(r, /cannot connect to runtime endpoint .*stale\.sock: connection refused/);
});

test("a file that is not a socket is reported as refused or not a socket", async () => {
  const path = join(dir, "plain-file");
  await writeFile(path, "");
  const r = await berth(["--runtime-endpoint", `unix://${path}`, "version"]);
  assertOneLineError(r, /cannot connect to runtime endpoint .*plain-file: (connection refused|not a socket)/);
});

test("only unix endpoints are accepted", async () => {
  const r = await berth(["--runtime-endpoint", "tcp://127.0.0.1:1234", "version"]);
  assertOneLineError(r, /protocol "tcp" not supported, only unix/);
});

test("a bad --timeout is named", async () => {
  const r = await berth(["--timeout", "soon", "version"]);
  assertOneLineError(r, /invalid duration "soon"/);
});

test("runp with a missing config file names the path", async () => {
  const missing = join(dir, "nope.yaml");
  const r = await berth(["--runtime-endpoint", `unix://${join(dir, "x.sock")}`, "runp", missing]);
  assertOneLineError(r, new RegExp(`config file ${missing}: no such file`));
});

test("runp with invalid YAML says so", async () => {
  const file = join(dir, "bad.yaml");
  await writeFile(file, "metadata: [unclosed\n");
  const r = await berth(["runp", file]);
  assertOneLineError(r, /config file .*bad\.yaml: not valid YAML/);
});

test("runp with a wrongly typed field names the field", async () => {
  const file = join(dir, "badfield.yaml");
  await writeFile(file, "metadata:\n  name: web\n  attempt: many\n");
  const r = await berth(["runp", file]);
  assertOneLineError(r, /config file .*badfield\.yaml: .*PodSandboxMetadata\.attempt/);
});

test("runp with an unknown field names it", async () => {
  const file = join(dir, "unknown.json");
  await writeFile(file, JSON.stringify({ metadata: { name: "web" }, colour: "blue" }));
  const r = await berth(["runp", file]);
  assertOneLineError(r, /config file .*unknown\.json: .*colour/);
});

test("bad flag values are named before any call", async () => {
  assertOneLineError(await berth(["ps", "--state", "sleeping"]), /--state "sleeping": want one of created/);
  assertOneLineError(await berth(["pods", "--label", "novalue"]), /--label "novalue": want key=value/);
  assertOneLineError(await berth(["update", "--memory", "lots", "c1"]), /invalid size "lots"/);
  assertOneLineError(await berth(["ps", "-o", "xml"]), /unsupported output format "xml"/);
});

test("an unknown command exits non-zero with usage help", async () => {
  const r = await berth(["frobnicate"]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /unknown command 'frobnicate'/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});

test("--help lists every crictl command berth has", async () => {
  const r = await berth(["--help"]);
  assert.equal(r.code, 0);
  for (const cmd of [
    "version",
    "info",
    "pods",
    "runp",
    "inspectp",
    "stopp",
    "rmp",
    "ps",
    "create",
    "start",
    "stop",
    "rm",
    "inspect",
    "logs",
    "exec",
    "stats",
    "statsp",
    "update",
    "images",
    "pull",
    "inspecti",
    "rmi",
    "imagefsinfo",
  ]) {
    assert.match(r.stdout, new RegExp(`^\\s+${cmd}\\b`, "m"), cmd);
  }
});

test("a socket the user may not open is reported as permission denied", async () => {
  // A directory only nobody may enter, and a CLI without root's right to ignore that.
  const sockDir = join(dir, "private");
  await mkdir(sockDir, { mode: 0o700 });
  await chown(sockDir, 65534, 65534);
  const path = join(sockDir, "cri.sock");
  execFileSync(process.execPath, [
    "-e",
    `require("net").createServer().listen(${JSON.stringify(path)}, () => process.exit(0))`,
  ]);
  const r = await berth(["--runtime-endpoint", `unix://${path}`, "version"], { withoutDacOverride: true });
  assertOneLineError(r, /cannot connect to runtime endpoint .*cri\.sock: permission denied \(try as root\)/);
});
