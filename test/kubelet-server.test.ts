// The kubelet's HTTP face end to end, on containerd 1.6.20 and on `berth runtime`: with a pod running,
// the healthz server and the read-only server answer /healthz, /pods lists the pod with its status,
// /metrics is valid Prometheus text with the kubelet's metrics counting what happened, and
// /stats/summary has the pod and its container with CPU and memory from the runtime. Bad requests get
// 4xx and the server answers on. The pod is taken down through the kubelet and nothing is left behind.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Pod, PodList } from "kubernetes-types/core/v1.js";
import type { PodStats, Summary } from "../src/kubelet/stats/types.js";
import type { BerthKubelet } from "../src/testenv/kubelet.js";
import { type RegistryWithTestImages, startRegistryWithTestImages } from "../src/testenv/registry.js";
import { type CriRuntime, criRuntimes, runtimeForSuite } from "./support/cri-runtimes.js";
import { until, withKubelet } from "./support/kubelet-scenario.js";

const ns = "default";

let reg: RegistryWithTestImages;

before(async () => {
  reg = await startRegistryWithTestImages();
});

after(async () => {
  await reg?.registry.stop();
});

for (const runtime of criRuntimes(() => reg)) serverScenario(runtime.name, runtime.start);

function serverScenario(name: string, start: () => Promise<CriRuntime>): void {
  describe(`the kubelet's HTTP endpoints on ${name}`, () => {
    const rt = runtimeForSuite(name, start);

    it("serves /healthz, /pods, /metrics and /stats/summary for a running pod", {
      timeout: 60_000,
    }, async () => {
      await withKubelet(rt.cri, { runtimeEndpoint: rt.target.endpoint, logLevel: "info" }, scenario);
    });

    const scenario = async (k: BerthKubelet) => {
      const healthz = k.healthzUrl ?? "";
      const base = k.readOnlyUrl ?? "";
      assert.match(healthz, /^http:\/\/127\.0\.0\.1:\d+\/healthz$/);
      assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/);
      await k.apply(webPod());
      await k.waitFor(ns, "web", (p) => p?.status?.phase === "Running", 40_000);

      // /healthz on both servers.
      for (const url of [healthz, `${base}/healthz`]) {
        const r = await get(url);
        assert.deepEqual([r.status, r.body], [200, "ok"], url);
      }

      // /pods: the pod, with the status the kubelet generated.
      const pods = await get(`${base}/pods`);
      assert.equal(pods.status, 200);
      const list = JSON.parse(pods.body) as PodList;
      assert.equal(list.kind, "PodList");
      assert.equal(list.apiVersion, "v1");
      const web = list.items.find((p) => p.metadata?.name === "web");
      assert.equal(web?.status?.phase, "Running");
      assert.equal(web?.status?.containerStatuses?.[0]?.state?.running !== undefined, true);

      // /metrics: valid text; the running pod is counted once a relist has seen it.
      const metrics = await until("kubelet_running_pods 1 on /metrics", 10_000, async () => {
        const m = parsePrometheusText((await get(`${base}/metrics`)).body);
        return m.get("kubelet_running_pods") === 1 ? m : undefined;
      });
      assert.ok((metrics.get("kubelet_pod_start_duration_seconds_count") ?? 0) >= 1, "pod start observed");
      assert.ok(
        (metrics.get('kubelet_runtime_operations_total{operation_type="create_container"}') ?? 0) >= 1,
        "create_container counted",
      );
      assert.ok((metrics.get('kubelet_started_containers_total{container_type="container"}') ?? 0) >= 1);
      assert.equal(metrics.get(`kubelet_node_name{node="${k.nodeName}"}`), 1);
      assert.ok((metrics.get("process_resident_memory_bytes") ?? 0) > 0);

      // /stats/summary: the node, and the pod with its container's CPU and memory from the runtime.
      const summary = await until("the pod's container in /stats/summary", 15_000, async () => {
        const s = JSON.parse((await get(`${base}/stats/summary`)).body) as Summary;
        const pod = s.pods.find((p) => p.podRef.name === "web");
        return pod?.containers.some((c) => c.name === "app") ? { s, pod } : undefined;
      });
      const { s, pod } = summary as { s: Summary; pod: PodStats };
      assert.equal(s.node.nodeName, k.nodeName);
      assert.ok((s.node.memory?.workingSetBytes ?? 0) > 0);
      assert.ok((s.node.fs?.capacityBytes ?? 0) > 0);
      // containerd measures its snapshots every 10 s, so a young one may report 0 bytes used.
      const imageFs = s.node.runtime?.imageFs;
      assert.ok(
        imageFs?.usedBytes !== undefined && (imageFs.capacityBytes ?? 0) > 0,
        JSON.stringify(imageFs),
      );
      assert.equal(pod.podRef.namespace, ns);
      const app = pod.containers.find((c) => c.name === "app");
      assert.ok((app?.cpu?.usageCoreNanoSeconds ?? 0) > 0, `cpu: ${JSON.stringify(app?.cpu)}`);
      assert.ok((app?.memory?.workingSetBytes ?? 0) > 0, `memory: ${JSON.stringify(app?.memory)}`);
      assert.ok(app?.logs !== undefined && (app.logs.usedBytes ?? 0) > 0, "the container's log file");
      assert.ok((pod.memory?.workingSetBytes ?? 0) > 0);
      const scratch = pod.volume?.find((v) => v.name === "scratch");
      assert.ok((scratch?.usedBytes ?? 0) >= 64 * 1024, `the emptyDir: ${JSON.stringify(scratch)}`);
      assert.ok((pod["ephemeral-storage"]?.usedBytes ?? 0) >= 64 * 1024);
      const cpuOnly = JSON.parse(
        (await get(`${base}/stats/summary?only_cpu_and_memory=true`)).body,
      ) as Summary;
      assert.equal(cpuOnly.node.fs, undefined, "CPU and memory alone");
      assert.ok(cpuOnly.pods.some((p) => p.podRef.name === "web"));

      // Bad requests: 4xx, and the server answers on.
      for (const [path, method, status] of [
        ["/nope", "GET", 404],
        ["/pods", "POST", 405],
        ["/stats/summary?only_cpu_and_memory=%zz", "GET", 400],
      ] as const) {
        assert.equal((await get(`${base}${path}`, method)).status, status, `${method} ${path}`);
      }
      assert.equal((await get(`${base}/healthz`)).status, 200, "still answering");
    };
  });
}

