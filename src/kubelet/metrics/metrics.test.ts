import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.js";
import { ConfigFirstSeenAnnotationKey } from "../config/pod-config.js";
import { KubeletMetrics } from "./metrics.js";

/** Each sample of a text exposition by name and labels, the labels sorted: `name{a="1",b="2"}`. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^([^{\s]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m?.[1] || line.startsWith("#")) continue;
    const labels = [...(m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)]
      .map((l) => `${l[1]}="${l[2]}"`)
      .sort();
    out.set(labels.length ? `${m[1]}{${labels.join(",")}}` : m[1], Number(m[3]));
  }
  return out;
}

describe("the kubelet's metrics", () => {
  test("/metrics names every metric with its HELP and TYPE, as upstream does", async () => {
    const m = new KubeletMetrics();
    const text = await m.registry.metrics();
    const want: [string, string][] = [
      ["kubelet_node_name", "gauge"],
      ["kubelet_pod_worker_duration_seconds", "histogram"],
      ["kubelet_pod_start_duration_seconds", "histogram"],
      ["kubelet_pleg_relist_duration_seconds", "histogram"],
      ["kubelet_pleg_relist_interval_seconds", "histogram"],
      ["kubelet_runtime_operations_total", "counter"],
      ["kubelet_runtime_operations_duration_seconds", "histogram"],
      ["kubelet_runtime_operations_errors_total", "counter"],
      ["kubelet_running_pods", "gauge"],
      ["kubelet_running_containers", "gauge"],
      ["kubelet_started_pods_total", "counter"],
      ["kubelet_started_pods_errors_total", "counter"],
      ["kubelet_started_containers_total", "counter"],
      ["kubelet_started_containers_errors_total", "counter"],
      ["process_resident_memory_bytes", "gauge"],
      ["process_cpu_seconds_total", "counter"],
      ["process_start_time_seconds", "gauge"],
    ];
    for (const [name, type] of want) {
      assert.match(text, new RegExp(`^# HELP ${name} \\S`, "m"), name);
      assert.match(text, new RegExp(`^# TYPE ${name} ${type}$`, "m"), name);
    }
    assert.match(
      text,
      /^# HELP kubelet_running_pods \[ALPHA\] Number of pods that have a running pod sandbox$/m,
    );
    assert.ok(!text.includes("prober_probe_total"), "probe metrics are on /metrics/probes");
  });

  test("upstream's buckets: DefBuckets for pod start (1.28), exponential ones for runtime calls", async () => {
    const m = new KubeletMetrics();
    m.podStartDuration.observe(3);
    m.recordOperation("version", 0.002, false);
    const s = samples(await m.registry.metrics());
    assert.equal(s.get('kubelet_pod_start_duration_seconds_bucket{le="2.5"}'), 0);
    assert.equal(s.get('kubelet_pod_start_duration_seconds_bucket{le="5"}'), 1);
    assert.equal(s.get('kubelet_pod_start_duration_seconds_bucket{le="10"}'), 1);
    // ExponentialBuckets(.005, 2.5, 14): 0.005 … 0.005 × 2.5^13 ≈ 745
    assert.equal(
      s.get('kubelet_runtime_operations_duration_seconds_bucket{le="0.005",operation_type="version"}'),
      1,
    );
    assert.ok(
      [...s.keys()].some((k) => k.startsWith('kubelet_runtime_operations_duration_seconds_bucket{le="745.0')),
    );
  });

  test("pod start: from config.seen to the first Running status, once", async () => {
    const m = new KubeletMetrics();
    const seen = Date.UTC(2024, 0, 2, 3, 4, 5, 0);
    const pod: Pod = {
      metadata: { annotations: { [ConfigFirstSeenAnnotationKey]: new Date(seen).toISOString() } },
    };
    m.observePodStart(pod, undefined, "Pending", seen + 1000);
    m.observePodStart(pod, "Pending", "Pending", seen + 2000);
    m.observePodStart(pod, "Pending", "Running", seen + 4000);
    m.observePodStart(pod, "Running", "Running", seen + 5000);
    m.observePodStart({}, undefined, "Running", seen + 5000);
    const s = samples(await m.registry.metrics());
    assert.equal(s.get("kubelet_pod_start_duration_seconds_count"), 1);
    assert.equal(s.get("kubelet_pod_start_duration_seconds_sum"), 4);
  });

  test("probes: every result counted, the duration of successful ones, on the probes registry", async () => {
    const m = new KubeletMetrics();
    const l = { probeType: "Liveness", container: "c", pod: "p", namespace: "default", podUID: "u" } as const;
    m.recordProbe({ ...l, result: "successful" }, 0.02);
    m.recordProbe({ ...l, result: "failed" }, 1);
    m.recordProbe({ ...l, result: "failed" }, 1);
    const text = await m.probesRegistry.metrics();
    const s = samples(text);
    const labels = 'container="c",namespace="default",pod="p",pod_uid="u",probe_type="Liveness"';
    assert.equal(s.get(`prober_probe_total{${labels},result="successful"}`), 1);
    assert.equal(s.get(`prober_probe_total{${labels},result="failed"}`), 2);
    assert.equal(
      s.get(
        'prober_probe_duration_seconds_count{container="c",namespace="default",pod="p",probe_type="Liveness"}',
      ),
      1,
    );
    assert.match(text, /^# TYPE process_start_time_seconds gauge$/m);
  });

  test("the node's name is a label of a gauge of 1", async () => {
    const m = new KubeletMetrics();
    m.setNodeName("node-a");
    assert.equal(samples(await m.registry.metrics()).get('kubelet_node_name{node="node-a"}'), 1);
  });
});
