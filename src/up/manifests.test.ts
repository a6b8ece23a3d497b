import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { computePodQOS } from "../kubelet/qos/qos.js";
import { defaultExamplesDir, loadPodManifests } from "./manifests.js";

let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "berth-up-manifests-"));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test("the examples are four pods, one per QoS class and a job, all on the node's own images", async () => {
  const manifests = await loadPodManifests(defaultExamplesDir());
  const summary = manifests.map(({ pod, file }) => ({
    name: pod.metadata?.name,
    file: file.slice(defaultExamplesDir().length + 1),
    qos: computePodQOS(pod),
    restartPolicy: pod.spec?.restartPolicy ?? "Always",
  }));
  assert.deepEqual(summary, [
    { name: "besteffort", file: "besteffort.yaml", qos: "BestEffort", restartPolicy: "Always" },
    { name: "guaranteed", file: "guaranteed.yaml", qos: "Guaranteed", restartPolicy: "Always" },
    { name: "job-once", file: "job-once.yaml", qos: "BestEffort", restartPolicy: "OnFailure" },
    { name: "web", file: "web.yaml", qos: "Burstable", restartPolicy: "Always" },
  ]);
  const images = manifests.flatMap(({ pod }) =>
    [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].map((c) => c.image),
  );
  assert.deepEqual([...new Set(images)], ["berth.local/busybox:1.35"]);
  const web = manifests.find((m) => m.pod.metadata?.name === "web")?.pod;
  assert.ok(web?.spec?.containers[0]?.lifecycle?.postStart?.exec, "web has a postStart exec hook");
  const besteffort = manifests.find((m) => m.pod.metadata?.name === "besteffort")?.pod;
  assert.equal(besteffort?.spec?.initContainers?.length, 1);
});

test("one file with several documents, a List unrolled, empty documents skipped", async () => {
  const file = join(dir, "pods.yaml");
  await writeFile(
    file,
    [
      "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, image: i}]}",
      "",
      "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: b, namespace: other}",
    ].join("\n---\n"),
  );
  const manifests = await loadPodManifests(file);
  assert.deepEqual(
    manifests.map((m) => [m.pod.metadata?.namespace ?? "default", m.pod.metadata?.name, m.file]),
    [
      ["default", "a", file],
      ["other", "b", file],
    ],
  );
});

test("refuses what the node cannot run before anything starts", async () => {
  const cases: [string, string, RegExp][] = [
    [
      "deployment.yaml",
      "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n",
      /no matches for kind "Deployment"/,
    ],
    ["nameless.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {}\n", /has no metadata.name/],
    [
      "twice.yaml",
      "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: x}\n",
      /pod "default\/x" is in both/,
    ],
    ["broken.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: [\n", /error parsing/],
    ["empty.yaml", "# nothing\n", /no pod manifests/],
  ];
  for (const [name, text, want] of cases) {
    const file = join(dir, name);
    await writeFile(file, text);
    await assert.rejects(loadPodManifests(file), (err: Error & { kind?: string }) => {
      assert.match(err.message, want, name);
      assert.equal(err.kind, "InvalidArgument", name);
      return true;
    });
  }
  await assert.rejects(loadPodManifests(join(dir, "missing")), /does not exist/);
});
