// Static pods from files: pkg/kubelet/config/file_test.go, file_linux_test.go and common_test.go (1.28),
// on real files in a temporary directory, with the real fs.watch.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rename, rm, symlink, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.js";
import { pino } from "pino";
import { decodeStaticPods, extractFromDir, extractFromFile, SourceFile } from "./file-source.js";
import type { PodUpdate } from "./pod-config.js";

const log = pino({ level: "silent" });
const hostname = "random-test-hostname";

/** The pod of upstream's getTestCases, as the kubelet's codec writes it. */
function testPod(containerName = "image"): object {
  return {
    kind: "Pod",
    apiVersion: "v1",
    metadata: { name: "test", uid: "12345", namespace: "mynamespace" },
    spec: {
      containers: [{ name: containerName, image: "test/image", securityContext: { privileged: false } }],
      securityContext: {},
      schedulerName: "default-scheduler",
    },
    status: { phase: "Pending" },
  };
}

/** What the file source makes of it. */
function expectedPod(containerName = "image"): Pod {
  return {
    kind: "Pod",
    apiVersion: "v1",
    metadata: {
      name: `test-${hostname}`,
      uid: "12345",
      namespace: "mynamespace",
      annotations: { "kubernetes.io/config.hash": "12345" },
    },
    spec: {
      nodeName: hostname,
      restartPolicy: "Always",
      dnsPolicy: "ClusterFirst",
      terminationGracePeriodSeconds: 30,
      tolerations: [{ operator: "Exists", effect: "NoExecute" }],
      containers: [
        {
          name: containerName,
          image: "test/image",
          terminationMessagePath: "/dev/termination-log",
          imagePullPolicy: "Always",
          securityContext: { privileged: false },
          terminationMessagePolicy: "File",
        },
      ],
      securityContext: {},
      schedulerName: "default-scheduler",
      enableServiceLinks: true,
    },
    status: { phase: "Pending" },
  };
}

const podYaml = (name: string, image = "busybox") =>
  `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\nspec:\n  containers:\n  - name: app\n    image: ${image}\n`;

/** Collects a source's updates; waitFor looks at those after the last one it returned. */
class Updates {
  readonly all: PodUpdate[] = [];
  private cursor = 0;
  private waiter: (() => void) | undefined;
  readonly push = (u: PodUpdate) => {
    this.all.push(u);
    this.waiter?.();
  };

  async waitFor(test: (u: PodUpdate) => boolean, what: string, timeoutMs = 5000): Promise<PodUpdate> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (; this.cursor < this.all.length; this.cursor++) {
        const u = this.all[this.cursor] as PodUpdate;
        if (test(u)) {
          this.cursor++;
          return u;
        }
      }
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.all.map(names))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }
}

const names = (u: PodUpdate) => u.pods.map((p) => p.metadata?.name).sort();

