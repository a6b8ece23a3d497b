// The kubectl-like commands (berth apply, get, describe, delete) for real: a registry with the test
// images, `berth runtime`, and `berth kubelet` as a child process serving its local API on a unix
// socket; the CLI runs as a user runs it, and the runtime is asked through CRI what really runs.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Event, Pod } from "kubernetes-types/core/v1.js";
import { parse } from "yaml";
import { KubeletClient } from "../src/cli/kubelet-client.js";
import { ContainerState, PodSandboxState } from "../src/cri/gen/runtime/v1/api_pb.js";
import { newRemoteRuntimeService, type RuntimeServiceClient } from "../src/cri/remote-runtime.js";
import { type CriConnection, dialCri } from "../src/cri/transport.js";
import { type BerthRuntime, berthLeftovers, startBerthRuntime } from "../src/testenv/berth-runtime.js";
import { existingCgroups } from "../src/testenv/cgroups.js";
import { type BerthKubelet, startBerthKubelet } from "../src/testenv/kubelet.js";
import { type RegistryWithTestImages, startRegistryWithTestImages } from "../src/testenv/registry.js";
import { berth, type CliResult } from "./support/berth-cli.js";
import { until, withKubelet } from "./support/kubelet-scenario.js";

const nodeName = "berth-cli-node";

let reg: RegistryWithTestImages;
let rt: BerthRuntime;
let conn: CriConnection;
let runtime: RuntimeServiceClient;
let dir: string;
let kubelet: BerthKubelet | undefined;

/** The CLI against this test's kubelet (its socket through the environment, as a user would set it). */
const cli = (...args: string[]): Promise<CliResult> =>
  berth(args, { env: { BERTH_KUBELET_SOCKET: kubelet?.socket ?? "" } });

async function cliOk(...args: string[]): Promise<string> {
  const r = await cli(...args);
  assert.equal(r.code, 0, `berth ${args.join(" ")} exited ${r.code}: ${r.stderr}\n${await kubeletLogTail()}`);
  return r.stdout;
}

async function kubeletLogTail(): Promise<string> {
  return `kubelet log:\n${kubelet?.logTail(30) ?? ""}`;
}

/** A condition's name for until(), with the kubelet's log when it does not come. */
const kubeletSays = (what: string) => async () => `${what}\n${await kubeletLogTail()}`;

function manifests(image: string, webLabels: Record<string, string>): string {
  const web: Pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "web", labels: webLabels },
    spec: {
      containers: [
        {
          name: "app",
          image,
          command: ["sleep", "3600"],
          env: [{ name: "GREETING", value: "hello" }],
          resources: { requests: { cpu: "100m", memory: "32Mi" }, limits: { memory: "64Mi" } },
        },
      ],
    },
  };
  const db: Pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "db", namespace: "other" },
    spec: { containers: [{ name: "store", image, command: ["sleep", "3600"] }] },
  };
  const crash: Pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "crash", namespace: "other" },
    spec: { containers: [{ name: "fails", image, command: ["sh", "-c", "exit 3"] }] },
  };
  // A YAML document, then a JSON List in a second document: kubectl takes both in one file.
  const list = { apiVersion: "v1", kind: "List", items: [db, crash] };
  return `${JSON.stringify(web)}\n---\n${JSON.stringify(list)}\n`;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "berth-cli-kubelet-"));
  reg = await startRegistryWithTestImages();
  rt = await startBerthRuntime({ configToml: `[plugins.cri]\nsandbox_image = "${reg.pause.ref}"\n` });
  conn = dialCri(rt.endpoint, { timeoutMs: 30_000 });
  runtime = newRemoteRuntimeService(conn);
  kubelet = await startBerthKubelet({ runtimeEndpoint: rt.endpoint, nodeName, logLevel: "info" });
});

