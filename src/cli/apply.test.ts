import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.js";
import { lastAppliedAnnotation, manifestFiles, parseManifests, toPod, withLastApplied } from "./apply.js";

describe("parseManifests", () => {
  it("reads every YAML document, unrolls v1 Lists and skips empty documents", () => {
    const text = [
      "apiVersion: v1\nkind: Pod\nmetadata: {name: a}",
      "",
      "# only a comment",
      "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: b}}\n- {apiVersion: v1, kind: Pod, metadata: {name: c}}",
    ].join("\n---\n");
    const objects = parseManifests(text, "pods.yaml");
    assert.deepEqual(
      objects.map((o) => `${o.source}:${(o.object.metadata as { name: string }).name}`),
      ["pods.yaml:a", "pods.yaml:b", "pods.yaml:c"],
    );
  });

  it("reads JSON, and names the file, line and column of a syntax error", () => {
    assert.equal(parseManifests('{"apiVersion": "v1", "kind": "Pod"}', "p.json")[0]?.object.kind, "Pod");
    assert.throws(
      () =>
        parseManifests("apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n   bad: indent\n", "broken.yaml"),
      /^BerthError: error parsing broken\.yaml: line 4, column \d+: /,
    );
    assert.throws(() => parseManifests("- a\n- b\n", "list.yaml"), /error validating "list\.yaml"/);
  });
});

describe("toPod", () => {
  it("takes v1 Pods and refuses what kubectl could not map to a resource", () => {
    const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "a" } };
    assert.equal(toPod({ object: pod, source: "f" }), pod);
    assert.throws(
      () => toPod({ object: { apiVersion: "v1", metadata: {} }, source: "f.yaml" }),
      /error validating "f\.yaml": error validating data: kind not set/,
    );
    assert.throws(
      () => toPod({ object: { kind: "Pod" }, source: "f.yaml" }),
      /error validating data: apiVersion not set/,
    );
    assert.throws(
      () =>
        toPod({
          object: { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "d" } },
          source: "f",
        }),
      /resource mapping not found for name: "d" namespace: "" from "f": no matches for kind "Deployment" in version "apps\/v1"/,
    );
  });
});

it("keeps the applied configuration in the annotation kubectl uses: sorted compact JSON with the namespace", () => {
  const pod: Pod = {
    kind: "Pod",
    apiVersion: "v1",
    metadata: { name: "web", annotations: { [lastAppliedAnnotation]: "old\n" } },
    spec: { containers: [{ name: "app", image: "busybox" }] },
  };
  const applied = withLastApplied(pod, "default");
  assert.equal(applied.metadata?.namespace, "default");
  assert.equal(
    applied.metadata?.annotations?.[lastAppliedAnnotation],
    '{"apiVersion":"v1","kind":"Pod","metadata":{"annotations":{},"name":"web","namespace":"default"},"spec":{"containers":[{"image":"busybox","name":"app"}]}}\n',
  );
  assert.deepEqual(withLastApplied(applied, "default"), applied, "applying the result again changes nothing");
});

describe("manifestFiles", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-apply-"));
    await mkdir(join(dir, "sub"));
    for (const f of ["b.yaml", "a.json", "c.yml", "notes.txt", "sub/d.yaml"])
      await writeFile(join(dir, f), "");
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("lists a directory's manifests in name order, its subdirectories' only with -R", async () => {
    assert.deepEqual(
      await manifestFiles(dir, false),
      ["a.json", "b.yaml", "c.yml"].map((f) => join(dir, f)),
    );
    assert.deepEqual(
      await manifestFiles(dir, true),
      ["a.json", "b.yaml", "c.yml", "sub/d.yaml"].map((f) => join(dir, f)),
    );
    assert.deepEqual(await manifestFiles(join(dir, "notes.txt"), false), [join(dir, "notes.txt")]);
    assert.deepEqual(await manifestFiles("-", false), ["-"]);
    await assert.rejects(
      manifestFiles(join(dir, "none.yaml"), false),
      /the path ".*none\.yaml" does not exist/,
    );
  });
});
