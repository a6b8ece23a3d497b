import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Container, ContainerPort, Lifecycle, Pod } from "kubernetes-types/core/v1.js";
import { hashContainer } from "../container/hash.js";
import { featureGates } from "../features/features.js";
import {
  containerHashLabel,
  containerPortsLabel,
  containerPreStopHandlerLabel,
  getContainerInfoFromAnnotations,
  getContainerInfoFromLabels,
  getPodSandboxInfoFromAnnotations,
  getPodSandboxInfoFromLabels,
  hashContainerWithoutResources,
  newContainerAnnotations,
  newContainerLabels,
  newPodAnnotations,
  newPodLabels,
} from "./labels.js";

const lifecycle: Lifecycle = {
  preStop: {
    exec: { command: ["action1", "action2"] },
    httpGet: { path: "path", host: "host", port: 8080, scheme: "scheme" },
    tcpSocket: { port: "80" },
  },
};

function testPod(container: Container, gracePeriods = true): Pod {
  return {
    metadata: {
      name: "test_pod",
      namespace: "test_pod_namespace",
      uid: "test_pod_uid",
      ...(gracePeriods && { deletionGracePeriodSeconds: 10 }),
    },
    spec: { containers: [container], ...(gracePeriods && { terminationGracePeriodSeconds: 10 }) },
  };
}

// labels_test.go TestContainerLabels
describe("container labels", () => {
  it("round-trips pod and container identity", () => {
    const container: Container = { name: "test_container", terminationMessagePath: "/somepath", lifecycle };
    const pod = testPod(container);
    assert.deepEqual(getContainerInfoFromLabels(newContainerLabels(container, pod)), {
      podName: "test_pod",
      podNamespace: "test_pod_namespace",
      podUID: "test_pod_uid",
      containerName: "test_container",
    });
  });
});

// labels_test.go TestContainerAnnotations
describe("container annotations", () => {
  const ports: ContainerPort[] = [
    { name: "http", hostPort: 80, containerPort: 8080, protocol: "TCP" },
    { name: "https", hostPort: 443, containerPort: 6443, protocol: "TCP" },
  ];
  const gates = featureGates({ InPlacePodVerticalScaling: true });

  it("round-trips hash, restart count, grace periods, preStop and ports", () => {
    const container: Container = {
      name: "test_container",
      ports,
      terminationMessagePath: "/somepath",
      lifecycle,
    };
    const pod = testPod(container);
    const info = getContainerInfoFromAnnotations(newContainerAnnotations(container, pod, 5, gates), gates);
    assert.deepEqual(info, {
      hash: hashContainer(container),
      hashWithoutResources: hashContainerWithoutResources(container),
      restartCount: 5,
      podDeletionGracePeriod: 10,
      podTerminationGracePeriod: 10,
      terminationMessagePath: "/somepath",
      terminationMessagePolicy: "",
      preStopHandler: lifecycle.preStop,
      containerPorts: ports,
    });
  });

  it("leaves grace periods and preStop out when the pod has none", () => {
    const container: Container = { name: "test_container", ports, terminationMessagePath: "/somepath" };
    const pod = testPod(container, false);
    const info = getContainerInfoFromAnnotations(newContainerAnnotations(container, pod, 5, gates), gates);
    assert.deepEqual(info, {
      hash: hashContainer(container),
      hashWithoutResources: hashContainerWithoutResources(container),
      restartCount: 5,
      terminationMessagePath: "/somepath",
      terminationMessagePolicy: "",
      containerPorts: ports,
    });
  });

  it("writes preStop and ports as Go's encoding/json does", () => {
    const container: Container = { name: "c", ports, lifecycle };
    const annotations = newContainerAnnotations(container, testPod(container), 0, featureGates());
    assert.equal(
      annotations[containerPreStopHandlerLabel],
      '{"exec":{"command":["action1","action2"]},"httpGet":{"path":"path","port":8080,"host":"host","scheme":"scheme"},"tcpSocket":{"port":"80"}}',
    );
    assert.equal(
      annotations[containerPortsLabel],
      '[{"name":"http","hostPort":80,"containerPort":8080,"protocol":"TCP"},{"name":"https","hostPort":443,"containerPort":6443,"protocol":"TCP"}]',
    );
  });

  it("writes the resource-free hash only with InPlacePodVerticalScaling", () => {
    const container: Container = { name: "c", resources: { limits: { cpu: "1" } } };
    const off = newContainerAnnotations(container, testPod(container), 0, featureGates());
    assert.equal(off["io.kubernetes.container.hashWithoutResources"], undefined);
    const on = newContainerAnnotations(container, testPod(container), 0, gates);
    assert.equal(on["io.kubernetes.container.hashWithoutResources"], hashContainer({ name: "c" }));
    assert.notEqual(on[containerHashLabel], on["io.kubernetes.container.hashWithoutResources"]);
  });

  it("reads malformed values as zero values", () => {
    const info = getContainerInfoFromAnnotations(
      {
        [containerHashLabel]: "0xzz",
        "io.kubernetes.container.restartCount": "five",
        "io.kubernetes.pod.terminationGracePeriod": "1.5",
        [containerPreStopHandlerLabel]: "{not json",
        [containerPortsLabel]: '{"name":"x"}',
      },
      featureGates(),
    );
    assert.deepEqual(info, {
      hash: "0",
      hashWithoutResources: "0",
      restartCount: 0,
      terminationMessagePath: "",
      terminationMessagePolicy: "",
    });
  });

  it("reads hashes written with leading zeros or upper case in hashContainer's form", () => {
    const info = getContainerInfoFromAnnotations({ [containerHashLabel]: "00ABCdef" }, featureGates());
    assert.equal(info.hash, "abcdef");
  });
});

// labels_test.go TestPodLabels
describe("pod labels", () => {
  it("round-trips the pod's own labels and identity", () => {
    const pod: Pod = {
      metadata: {
        name: "test_pod",
        namespace: "test_pod_namespace",
        uid: "test_pod_uid",
        labels: { foo: "bar" },
      },
      spec: { containers: [] },
    };
    const labels = newPodLabels(pod);
    assert.deepEqual(labels, {
      foo: "bar",
      "io.kubernetes.pod.name": "test_pod",
      "io.kubernetes.pod.namespace": "test_pod_namespace",
      "io.kubernetes.pod.uid": "test_pod_uid",
    });
    assert.deepEqual(getPodSandboxInfoFromLabels(labels), {
      labels: { foo: "bar" },
      podName: "test_pod",
      podNamespace: "test_pod_namespace",
      podUID: "test_pod_uid",
    });
  });
});

// labels_test.go TestPodAnnotations
describe("pod annotations", () => {
  it("round-trips the pod's annotations", () => {
    const pod: Pod = {
      metadata: {
        name: "test_pod",
        namespace: "test_pod_namespace",
        uid: "test_pod_uid",
        annotations: { foo: "bar" },
      },
      spec: { containers: [] },
    };
    assert.deepEqual(getPodSandboxInfoFromAnnotations(newPodAnnotations(pod)), {
      annotations: { foo: "bar" },
    });
  });
});