function webPod(): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "web", namespace: ns },
    spec: {
      terminationGracePeriodSeconds: 2,
      volumes: [{ name: "scratch", emptyDir: {} }],
      containers: [
        {
          name: "app",
          image: reg.busybox.ref,
          imagePullPolicy: "IfNotPresent",
          volumeMounts: [{ name: "scratch", mountPath: "/scratch" }],
          // Some CPU, 64 KiB in the emptyDir, a line in the log, then idle until stopped.
          command: [
            "sh",
            "-c",
            "trap 'exit 0' TERM; i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; " +
              "head -c 65536 /dev/zero > /scratch/data; echo started; while true; do sleep 1; done",
          ],
        },
      ],
    },
  };
}

async function get(url: string, method = "GET"): Promise<{ status: number; body: string }> {
  const r = await fetch(url, { method, signal: AbortSignal.timeout(10_000) });
  return { status: r.status, body: await r.text() };
}

/**
 * The samples of a Prometheus text exposition (format 0.0.4) by `name{labels}` as written, checking
 * every line on the way: comments are HELP or TYPE, each sample's family has a TYPE before it, and
 * each value is a number.
 */
function parsePrometheusText(text: string): Map<string, number> {
  const types = new Map<string, string>();
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const comment = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (comment) {
      if (comment[1] === "TYPE") {
        assert.match(comment[3] ?? "", /^(counter|gauge|histogram|summary|untyped)$/, line);
        types.set(comment[2] ?? "", comment[3] ?? "");
      }
      continue;
    }
    const sample =
      /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (\S+)$/.exec(line);
    assert.ok(sample, `not a Prometheus sample line: ${line}`);
    const [, metric = "", labels = "", value = ""] = sample;
    const family = metric.replace(/_(bucket|sum|count)$/, "");
    assert.ok(types.has(metric) || types.has(family), `no TYPE before ${metric}`);
    const n = value === "+Inf" ? Number.POSITIVE_INFINITY : value === "-Inf" ? -Infinity : Number(value);
    assert.ok(!Number.isNaN(n) || value === "NaN", `${line}: bad value`);
    out.set(`${metric}${labels}`, n);
  }
  return out;
}