after(async () => {
  try {
    // A failed step may have left pods: taken down through the kubelet, the rest through CRI.
    if (kubelet) await withKubelet(runtime, kubelet, async () => {});
    if (rt) assert.deepEqual(await berthLeftovers(rt), [], "the pods left nothing behind in the runtime");
  } finally {
    conn?.close();
    await rt?.stop();
    await reg?.registry.stop();
    if (dir) {
      const mounts = (await readFile("/proc/self/mountinfo", "utf8"))
        .split("\n")
        .filter((l) => l.includes(dir));
      assert.deepEqual(mounts, [], "no mount is left under the test's directory");
      await rm(dir, { recursive: true, force: true });
    }
  }
});

describe("berth apply, get, describe and delete against berth kubelet", () => {
  it("applies a file of several documents and reports each pod as kubectl does", async () => {
    const manifestDir = join(dir, "manifests");
    await mkdir(manifestDir);
    const file = join(manifestDir, "pods.yaml");
    await writeFile(file, manifests(reg.busybox.ref, { app: "web" }));
    assert.equal(await cliOk("apply", "-f", file), "pod/web created\npod/db created\npod/crash created\n");
    assert.equal(
      await cliOk("apply", "-f", file),
      "pod/web unchanged\npod/db unchanged\npod/crash unchanged\n",
    );
    await writeFile(file, manifests(reg.busybox.ref, { app: "web", tier: "front" }));
    assert.equal(
      await cliOk("apply", "-f", manifestDir),
      "pod/web configured\npod/db unchanged\npod/crash unchanged\n",
    );
  });

  it("lists the pods in kubectl's columns: two running, one in CrashLoopBackOff", async () => {
    const table = await until(
      kubeletSays("web and db Running, crash in CrashLoopBackOff"),
      90_000,
      async () => {
        const out = await cliOk("get", "pods", "-A");
        const wanted = [
          /^default +web +1\/1 +Running /m,
          /^other +db +1\/1 +Running /m,
          /^other +crash +0\/1 +CrashLoopBackOff /m,
        ];
        return wanted.every((re) => re.test(out)) ? out : undefined;
      },
    );
    const [header, ...rows] = table.trimEnd().split("\n");
    assert.match(header ?? "", /^NAMESPACE +NAME +READY +STATUS +RESTARTS +AGE$/);
    assert.equal(rows.length, 3);
    for (const row of rows) {
      assert.match(
        row,
        /^(default +web|other +db) +1\/1 +Running +0 +\d+s$|^other +crash +0\/1 +CrashLoopBackOff +\d+ \(\d+s ago\) +\d+s$/,
      );
    }

    const mine = await cliOk("get", "pods");
    assert.match(mine, /^NAME +READY +STATUS +RESTARTS +AGE\nweb +1\/1 +Running +/);
    assert.doesNotMatch(mine, /\bdb\b/, "without -A only the default namespace");
    const wide = await cliOk("get", "pod", "db", "-n", "other", "-o", "wide");
    assert.match(wide, /^NAME +READY +STATUS +RESTARTS +AGE +IP +NODE +NOMINATED NODE +READINESS GATES\n/);
    assert.match(
      wide,
      new RegExp(`^db +1/1 +Running +.* +10\\.89\\.\\d+\\.\\d+ +${nodeName} +<none> +<none>$`, "m"),
    );
    assert.equal(await cliOk("get", "pods", "-o", "name"), "pod/web\n");
  });

  it("describes the pod with its container, conditions and the kubelet's events", async () => {
    const text = await until(kubeletSays("Created and Started events"), 90_000, async () => {
      const out = await cliOk("describe", "pod", "web");
      return /Normal +Started .*kubelet +Started container app/.test(out) ? out : undefined;
    });
    const lines = [
      /^Name: +web$/,
      /^Namespace: +default$/,
      new RegExp(`^Node: +${nodeName}/\\S+$`),
      /^Start Time: +\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$/,
      /^Labels: +app=web\n +tier=front$/,
      /^Status: +Running$/,
      /^IP: +10\.89\.\d+\.\d+$/,
      /^IPs:\n {2}IP: +10\.89\.\d+\.\d+$/,
      /^Containers:\n {2}app:\n {4}Container ID: +berth:\/\/[0-9a-f]{64}\n {4}Image: +\S+busybox:latest\n {4}Image ID: +\S+@sha256:[0-9a-f]{64}$/,
      /^ {4}State: +Running\n {6}Started: +\w{3}, /,
      /^ {4}Ready: +True$/,
      /^ {4}Limits:\n {6}memory: +64Mi\n {4}Requests:\n {6}cpu: +100m\n {6}memory: +32Mi$/,
      /^ {4}Environment:\n {6}GREETING: +hello$/,
      /^Conditions:\n {2}Type +Status\n {2}Initialized +True \n {2}Ready +True \n {2}ContainersReady +True \n {2}PodScheduled +True $/,
      /^QoS Class: +Burstable$/,
      /^Events:\n {2}Type +Reason +Age +From +Message\n {2}-{4} +-{6} +-{4} +-{4} +-{7}$/,
      /^ {2}Normal +Created +\S+.* +kubelet +Created container app$/,
    ];
    for (const re of lines) assert.match(text, new RegExp(re.source, "m"));
  });

  it("prints the pod as JSON, YAML and by name, with the kubelet's status", async () => {
    const pod = JSON.parse(await cliOk("get", "pod", "web", "-o", "json")) as Pod;
    assert.equal(pod.kind, "Pod");
    assert.equal(pod.metadata?.name, "web");
    assert.equal(pod.spec?.nodeName, nodeName);
    assert.equal(pod.status?.phase, "Running");
    assert.ok(pod.status?.containerStatuses?.[0]?.state?.running, "the container runs");
    assert.deepEqual(Object.keys(pod), ["apiVersion", "kind", "metadata", "spec", "status"]);
    assert.match(
      pod.metadata?.annotations?.["kubectl.kubernetes.io/last-applied-configuration"] ?? "",
      /"tier":"front"/,
    );
    const yaml = parse(await cliOk("get", "pod", "web", "-o", "yaml")) as Pod;
    assert.equal(yaml.metadata?.uid, pod.metadata?.uid);
    const list = JSON.parse(await cliOk("get", "pods", "-A", "-o", "json"));
    assert.equal(list.kind, "List");
    assert.deepEqual(list.items.map((p: Pod) => p.metadata?.name).sort(), ["crash", "db", "web"]);
  });

  it("serves the events of a pod to a field selector", async () => {
    const web = JSON.parse(await cliOk("get", "pod", "web", "-o", "json")) as Pod;
    const selector = encodeURIComponent(`involvedObject.name=web,involvedObject.uid=${web.metadata?.uid}`);
    const client = new KubeletClient(kubelet?.socket ?? "", 10_000);
    const list = await client.get<{ kind: string; items: Event[] }>(
      `/api/v1/namespaces/default/events?fieldSelector=${selector}`,
    );
    assert.equal(list.kind, "EventList");
    const created = list.items.find((e) => e.reason === "Created");
    assert.equal(created?.involvedObject.fieldPath, "spec.containers{app}");
    assert.deepEqual(created?.source, { component: "kubelet", host: nodeName });
    assert.ok(list.items.every((e) => e.involvedObject.name === "web"));
  });

  it("reports errors in one line each, naming the file and the field", async () => {
    const bad = join(dir, "bad.yaml");
    await writeFile(
      bad,
      "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\nspec:\n  containers:\n  - name: c\n",
    );
    let r = await cli("apply", "-f", bad);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'berth: The Pod "bad" is invalid: spec.containers[0].image: Required value\n');

    const broken = join(dir, "broken.yaml");
    await writeFile(broken, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n   oops: 1\n");
    r = await cli("apply", "-f", broken);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`^berth: error parsing ${broken}: line 4, column \\d+: .+\\n$`));

    const deployment = join(dir, "deployment.yaml");
    await writeFile(deployment, "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n");
    r = await cli("apply", "-f", deployment);
    assert.match(r.stderr, /no matches for kind "Deployment" in version "apps\/v1"/);

    for (const args of [
      ["get", "pod", "nope"],
      ["describe", "pod", "nope"],
      ["delete", "pod", "nope"],
    ]) {
      r = await cli(...args);
      assert.deepEqual(
        { code: r.code, stdout: r.stdout, stderr: r.stderr },
        { code: 1, stdout: "", stderr: 'berth: Error from server (NotFound): pods "nope" not found\n' },
        args.join(" "),
      );
    }
    r = await cli("get", "deployments");
    assert.equal(r.stderr, 'berth: the server doesn\'t have a resource type "deployments"\n');
    r = await cli("get", "pods", "-n", "empty");
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, "", "No resources found in empty namespace.\n"]);

    const missing = join(dir, "missing.sock");
    r = await berth(["get", "pods", "--kubelet-socket", missing]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`^berth: the kubelet's local API socket ${missing} does not exist: `));
    r = await berth(["get", "pods"], { env: { BERTH_KUBELET_SOCKET: missing } });
    assert.match(r.stderr, /does not exist: is `berth kubelet` running\?/);
  });

  it("deletes a pod and returns once it is gone: the runtime runs nothing of it any more", async () => {
    const uid = JSON.parse(await cliOk("get", "pod", "web", "-o", "json")).metadata.uid as string;
    assert.equal(await cliOk("delete", "pod", "web", "--grace-period", "1"), 'pod "web" deleted\n');
    const r = await cli("get", "pod", "web");
    assert.equal(r.stderr, 'berth: Error from server (NotFound): pods "web" not found\n');
    await assertRunsNothingOf(uid);

    const db = JSON.parse(await cliOk("get", "pod", "db", "-n", "other", "-o", "json")).metadata
      .uid as string;
    assert.equal(await cliOk("delete", "pod/db", "-n", "other", "--grace-period=1"), 'pod "db" deleted\n');
    await assertRunsNothingOf(db);
    const crash = JSON.parse(await cliOk("get", "pod", "crash", "-n", "other", "-o", "json")).metadata
      .uid as string;
    assert.equal(
      await cliOk("delete", "pod", "crash", "-n", "other", "--grace-period", "1"),
      'pod "crash" deleted\n',
    );
    await assertRunsNothingOf(crash);
    assert.equal((await cli("get", "pods", "-A")).stderr, "No resources found\n");
    const sandboxes = (await runtime.listPodSandbox({})).items;
    assert.deepEqual(
      sandboxes.filter((s) => s.state === PodSandboxState.SANDBOX_READY).map((s) => s.metadata?.name),
      [],
      "no pod sandbox is ready",
    );
  });
});

/** No ready sandbox and no running container of the pod with this UID in the runtime. */
async function assertRunsNothingOf(uid: string): Promise<void> {
  const sandboxes = (await runtime.listPodSandbox({})).items.filter((s) => s.metadata?.uid === uid);
  assert.ok(sandboxes.length > 0, "the kubelet ran the pod through this runtime");
  assert.deepEqual(
    sandboxes.map((s) => s.state),
    sandboxes.map(() => PodSandboxState.SANDBOX_NOTREADY),
  );
  const ids = new Set(sandboxes.map((s) => s.id));
  const containers = (await runtime.listContainers({})).containers.filter((c) => ids.has(c.podSandboxId));
  assert.deepEqual(
    containers.filter((c) => c.state === ContainerState.CONTAINER_RUNNING).map((c) => c.metadata?.name),
    [],
  );
  for (const tier of ["burstable", "besteffort"]) {
    assert.deepEqual(
      await existingCgroups(`${kubelet?.cgroupRoot}/kubepods/${tier}/pod${uid}`),
      [],
      "its cgroup is gone",
    );
  }
}