describe("static pod files", () => {
  let dir: string;
  const sources: SourceFile[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-static-pods-"));
  });
  afterEach(async () => {
    await Promise.all(sources.splice(0).map((s) => s.close()));
    await rm(dir, { recursive: true, force: true });
  });

  function start(path: string, periodMs = 60_000): Updates {
    const updates = new Updates();
    const source = new SourceFile({ path, nodeName: hostname, periodMs, update: updates.push, logger: log });
    sources.push(source);
    source.run();
    return updates;
  }

  it("TestReadPodsFromFileExistAlready: a file's pod, defaulted as upstream's codec and applyDefaults do", async () => {
    const file = join(dir, "test_pod_manifest");
    await writeFile(file, JSON.stringify(testPod()));
    const update = await start(file).waitFor(() => true, "the first SET");
    assert.deepEqual(update, { op: "SET", source: "file", pods: [expectedPod()] });
  });

  it("TestExtractFromEmptyDir and TestUpdateOnNonExistentFile: an empty SET, so the source counts as seen", async () => {
    assert.deepEqual(await start(dir).waitFor(() => true, "SET"), { op: "SET", pods: [], source: "file" });
    const missing = await start(join(dir, "absent")).waitFor(() => true, "SET");
    assert.deepEqual(missing, { op: "SET", pods: [], source: "file" });
  });

  it("TestExtractFromBadDataFile: a file that is no manifest gives an error and no pod", async () => {
    const file = join(dir, "test_pod_config");
    await writeFile(file, Buffer.from([1, 2, 3]));
    const { pods, errors } = await extractFromFile(file, hostname);
    assert.deepEqual(pods, []);
    assert.equal(errors.length, 1);
    assert.match(errors[0] ?? "", new RegExp(`^${file}: `));
  });

  it("TestExtractFromDir: every file, in name order; dotfiles skipped, directories not recursed into", async () => {
    await writeFile(join(dir, "b.yaml"), podYaml("second"));
    await writeFile(
      join(dir, "a.json"),
      JSON.stringify({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "first" },
        spec: { containers: [{ name: "c", image: "x" }] },
      }),
    );
    await writeFile(join(dir, ".hidden.yaml"), podYaml("hidden"));
    await mkdir(join(dir, "sub"));
    await writeFile(join(dir, "sub", "c.yaml"), podYaml("nested"));
    const { pods, errors } = await extractFromDir(dir, hostname);
    assert.deepEqual(
      pods.map((p) => p.metadata?.name),
      [`first-${hostname}`, `second-${hostname}`],
    );
    assert.deepEqual(errors, [
      `${join(dir, "sub")}: is a directory; manifest directories are not recursed into`,
    ]);
  });

  it("reads several documents per file and PodLists; a bad document is skipped, named by file, document and field", () => {
    const text = [
      podYaml("one"),
      "apiVersion: v1\nkind: Pod\nmetadata:\n  name: two\nspec:\n  containers:\n  - name: app\n",
      "",
      "apiVersion: v1\nkind: PodList\nitems:\n- metadata: {name: three}\n  spec: {containers: [{name: a, image: x}]}\n- metadata: {name: four}\n  spec: {restartPolicy: Sometimes, containers: [{name: a, image: x}]}\n",
      "apiVersion: apps/v1\nkind: Deployment\n",
      "key: [unclosed\n",
    ].join("---\n");
    const { pods, errors } = decodeStaticPods(text, "pods/web.yaml", hostname);
    assert.deepEqual(
      pods.map((p) => p.metadata?.name),
      [`one-${hostname}`, `three-${hostname}`],
    );
    assert.deepEqual(errors.slice(0, 3), [
      "pods/web.yaml: document 2: spec.containers[0].image: Required value",
      'pods/web.yaml: document 4: items[1]: spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "Never", "OnFailure"',
      'pods/web.yaml: document 5: want apiVersion v1 and kind Pod or PodList, got apiVersion "apps/v1" and kind "Deployment"',
    ]);
    assert.match(errors[3] ?? "", /^pods\/web.yaml: document 6: line \d+, column \d+: /);
    assert.equal(errors.length, 4);
  });

  it("names the file alone when it holds one document", () => {
    const { errors } = decodeStaticPods(
      "apiVersion: v1\nkind: Pod\nspec:\n  containers: [{name: a, image: x}]\n",
      "web.yaml",
      hostname,
    );
    assert.deepEqual(errors, [
      "web.yaml: metadata.name: Invalid value: \"-random-test-hostname\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    ]);
  });

  it("reads YAML as the kubelet does (1.1): 0644 is octal", () => {
    const text = `${podYaml("modes")}  volumes:\n  - name: cfg\n    configMap: {name: c, defaultMode: 0600}\n`;
    const { pods, errors } = decodeStaticPods(text, "m.yaml", hostname);
    assert.deepEqual(errors, []);
    assert.equal(pods[0]?.spec?.volumes?.[0]?.configMap?.defaultMode, 0o600);
  });

  it("names static pods after the node, lower-cased, and keeps a given namespace or defaults it", () => {
    const [pod] = decodeStaticPods(podYaml("web"), "web.yaml", "Node-A").pods;
    assert.equal(pod?.metadata?.name, "web-node-a");
    assert.equal(pod?.metadata?.namespace, "default");
    assert.equal(pod?.spec?.nodeName, "Node-A");
  });

  it("gives a static pod a UID that changes with the manifest, the node and the file, and only with them", () => {
    const uid = (text: string, file: string, node: string) =>
      decodeStaticPods(text, file, node).pods[0]?.metadata?.uid;
    const base = uid(podYaml("web"), "/etc/kubernetes/manifests/web.yaml", "node-a");
    assert.match(base ?? "", /^[0-9a-f]{32}$/);
    assert.equal(uid(podYaml("web"), "/etc/kubernetes/manifests/web.yaml", "node-a"), base);
    // The same object written differently is the same pod.
    const reordered = `kind: Pod\napiVersion: v1\nspec:\n  containers:\n  - image: busybox\n    name: app\nmetadata:\n  name: web\n`;
    assert.equal(uid(reordered, "/etc/kubernetes/manifests/web.yaml", "node-a"), base);
    assert.notEqual(
      uid(podYaml("web", "busybox:1.36"), "/etc/kubernetes/manifests/web.yaml", "node-a"),
      base,
    );
    assert.notEqual(uid(podYaml("web"), "/etc/kubernetes/manifests/web.yaml", "node-b"), base);
    assert.notEqual(uid(podYaml("web"), "/etc/kubernetes/manifests/other.yaml", "node-a"), base);
    const d = decodeStaticPods(podYaml("web"), "/x.yaml", "node-a").pods[0];
    assert.equal(d?.metadata?.annotations?.["kubernetes.io/config.hash"], d?.metadata?.uid);
  });

  it("TestWatchFileAdded: a file written into the watched directory is sent", async () => {
    const updates = start(dir);
    await updates.waitFor((u) => u.pods.length === 0, "the empty first SET");
    await writeFile(join(dir, "test_pod_manifest_0"), JSON.stringify(testPod()));
    const update = await updates.waitFor((u) => u.pods.length === 1, "the pod");
    assert.deepEqual(update.pods, [expectedPod()]);
  });

  it("TestWatchFileChanged: a change, a rename and a removal in the directory are sent", async () => {
    const file = join(dir, "test_pod_manifest_0");
    await writeFile(file, JSON.stringify(testPod()));
    const updates = start(dir);
    await updates.waitFor((u) => u.pods.length === 1, "the pod");
    await writeFile(file, JSON.stringify(testPod("image2")));
    const changed = await updates.waitFor(
      (u) => u.pods[0]?.spec?.containers[0]?.name === "image2",
      "the change",
    );
    assert.deepEqual(changed.pods, [expectedPod("image2")]);
    await rename(file, `${file}_ch`);
    // The rename removes one file and adds another with the same content: each event is read as it
    // comes, so the pod may be gone for one SET before it is back.
    const renamed = await updates.waitFor((u) => u.pods.length === 1, "the pod under its new name");
    assert.deepEqual(renamed.pods, [expectedPod("image2")]);
    await unlink(`${file}_ch`);
    await updates.waitFor((u) => u.pods.length === 0, "the removal");
  });

  it("watches a single file through its directory, so a replaced file is seen", async () => {
    const file = join(dir, "web.yaml");
    await writeFile(file, podYaml("web"));
    await writeFile(join(dir, "other.yaml"), podYaml("other"));
    const updates = start(file);
    await updates.waitFor((u) => u.pods.length === 1, "the pod");
    await writeFile(join(dir, ".web.yaml.swp"), podYaml("web", "busybox:2"));
    await rename(join(dir, ".web.yaml.swp"), file);
    const update = await updates.waitFor(
      (u) => u.pods[0]?.spec?.containers[0]?.image === "busybox:2",
      "the new file",
    );
    assert.deepEqual(names(update), [`web-${hostname}`], "other files in the directory are not read");
  });

  it("sees an edit behind a symlink on the periodic read (symlink case of TestWatchFileChanged)", async () => {
    const target = join(dir, "target");
    const manifests = join(dir, "manifests");
    await mkdir(target);
    await mkdir(manifests);
    await writeFile(join(target, "web.yaml"), podYaml("web"));
    await symlink(join(target, "web.yaml"), join(manifests, "web.yaml"));
    const updates = start(manifests, 300);
    await updates.waitFor((u) => u.pods.length === 1, "the pod");
    await writeFile(join(target, "web.yaml"), podYaml("web", "busybox:2"));
    await updates.waitFor((u) => u.pods[0]?.spec?.containers[0]?.image === "busybox:2", "the edit");
  });

  it("keeps a pod through a half-written file until the next full read, which drops it if it stays bad", async () => {
    const file = join(dir, "web.yaml");
    await writeFile(file, podYaml("web"));
    const updates = start(dir);
    await updates.waitFor((u) => u.pods.length === 1, "the pod");
    await writeFile(file, "apiVersion: v1\nkind: Pod\nmetadata: {name: web\n");
    const during = await updates.waitFor(() => true, "the watch event's SET");
    assert.deepEqual(names(during), [`web-${hostname}`]);
    const source = sources[0] as SourceFile;
    await source.listConfig();
    assert.deepEqual(updates.all.at(-1)?.pods, []);
  });

  it("reads and watches again, within a second, a directory that was removed and made anew", async () => {
    const manifests = join(dir, "manifests");
    await mkdir(manifests);
    const updates = start(manifests);
    await updates.waitFor((u) => u.pods.length === 0, "the empty first SET");
    await rm(manifests, { recursive: true });
    await mkdir(manifests);
    await writeFile(join(manifests, "web.yaml"), podYaml("web"));
    await updates.waitFor((u) => u.pods.length === 1, "the pod", 3000);
    // Watched again: a new file shows up at once, not after the 60 s period.
    await writeFile(join(manifests, "db.yaml"), podYaml("db"));
    await updates.waitFor((u) => u.pods.length === 2, "the second pod", 3000);
  });

  it("starts reading a path that does not exist yet within a second of its making", async () => {
    const manifests = join(dir, "later");
    const updates = start(manifests);
    await updates.waitFor((u) => u.pods.length === 0, "the empty first SET");
    await mkdir(manifests);
    await writeFile(join(manifests, "web.yaml"), podYaml("web"));
    await updates.waitFor((u) => u.pods.length === 1, "the pod", 3000);
  });

  it("sends the good pods of a directory with a bad file in it", async () => {
    await writeFile(join(dir, "good.yaml"), podYaml("good"));
    await writeFile(join(dir, "bad.yaml"), podYaml("bad", ""));
    const update = await start(dir).waitFor(() => true, "the first SET");
    assert.deepEqual(names(update), [`good-${hostname}`]);
  });
});
