import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { pino } from "pino";
import { confListFromBytes, confListFromConf, loadConfDir } from "./conf.js";

const log = pino({ level: "silent" });
let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "berth-cni-conf-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const list = (name: string) =>
  JSON.stringify({ cniVersion: "1.0.0", name, plugins: [{ type: "bridge" }, { type: "portmap" }] });

async function confDir(files: Record<string, string>): Promise<string> {
  const d = await mkdtemp(join(dir, "d-"));
  for (const [name, text] of Object.entries(files)) await writeFile(join(d, name), text);
  return d;
}

test("a conflist keeps its plugins in order, their capabilities and its bytes", () => {
  const bytes = JSON.stringify({
    cniVersion: "0.4.0",
    name: "net1",
    disableCheck: "true",
    plugins: [
      { type: "bridge", bridge: "b0" },
      { type: "portmap", capabilities: { portMappings: true, x: 1 } },
    ],
  });
  const l = confListFromBytes(bytes);
  assert.equal(l.name, "net1");
  assert.equal(l.cniVersion, "0.4.0");
  assert.equal(l.disableCheck, true);
  assert.deepEqual(
    l.plugins.map((p) => [p.type, p.capabilities]),
    [
      ["bridge", {}],
      ["portmap", { portMappings: true, x: false }],
    ],
  );
  assert.equal(l.plugins[0]?.raw.bridge, "b0");
  assert.equal(l.bytes, bytes);
});

test("a single .conf becomes a list of one with its name and version", () => {
  const l = confListFromConf(
    JSON.stringify({ cniVersion: "0.3.1", name: "single", type: "ptp", ipMasq: true }),
  );
  assert.equal(l.name, "single");
  assert.equal(l.cniVersion, "0.3.1");
  assert.deepEqual(
    l.plugins.map((p) => p.raw),
    [{ cniVersion: "0.3.1", name: "single", type: "ptp", ipMasq: true }],
  );
});

test("invalid configs are refused with the reason", () => {
  const cases: [string, RegExp][] = [
    ["{", /invalid JSON/],
    ["[]", /not a JSON object/],
    [JSON.stringify({ cniVersion: "1.0.0", plugins: [{ type: "bridge" }] }), /no name/],
    [
      JSON.stringify({ cniVersion: "1.0.0", name: "a b", plugins: [{ type: "bridge" }] }),
      /invalid network name "a b"/,
    ],
    [
      JSON.stringify({ cniVersion: "9.9.9", name: "n", plugins: [{ type: "bridge" }] }),
      /unknown cniVersion "9.9.9"/,
    ],
    [JSON.stringify({ name: "n", plugins: [{ type: "bridge" }] }), /unknown cniVersion undefined/],
    [JSON.stringify({ cniVersion: "1.0.0", name: "n", plugins: [] }), /no plugins in list/],
    [JSON.stringify({ cniVersion: "1.0.0", name: "n", plugins: [{}] }), /plugin 0: missing 'type'/],
    [
      JSON.stringify({ cniVersion: "1.0.0", name: "n", plugins: [{ type: "../bin/sh" }] }),
      /invalid plugin type/,
    ],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => confListFromBytes(text), { kind: "InvalidArgument", message }, text);
  }
  assert.throws(() => confListFromConf(list("n")), /perhaps this is a \.conflist/);
});

test("conf dir: files sorted by name, the first valid one wins, others are skipped", async () => {
  const d = await confDir({
    "05-broken.conflist": "{not json",
    "10-b.conflist": list("second"),
    "20-a.conf": JSON.stringify({ cniVersion: "1.0.0", name: "third", type: "bridge" }),
    "00-ignored.txt": list("not-a-conf-file"),
  });
  await mkdir(join(d, "01-dir.conf"));
  assert.equal((await loadConfDir(d, log))?.name, "second");
});

test("conf dir: .json and .conf files are single configs", async () => {
  const d = await confDir({
    "99.json": JSON.stringify({ cniVersion: "1.0.0", name: "json", type: "bridge" }),
  });
  assert.equal((await loadConfDir(d, log))?.name, "json");
});

test("conf dir: nothing there (or no dir) is undefined; only invalid files is an error naming each", async () => {
  assert.equal(await loadConfDir(await confDir({}), log), undefined);
  assert.equal(await loadConfDir(join(dir, "missing"), log), undefined);
  const d = await confDir({ "1.conflist": "{", "2.conf": list("x") });
  await assert.rejects(loadConfDir(d, log), (err: Error & { kind?: string }) => {
    assert.equal(err.kind, "FailedPrecondition");
    assert.match(
      err.message,
      /no valid CNI network config in ".*": .*1\.conflist: invalid JSON.*; .*2\.conf: /,
    );
    return true;
  });
});
