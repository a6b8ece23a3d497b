import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.js";
import { defaultPod } from "./pod-defaults.js";
import { checkPodTypes, FieldError, validatePod } from "./pod-validation.js";

function valid(): Pod {
  return {
    metadata: { name: "web", namespace: "default" },
    spec: {
      containers: [
        {
          name: "app",
          image: "busybox",
          ports: [{ containerPort: 80 }],
          volumeMounts: [{ name: "data", mountPath: "/data" }],
        },
      ],
      volumes: [{ name: "data", emptyDir: {} }],
    },
  };
}

/** The messages validatePod gives for `valid()` changed by `edit`, after defaulting as the sources do. */
function errorsAfter(edit: (pod: Pod & { spec: NonNullable<Pod["spec"]> }) => void): string[] {
  const pod = valid() as Pod & { spec: NonNullable<Pod["spec"]> };
  edit(pod);
  return validatePod(defaultPod(pod)).map(String);
}

describe("validatePod", () => {
  it("accepts a valid pod", () =>
    assert.deepEqual(
      errorsAfter(() => {}),
      [],
    ));

  const cases: [string, (pod: Pod & { spec: NonNullable<Pod["spec"]> }) => void, string[]][] = [
    [
      "a missing name",
      (p) => {
        p.metadata = { namespace: "default" };
      },
      ["metadata.name: Required value: name or generateName is required"],
    ],
    [
      "a name that is not a DNS subdomain",
      (p) => {
        p.metadata = { name: "Web_1", namespace: "default" };
      },
      [
        `metadata.name: Invalid value: "Web_1": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
      ],
    ],
    [
      "no containers",
      (p) => {
        p.spec.containers = [];
      },
      ["spec.containers: Required value"],
    ],
    [
      "a container without an image",
      (p) => {
        p.spec.containers = [{ name: "app" }];
      },
      ["spec.containers[0].image: Required value"],
    ],
    [
      "duplicate container names across init and regular containers",
      (p) => {
        p.spec.initContainers = [{ name: "app", image: "busybox" }];
      },
      ['spec.containers[0].name: Duplicate value: "app"'],
    ],
    [
      "a bad restart policy",
      (p) => {
        p.spec.restartPolicy = "Sometimes";
      },
      [
        'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "Never", "OnFailure"',
      ],
    ],
    [
      "a bad pull policy",
      (p) => {
        (p.spec.containers[0] as { imagePullPolicy: string }).imagePullPolicy = "Maybe";
      },
      [
        'spec.containers[0].imagePullPolicy: Unsupported value: "Maybe": supported values: "Always", "IfNotPresent", "Never"',
      ],
    ],
    [
      "a port out of range and a bad protocol",
      (p) => {
        p.spec.containers[0] = {
          name: "app",
          image: "x",
          ports: [{ containerPort: 70000, protocol: "HTTP" }],
        };
      },
      [
        "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
        'spec.containers[0].ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"',
      ],
    ],
    [
      "a request above its limit",
      (p) => {
        p.spec.containers[0] = {
          name: "app",
          image: "x",
          resources: { limits: { cpu: "1" }, requests: { cpu: "2" } },
        };
      },
      [
        'spec.containers[0].resources.requests[cpu]: Invalid value: "2": must be less than or equal to cpu limit of 1',
      ],
    ],
    [
      "a mount of a volume that does not exist",
      (p) => {
        p.spec.volumes = [];
      },
      ['spec.containers[0].volumeMounts[0].name: Not found: "data"'],
    ],
    [
      "a volume with two sources",
      (p) => {
        p.spec.volumes = [{ name: "data", emptyDir: {}, hostPath: { path: "/x" } }];
      },
      ["spec.volumes[0]: Forbidden: may not specify more than 1 volume type"],
    ],
    [
      "a probe without a handler, and a liveness success threshold above 1",
      (p) => {
        p.spec.containers[0] = { name: "app", image: "x", livenessProbe: { successThreshold: 2 } };
      },
      [
        "spec.containers[0].livenessProbe: Required value: must specify a handler type",
        "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
      ],
    ],
    [
      "restartPolicy on a regular container, and a bad one on an init container",
      (p) => {
        p.spec.containers[0] = { name: "app", image: "x", restartPolicy: "Always" };
        p.spec.initContainers = [{ name: "init", image: "x", restartPolicy: "Never" }];
      },
      [
        'spec.initContainers[0].restartPolicy: Unsupported value: "Never": supported values: "Always"',
        "spec.containers[0].restartPolicy: Forbidden: may not be set for non-init containers",
      ],
    ],
    [
      "dnsPolicy None without dnsConfig",
      (p) => {
        p.spec.dnsPolicy = "None";
      },
      ["spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None"],
    ],
    [
      "a host port that differs from the container port on the host's network",
      (p) => {
        p.spec.hostNetwork = true;
        p.spec.containers[0] = { name: "app", image: "x", ports: [{ containerPort: 80, hostPort: 8080 }] };
      },
      [
        "spec.containers[0].ports[0].hostPort: Invalid value: 8080: must match `containerPort` when `hostNetwork` is true",
      ],
    ],
    [
      "a configMap mode above 0777",
      (p) => {
        p.spec.volumes = [{ name: "data", configMap: { name: "c", defaultMode: 0o1000 } }];
      },
      [
        "spec.volumes[0].configMap.defaultMode: Invalid value: 512: must be a number between 0 and 0777 (octal), both inclusive",
      ],
    ],
  ];
  for (const [name, edit, want] of cases) {
    it(`reports ${name}`, () => assert.deepEqual(errorsAfter(edit), want));
  }

  it("gives the API's StatusCause reason and message", () => {
    const e = new FieldError("Required value", "spec.containers[0].image");
    assert.equal(e.reason(), "FieldValueRequired");
    assert.equal(e.body(), "Required value");
  });
});

describe("checkPodTypes", () => {
  it("names fields whose type Go's decoding would refuse", () => {
    const errs = checkPodTypes({
      metadata: { name: 7, labels: { a: 1 } },
      spec: {
        containers: [{ name: "c", image: "x", ports: "80", resources: { limits: { cpu: "lots" } } }],
        terminationGracePeriodSeconds: 1.5,
        volumes: {},
      },
    }).map(String);
    assert.deepEqual(errs, [
      "metadata.name: Invalid value: 7: must be of type string",
      "metadata.labels[a]: Invalid value: 1: must be of type string",
      'spec.containers[0].ports: Invalid value: "80": must be of type list',
      `spec.containers[0].resources.limits[cpu]: Invalid value: "lots": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`,
      "spec.volumes: Invalid value: {}: must be of type list",
      "spec.terminationGracePeriodSeconds: Invalid value: 1.5: must be of type integer",
    ]);
  });

  it("lets null stand for an absent field and ignores fields it does not check", () => {
    assert.deepEqual(
      checkPodTypes({ metadata: { labels: null }, spec: { containers: null, affinity: { x: 1 } } }),
      [],
    );
  });

  it("refuses a non-object", () => {
    assert.deepEqual(checkPodTypes([1]).map(String), ["<root>: Invalid value: [1]: must be of type object"]);
  });
});
