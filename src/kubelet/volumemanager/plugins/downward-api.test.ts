import assert from "node:assert/strict";
import { test } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.js";
import { collectData } from "./downward-api.js";

const pod: Pod = {
  metadata: {
    name: "test_pod_name",
    namespace: "test_pod_namespace",
    uid: "test_pod_uid",
    labels: { key2: "value2", key1: "value1", quoted: 'say "hi"\n' },
    annotations: { "b.example.com/x": "2", a1: "value1" },
  },
  spec: {
    initContainers: [{ name: "init", resources: { limits: { cpu: "2" } } }],
    containers: [
      {
        name: "c1",
        resources: { requests: { memory: "64Mi" }, limits: { cpu: "500m" } },
      },
    ],
  },
};
const allocatable = { cpu: "4", memory: "2Gi", "ephemeral-storage": "10Gi" };

test("collectData writes the pod's metadata and its containers' resources (upstream TestLabels, TestAnnotations, TestName, TestNamespace, TestCPULimitDefaultValue)", () => {
  const data = collectData(
    [
      { path: "labels", fieldRef: { apiVersion: "v1", fieldPath: "metadata.labels" } },
      { path: "annotations", fieldRef: { apiVersion: "v1", fieldPath: "metadata.annotations" } },
      { path: "name", fieldRef: { apiVersion: "v1", fieldPath: "metadata.name" } },
      { path: "namespace", fieldRef: { apiVersion: "v1", fieldPath: "metadata.namespace" } },
      { path: "uid", fieldRef: { apiVersion: "v1", fieldPath: "metadata.uid" } },
      { path: "one/label", fieldRef: { apiVersion: "v1", fieldPath: "metadata.labels['key1']" } },
      {
        path: "./cpu/../cpu_limit",
        resourceFieldRef: { containerName: "c1", resource: "limits.cpu", divisor: "1m" },
      },
      {
        path: "mem_limit",
        resourceFieldRef: { containerName: "c1", resource: "limits.memory" },
        mode: 0o400,
      },
      {
        path: "mem_request",
        resourceFieldRef: { containerName: "c1", resource: "requests.memory", divisor: "1Mi" },
      },
      { path: "init_cpu", resourceFieldRef: { containerName: "init", resource: "limits.cpu" } },
    ],
    pod,
    allocatable,
    0o644,
  );
  const got = Object.fromEntries([...data].map(([path, f]) => [path, [f.data.toString(), f.mode]]));
  assert.deepEqual(got, {
    // key="value" lines in key order, values quoted as Go's %q quotes them.
    labels: ['key1="value1"\nkey2="value2"\nquoted="say \\"hi\\"\\n"', 0o644],
    annotations: ['a1="value1"\nb.example.com/x="2"', 0o644],
    name: ["test_pod_name", 0o644],
    namespace: ["test_pod_namespace", 0o644],
    uid: ["test_pod_uid", 0o644],
    "one/label": ["value1", 0o644],
    cpu_limit: ["500", 0o644],
    // No memory limit: the node's allocatable memory.
    mem_limit: ["2147483648", 0o400],
    mem_request: ["64", 0o644],
    init_cpu: ["2", 0o644],
  });
});

test("collectData tries every item and reports the failures together", () => {
  assert.throws(
    () =>
      collectData(
        [
          { path: "a", resourceFieldRef: { containerName: "nope", resource: "limits.cpu" } },
          { path: "b", fieldRef: { fieldPath: "metadata.name" } },
        ],
        pod,
        allocatable,
        0o644,
      ),
    { kind: "NotFound", message: "container nope not found" },
  );
  assert.throws(
    () =>
      collectData(
        [
          { path: "a", resourceFieldRef: { containerName: "nope", resource: "limits.cpu" } },
          { path: "b", fieldRef: { fieldPath: "spec.nodeName" } },
        ],
        pod,
        allocatable,
        0o644,
      ),
    { message: "[container nope not found, unsupported fieldPath: spec.nodeName]" },
  );
});
