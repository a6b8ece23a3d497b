import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.js";
import { defaultPod, imageTag } from "./pod-defaults.js";

const pod = (spec: Partial<NonNullable<Pod["spec"]>>): Pod => ({
  metadata: { name: "p" },
  spec: { containers: [{ name: "c", image: "busybox:1.36" }], ...spec },
});

describe("defaultPod", () => {
  it("fills the pod spec's defaults (SetDefaults_PodSpec, SetDefaults_Pod)", () => {
    const spec = defaultPod(pod({})).spec;
    assert.equal(spec?.dnsPolicy, "ClusterFirst");
    assert.equal(spec?.restartPolicy, "Always");
    assert.deepEqual(spec?.securityContext, {});
    assert.equal(spec?.terminationGracePeriodSeconds, 30);
    assert.equal(spec?.schedulerName, "default-scheduler");
    assert.equal(spec?.enableServiceLinks, true);
  });

  it("keeps what the pod sets", () => {
    const spec = defaultPod(
      pod({
        dnsPolicy: "Default",
        restartPolicy: "Never",
        terminationGracePeriodSeconds: 0,
        enableServiceLinks: false,
      }),
    ).spec;
    assert.equal(spec?.dnsPolicy, "Default");
    assert.equal(spec?.restartPolicy, "Never");
    assert.equal(spec?.terminationGracePeriodSeconds, 0);
    assert.equal(spec?.enableServiceLinks, false);
  });

  it("fills every container's defaults, init and ephemeral ones too (SetDefaults_Container)", () => {
    const out = defaultPod(
      pod({
        initContainers: [{ name: "i", image: "busybox" }],
        containers: [
          {
            name: "c",
            image: "registry.local:5000/app",
            ports: [{ containerPort: 80 }, { containerPort: 53, protocol: "UDP" }],
            env: [{ name: "NODE", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } }],
            livenessProbe: { httpGet: { port: 80 } },
            readinessProbe: { grpc: { port: 9000 }, periodSeconds: 3 },
            lifecycle: { preStop: { httpGet: { port: "http" } } },
          },
        ],
      }),
    );
    const [c] = out.spec?.containers ?? [];
    assert.equal(c?.imagePullPolicy, "Always");
    assert.equal(c?.terminationMessagePath, "/dev/termination-log");
    assert.equal(c?.terminationMessagePolicy, "File");
    assert.deepEqual(
      c?.ports?.map((p) => p.protocol),
      ["TCP", "UDP"],
    );
    assert.equal(c?.env?.[0]?.valueFrom?.fieldRef?.apiVersion, "v1");
    assert.deepEqual(c?.livenessProbe, {
      httpGet: { port: 80, path: "/", scheme: "HTTP" },
      timeoutSeconds: 1,
      periodSeconds: 10,
      successThreshold: 1,
      failureThreshold: 3,
    });
    assert.equal(c?.readinessProbe?.periodSeconds, 3);
    assert.equal(c?.readinessProbe?.grpc?.service, "");
    assert.deepEqual(c?.lifecycle?.preStop?.httpGet, { port: "http", path: "/", scheme: "HTTP" });
    assert.equal(out.spec?.initContainers?.[0]?.imagePullPolicy, "Always");
  });

  it("defaults requests to limits (SetDefaults_Pod via defaultPodResources)", () => {
    const out = defaultPod(
      pod({
        containers: [
          {
            name: "c",
            image: "x",
            resources: { limits: { cpu: "1", memory: "1Gi" }, requests: { cpu: "500m" } },
          },
        ],
      }),
    );
    assert.deepEqual(out.spec?.containers[0]?.resources?.requests, { cpu: "500m", memory: "1Gi" });
  });

  it("makes host ports of container ports with the host's network", () => {
    const out = defaultPod(
      pod({ hostNetwork: true, containers: [{ name: "c", image: "x", ports: [{ containerPort: 8080 }] }] }),
    );
    assert.equal(out.spec?.containers[0]?.ports?.[0]?.hostPort, 8080);
  });

  it("fills volume defaults (SetDefaults_Volume and the sources' modes)", () => {
    const out = defaultPod(
      pod({
        volumes: [
          { name: "scratch" },
          { name: "host", hostPath: { path: "/data" } },
          { name: "cm", configMap: { name: "cfg" } },
          { name: "sec", secret: { secretName: "s", defaultMode: 0o400 } },
          {
            name: "dapi",
            downwardAPI: { items: [{ path: "labels", fieldRef: { fieldPath: "metadata.labels" } }] },
          },
          { name: "proj", projected: { sources: [{ serviceAccountToken: { path: "token" } }] } },
        ],
      }),
    );
    const v = out.spec?.volumes ?? [];
    assert.deepEqual(v[0], { name: "scratch", emptyDir: {} });
    assert.equal(v[1]?.hostPath?.type, "");
    assert.equal(v[2]?.configMap?.defaultMode, 0o644);
    assert.equal(v[3]?.secret?.defaultMode, 0o400);
    assert.equal(v[4]?.downwardAPI?.defaultMode, 0o644);
    assert.equal(v[4]?.downwardAPI?.items?.[0]?.fieldRef?.apiVersion, "v1");
    assert.equal(v[5]?.projected?.defaultMode, 0o644);
    assert.equal(v[5]?.projected?.sources?.[0]?.serviceAccountToken?.expirationSeconds, 3600);
  });

  it("returns a copy and leaves the pod alone", () => {
    const input = pod({});
    const before = structuredClone(input);
    defaultPod(input);
    assert.deepEqual(input, before);
  });
});

describe("imageTag (parsers.ParseImageName's tag, which picks the pull policy)", () => {
  const cases: [string, string][] = [
    ["busybox", "latest"],
    ["busybox:latest", "latest"],
    ["busybox:1.36", "1.36"],
    ["registry.local:5000/app", "latest"],
    ["registry.local:5000/app:v2", "v2"],
    ["busybox@sha256:0123", ""],
    ["busybox:1.36@sha256:0123", "1.36"],
  ];
  for (const [image, tag] of cases) {
    it(`${image} → ${JSON.stringify(tag)}`, () => assert.equal(imageTag(image), tag));
  }
});
