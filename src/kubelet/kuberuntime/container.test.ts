import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import type { Container, Pod, VolumeMount } from "kubernetes-types/core/v1.js";
import { ContainerConfigSchema, ImageSchema, MountPropagation } from "../../cri/gen/runtime/v1/api_pb.js";
import { featureGates } from "../features/features.js";
import {
  type ContainerHostFacts,
  containerResourceRuntimeValue,
  defaultPodLimitsForDownwardAPI,
  type EnvVar,
  expand,
  expandContainerCommandAndArgs,
  expandContainerVolumeMounts,
  formatMap,
  generateContainerConfig,
  goQuote,
  imageUserFromStatus,
  makeEnvironmentVariables,
  makeUID,
  makeVolumeMounts,
  managedHostsFileContent,
  mappingFuncFor,
  nodeHostsFileContent,
  podFieldSelectorRuntimeValue,
  verifyRunAsNonRoot,
} from "./container.js";
import { generateLinuxContainerConfig } from "./container-linux.js";
import { newContainerAnnotations, newContainerLabels } from "./labels.js";
import type { KubeRuntimeSettings } from "./settings.js";

const settings: KubeRuntimeSettings = {
  cpuCFSQuota: true,
  cpuCFSQuotaPeriodUs: 100_000,
  memorySwapBehavior: "",
  memoryThrottlingFactor: 0.9,
  seccompDefault: false,
  podLogsRootDirectory: "/var/log/pods",
  featureGates: featureGates(),
  node: {
    nodeName: "node-name",
    cgroupVersion: "v1",
    memoryCapacityBytes: 8n << 30n,
    swapCapacityBytes: 0n,
    hugePageSizes: ["2Mi"],
    pageSizeBytes: 4096,
    swapControllerAvailable: false,
  },
};

function hostFacts(overrides: Partial<ContainerHostFacts> = {}): ContainerHostFacts {
  return {
    podDir: "/var/lib/kubelet/pods/12345678",
    volumes: {},
    localObjects: { configMaps: {}, secrets: {} },
    hostIPs: ["127.0.0.1"],
    nodeAllocatable: { cpu: "6", memory: "4Gi", "ephemeral-storage": "20Gi" },
    clusterDomain: "cluster.local",
    nodeEtcHosts: "127.0.0.1\tlocalhost\n10.0.0.5\tnode-name\n",
    terminationMessageId: "0a1b2c3d",
    imageUser: { uid: 0n, username: "" },
    ...overrides,
  };
}

const sortEnvs = (envs: EnvVar[]) =>
  [...envs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

// kuberuntime_container_linux_test.go TestGenerateContainerConfig
describe("generateContainerConfig", () => {
  const testPod = (securityContext: Container["securityContext"]): Pod => ({
    metadata: { uid: "12345678", name: "bar", namespace: "new" },
    spec: {
      enableServiceLinks: true,
      containers: [
        {
          name: "foo",
          image: "busybox",
          imagePullPolicy: "IfNotPresent",
          command: ["testCommand"],
          workingDir: "testWorkingDir",
          securityContext,
        },
      ],
    },
  });

  it("builds the config upstream expects for a plain container", () => {
    const pod = testPod({ runAsUser: 1000, runAsGroup: 2000 });
    const container = pod.spec?.containers[0] as Container;
    const plan = generateContainerConfig(
      settings,
      container,
      pod,
      0,
      "",
      "busybox",
      [],
      undefined,
      hostFacts(),
    );
    const expected = create(ContainerConfigSchema, {
      metadata: { name: "foo", attempt: 0 },
      image: { image: "busybox", userSpecifiedImage: "busybox" },
      command: ["testCommand"],
      args: [],
      workingDir: "testWorkingDir",
      labels: newContainerLabels(container, pod),
      annotations: newContainerAnnotations(container, pod, 0, settings.featureGates),
      mounts: [],
      logPath: "foo/0.log",
      linux: generateLinuxContainerConfig(settings, container, pod, 0n, "", undefined, false),
      envs: [],
    });
    assert.deepEqual(create(ContainerConfigSchema, plan.config), expected);
    assert.equal(plan.config.linux?.securityContext?.runAsUser?.value, 1000n);
    assert.equal(plan.config.linux?.securityContext?.runAsGroup?.value, 2000n);
    assert.deepEqual(plan.directories, [{ path: "/var/log/pods/new_bar_12345678/foo", mode: 0o755 }]);
    assert.deepEqual(plan.files, []);
  });

  it("refuses runAsNonRoot with runAsUser 0", () => {
    const pod = testPod({ runAsNonRoot: true, runAsUser: 0 });
    assert.throws(
      () =>
        generateContainerConfig(
          settings,
          pod.spec?.containers[0] as Container,
          pod,
          0,
          "",
          "busybox",
          [],
          undefined,
          hostFacts(),
        ),
      {
        kind: "InvalidArgument",
        message: `container's runAsUser breaks non-root policy (pod: "bar_new(12345678)", container: foo)`,
      },
    );
  });

  it("refuses runAsNonRoot for an image whose user is only a name", () => {
    const pod = testPod({ runAsNonRoot: true });
    const host = hostFacts({ imageUser: { username: "test" } });
    assert.throws(
      () =>
        generateContainerConfig(
          settings,
          pod.spec?.containers[0] as Container,
          pod,
          0,
          "",
          "busybox",
          [],
          undefined,
          host,
        ),
      {
        message: `container has runAsNonRoot and image has non-numeric user (test), cannot verify user is non-root (pod: "bar_new(12345678)", container: foo)`,
      },
    );
  });

  it("puts env, command expansion, volumes, /etc/hosts and the termination log together", () => {
    const container: Container = {
      name: "app",
      image: "registry.local/app:1",
      command: ["/bin/app", "--name=$(POD_NAME)"],
      args: ["$(GREETING)", "$$(GREETING)"],
      env: [
        { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
        { name: "GREETING", valueFrom: { configMapKeyRef: { name: "cfg", key: "greeting" } } },
      ],
      volumeMounts: [
        { name: "data", mountPath: "/data", subPathExpr: "$(POD_NAME)" },
        { name: "config", mountPath: "/etc/app", mountPropagation: "HostToContainer" },
      ],
      terminationMessagePath: "/dev/termination-log",
      terminationMessagePolicy: "File",
      stdin: true,
      tty: true,
    };
    const pod: Pod = {
      metadata: { uid: "u1", name: "web", namespace: "default" },
      spec: { enableServiceLinks: false, hostname: "web-0", subdomain: "svc", containers: [container] },
    };
    const host = hostFacts({
      podDir: "/var/lib/kubelet/pods/u1",
      volumes: {
        data: { hostPath: "/var/lib/kubelet/pods/u1/volumes/kubernetes.io~empty-dir/data" },
        config: {
          hostPath: "/var/lib/kubelet/pods/u1/volumes/kubernetes.io~configmap/config",
          readOnly: true,
        },
      },
      localObjects: {
        configMaps: { cfg: { metadata: { name: "cfg" }, data: { greeting: "hello" } } },
        secrets: {},
      },
      imageUser: { uid: 1000n, username: "" },
    });
    const plan = generateContainerConfig(
      settings,
      container,
      pod,
      2,
      "10.89.0.5",
      "sha256:abc",
      ["10.89.0.5"],
      undefined,
      host,
    );
    const config = plan.config;
    assert.deepEqual(config.metadata, { name: "app", attempt: 2 });
    assert.deepEqual(config.image, { image: "sha256:abc", userSpecifiedImage: "registry.local/app:1" });
    assert.deepEqual(config.command, ["/bin/app", "--name=web"]);
    assert.deepEqual(config.args, ["hello", "$(GREETING)"]);
    assert.deepEqual(config.envs, [
      { key: "POD_NAME", value: "web" },
      { key: "GREETING", value: "hello" },
    ]);
    assert.equal(config.logPath, "app/2.log");
    assert.equal(config.stdin, true);
    assert.equal(config.stdinOnce, false);
    assert.equal(config.tty, true);
    assert.deepEqual(config.mounts, [
      {
        hostPath: "/var/lib/kubelet/pods/u1/volumes/kubernetes.io~empty-dir/data/web",
        containerPath: "/data",
        readonly: false,
        selinuxRelabel: false,
        propagation: MountPropagation.PROPAGATION_PRIVATE,
      },
      {
        hostPath: "/var/lib/kubelet/pods/u1/volumes/kubernetes.io~configmap/config",
        containerPath: "/etc/app",
        readonly: true,
        selinuxRelabel: false,
        propagation: MountPropagation.PROPAGATION_HOST_TO_CONTAINER,
      },
      {
        hostPath: "/var/lib/kubelet/pods/u1/etc-hosts",
        containerPath: "/etc/hosts",
        readonly: false,
        selinuxRelabel: false,
        propagation: MountPropagation.PROPAGATION_PRIVATE,
      },
      {
        hostPath: "/var/lib/kubelet/pods/u1/containers/app/0a1b2c3d",
        containerPath: "/dev/termination-log",
        selinuxRelabel: false,
      },
    ]);
    assert.deepEqual(plan.directories, [
      { path: "/var/lib/kubelet/pods/u1/containers/app", mode: 0o750 },
      { path: "/var/log/pods/default_web_u1/app", mode: 0o755 },
    ]);
    assert.deepEqual(plan.files, [
      {
        path: "/var/lib/kubelet/pods/u1/etc-hosts",
        content: managedHostsFileContent(["10.89.0.5"], "web-0", "svc.default.svc.cluster.local", undefined),
        mode: 0o644,
      },
      { path: "/var/lib/kubelet/pods/u1/containers/app/0a1b2c3d", content: "", mode: 0o666 },
    ]);
    assert.equal(config.annotations?.["io.kubernetes.container.restartCount"], "2");
    assert.equal(
      config.annotations?.["io.kubernetes.container.terminationMessagePath"],
      "/dev/termination-log",
    );
  });

  it("fails on a missing ConfigMap with the API's NotFound", () => {
    const container: Container = { name: "c", envFrom: [{ configMapRef: { name: "absent" } }] };
    const pod: Pod = {
      metadata: { name: "p", namespace: "ns" },
      spec: { enableServiceLinks: false, containers: [container] },
    };
    assert.throws(
      () => generateContainerConfig(settings, container, pod, 0, "", "img", [], undefined, hostFacts()),
      {
        kind: "NotFound",
        message: 'configmap "absent" not found',
      },
    );
  });

  it("fails on a volume device, which no berth volume can back", () => {
    const container: Container = { name: "c", volumeDevices: [{ name: "disk", devicePath: "/dev/xvda" }] };
    const pod: Pod = {
      metadata: { name: "p", namespace: "ns" },
      spec: { enableServiceLinks: false, containers: [container] },
    };
    assert.throws(
      () => generateContainerConfig(settings, container, pod, 0, "", "img", [], undefined, hostFacts()),
      {
        message: 'cannot find volume "disk" to pass into container "c"',
      },
    );
    const relative = { ...container, volumeDevices: [{ name: "disk", devicePath: "must/be/absolute" }] };
    assert.throws(
      () => generateContainerConfig(settings, relative, pod, 0, "", "img", [], undefined, hostFacts()),
      {
        message: "error DevicePath `must/be/absolute` must be an absolute path",
      },
    );
  });
});

// security_context_others_test.go TestVerifyRunAsNonRoot
describe("verifyRunAsNonRoot", () => {
  const cases: [string, Container["securityContext"], bigint | undefined, string, boolean][] = [
    ["Pass if SecurityContext is not set", undefined, 0n, "", false],
    [
      "Pass if RunAsUser is non-root and RunAsNonRoot is true",
      { runAsUser: 1000, runAsNonRoot: true },
      0n,
      "",
      false,
    ],
    ["Pass if RunAsNonRoot is not set", { runAsUser: 0 }, 0n, "", false],
    ["Pass if RunAsNonRoot is false (image user is root)", { runAsNonRoot: false }, 0n, "", false],
    [
      "Pass if container's user and image's user aren't set (RunAsNonRoot is false)",
      { runAsNonRoot: false },
      undefined,
      "",
      false,
    ],
    [
      "Fail if container's RunAsUser is root and RunAsNonRoot is true",
      { runAsUser: 0, runAsNonRoot: true },
      undefined,
      "",
      true,
    ],
    ["Fail if image's user is root and RunAsNonRoot is true", { runAsNonRoot: true }, 0n, "", true],
    [
      "Fail if image's username is set and RunAsNonRoot is true",
      { runAsNonRoot: true },
      undefined,
      "test",
      true,
    ],
    ["Pass if image's user is non-root and RunAsNonRoot is true", { runAsNonRoot: true }, 1000n, "", false],
    [
      "Pass if container's user and image's user aren't set (RunAsNonRoot is true)",
      { runAsNonRoot: true },
      undefined,
      "",
      false,
    ],
  ];
  for (const [description, securityContext, uid, username, fail] of cases) {
    it(description, () => {
      const container: Container = { name: "foo", image: "busybox", securityContext };
      const pod: Pod = {
        metadata: { uid: "12345678", name: "bar", namespace: "new" },
        spec: { containers: [container] },
      };
      if (fail)
        assert.throws(() => verifyRunAsNonRoot(pod, container, uid, username), { kind: "InvalidArgument" });
      else verifyRunAsNonRoot(pod, container, uid, username);
    });
  }

  it("takes runAsNonRoot and runAsUser from the pod when the container has none", () => {
    const container: Container = { name: "foo" };
    const pod: Pod = {
      metadata: { uid: "u", name: "p", namespace: "ns" },
      spec: { securityContext: { runAsNonRoot: true }, containers: [container] },
    };
    assert.throws(() => verifyRunAsNonRoot(pod, container, 0n, ""), {
      message: `container has runAsNonRoot and image will run as root (pod: "p_ns(u)", container: foo)`,
    });
    const withUser: Pod = {
      ...pod,
      spec: { securityContext: { runAsNonRoot: true, runAsUser: 1000 }, containers: [container] },
    };
    verifyRunAsNonRoot(withUser, container, 0n, "");
  });
});

describe("imageUserFromStatus (getImageUser)", () => {
  it("prefers the uid, then the user name, and treats an image that says neither as root", () => {
    assert.deepEqual(
      imageUserFromStatus(create(ImageSchema, { uid: { value: 1000n }, username: "ignored" })),
      { uid: 1000n, username: "" },
    );
    assert.deepEqual(imageUserFromStatus(create(ImageSchema, { username: "nobody" })), {
      username: "nobody",
    });
    assert.deepEqual(imageUserFromStatus(create(ImageSchema, {})), { uid: 0n, username: "" });
    assert.deepEqual(imageUserFromStatus(undefined), { uid: 0n, username: "" });
  });
});

// kubelet_pods_test.go TestMakeEnvironmentVariables, the cases that apply without an API server's
// services (upstream's nil service lister): berth has no service links to add.
describe("makeEnvironmentVariables", () => {
  const testKubeletHostIP = "127.0.0.1";
  interface Case {
    name: string;
    ns: string;
    enableServiceLinks?: boolean;
    container: Container;
    configMap?: { name: string; data: Record<string, string> };
    secret?: { name: string; data: Record<string, string> };
    podIPs?: string[];
    expectedEnvs?: EnvVar[];
    expectedError?: string;
  }
  const fieldRef = (name: string, fieldPath: string) => ({
    name,
    valueFrom: { fieldRef: { apiVersion: "v1", fieldPath } },
  });
  const podIPEnvs = [
    fieldRef("POD_IP", "status.podIP"),
    fieldRef("POD_IPS", "status.podIPs"),
    fieldRef("HOST_IP", "status.hostIP"),
    fieldRef("HOST_IPS", "status.hostIPs"),
  ];
  const podIPExpected = [
    { name: "POD_IP", value: "1.2.3.4" },
    { name: "POD_IPS", value: "1.2.3.4,fd00::6" },
    { name: "HOST_IP", value: testKubeletHostIP },
    // PodHostIPs is alpha and off in 1.28.
    { name: "HOST_IPS", value: "" },
  ];
  const configMapContainer: Container = {
    name: "c",
    envFrom: [
      { configMapRef: { name: "test-config-map" } },
      { prefix: "p_", configMapRef: { name: "test-config-map" } },
    ],
    env: [
      { name: "TEST_LITERAL", value: "test-test-test" },
      { name: "EXPANSION_TEST", value: "$(REPLACE_ME)" },
      { name: "DUPE_TEST", value: "ENV_VAR" },
    ],
  };
  const secretContainer: Container = {
    name: "c",
    envFrom: [{ secretRef: { name: "test-secret" } }, { prefix: "p_", secretRef: { name: "test-secret" } }],
    env: configMapContainer.env,
  };
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  const cases: Case[] = [
    {
      name: "api server = N, kubelet = N (literal values)",
      ns: "test1",
      container: {
        name: "c",
        env: [
          { name: "FOO", value: "BAR" },
          { name: "TEST_SERVICE_HOST", value: "1.2.3.3" },
        ],
      },
      expectedEnvs: [
        { name: "FOO", value: "BAR" },
        { name: "TEST_SERVICE_HOST", value: "1.2.3.3" },
      ],
    },
    {
      name: "downward api pod",
      ns: "downward-api",
      container: {
        name: "c",
        env: [
          fieldRef("POD_NAME", "metadata.name"),
          fieldRef("POD_NAMESPACE", "metadata.namespace"),
          fieldRef("POD_NODE_NAME", "spec.nodeName"),
          fieldRef("POD_SERVICE_ACCOUNT_NAME", "spec.serviceAccountName"),
          ...podIPEnvs,
        ],
      },
      podIPs: ["1.2.3.4", "fd00::6"],
      expectedEnvs: [
        { name: "POD_NAME", value: "dapi-test-pod-name" },
        { name: "POD_NAMESPACE", value: "downward-api" },
        { name: "POD_NODE_NAME", value: "node-name" },
        { name: "POD_SERVICE_ACCOUNT_NAME", value: "special" },
        ...podIPExpected,
      ],
    },
    {
      name: "downward api pod ips reverse order",
      ns: "downward-api",
      container: { name: "c", env: podIPEnvs },
      podIPs: ["fd00::6", "1.2.3.4"],
      expectedEnvs: podIPExpected,
    },
    {
      name: "downward api pod ips multiple ips",
      ns: "downward-api",
      container: { name: "c", env: podIPEnvs },
      podIPs: ["1.2.3.4", "192.168.1.1.", "fd00::6"],
      expectedEnvs: podIPExpected,
    },
    {
      name: "env expansion",
      ns: "test1",
      container: {
        name: "c",
        env: [
          { name: "TEST_LITERAL", value: "test-test-test" },
          fieldRef("POD_NAME", "metadata.name"),
          { name: "OUT_OF_ORDER_TEST", value: "$(OUT_OF_ORDER_TARGET)" },
          { name: "OUT_OF_ORDER_TARGET", value: "FOO" },
          { name: "EMPTY_VAR" },
          { name: "EMPTY_TEST", value: "foo-$(EMPTY_VAR)" },
          { name: "POD_NAME_TEST2", value: "test2-$(POD_NAME)" },
          { name: "POD_NAME_TEST3", value: "$(POD_NAME_TEST2)-3" },
          { name: "LITERAL_TEST", value: "literal-$(TEST_LITERAL)" },
          { name: "TEST_UNDEFINED", value: "$(UNDEFINED_VAR)" },
        ],
      },
      expectedEnvs: [
        { name: "TEST_LITERAL", value: "test-test-test" },
        { name: "POD_NAME", value: "dapi-test-pod-name" },
        { name: "POD_NAME_TEST2", value: "test2-dapi-test-pod-name" },
        { name: "POD_NAME_TEST3", value: "test2-dapi-test-pod-name-3" },
        { name: "LITERAL_TEST", value: "literal-test-test-test" },
        { name: "OUT_OF_ORDER_TEST", value: "$(OUT_OF_ORDER_TARGET)" },
        { name: "OUT_OF_ORDER_TARGET", value: "FOO" },
        { name: "TEST_UNDEFINED", value: "$(UNDEFINED_VAR)" },
        { name: "EMPTY_VAR", value: "" },
        { name: "EMPTY_TEST", value: "foo-" },
      ],
    },
    {
      name: "configmapkeyref_missing_optional",
      ns: "test",
      container: {
        name: "c",
        env: [
          {
            name: "POD_NAME",
            valueFrom: { configMapKeyRef: { name: "missing-config-map", key: "key", optional: true } },
          },
        ],
      },
      expectedEnvs: [],
    },
    {
      name: "configmapkeyref_missing_key_optional",
      ns: "test",
      container: {
        name: "c",
        env: [
          {
            name: "POD_NAME",
            valueFrom: { configMapKeyRef: { name: "test-config-map", key: "key", optional: true } },
          },
        ],
      },
      configMap: { name: "test-config-map", data: { a: "b" } },
      expectedEnvs: [],
    },
    {
      name: "configmapkeyref_missing_key",
      ns: "test",
      container: {
        name: "c",
        env: [{ name: "POD_NAME", valueFrom: { configMapKeyRef: { name: "test-config-map", key: "key" } } }],
      },
      configMap: { name: "test-config-map", data: { a: "b" } },
      expectedError: "couldn't find key key in ConfigMap test/test-config-map",
    },
    {
      name: "secretkeyref_missing_optional",
      ns: "test",
      container: {
        name: "c",
        env: [
          {
            name: "POD_NAME",
            valueFrom: { secretKeyRef: { name: "missing-secret", key: "key", optional: true } },
          },
        ],
      },
      expectedEnvs: [],
    },
    {
      name: "secretkeyref_missing_key_optional",
      ns: "test",
      container: {
        name: "c",
        env: [
          {
            name: "POD_NAME",
            valueFrom: { secretKeyRef: { name: "test-secret", key: "key", optional: true } },
          },
        ],
      },
      secret: { name: "test-secret", data: { a: b64("b") } },
      expectedEnvs: [],
    },
    {
      name: "secretkeyref",
      ns: "test",
      container: {
        name: "c",
        env: [{ name: "PASSWORD", valueFrom: { secretKeyRef: { name: "test-secret", key: "password" } } }],
      },
      secret: { name: "test-secret", data: { password: b64("s3cr3t") } },
      expectedEnvs: [{ name: "PASSWORD", value: "s3cr3t" }],
    },
    {
      name: "secretkeyref_missing_key",
      ns: "test",
      container: {
        name: "c",
        env: [{ name: "PASSWORD", valueFrom: { secretKeyRef: { name: "test-secret", key: "password" } } }],
      },
      secret: { name: "test-secret", data: { a: b64("b") } },
      expectedError: "couldn't find key password in Secret test/test-secret",
    },
    {
      name: "configmap",
      ns: "test1",
      container: configMapContainer,
      configMap: {
        name: "test-config-map",
        data: { REPLACE_ME: "FROM_CONFIG_MAP", DUPE_TEST: "CONFIG_MAP" },
      },
      expectedEnvs: [
        { name: "TEST_LITERAL", value: "test-test-test" },
        { name: "REPLACE_ME", value: "FROM_CONFIG_MAP" },
        { name: "EXPANSION_TEST", value: "FROM_CONFIG_MAP" },
        { name: "DUPE_TEST", value: "ENV_VAR" },
        { name: "p_REPLACE_ME", value: "FROM_CONFIG_MAP" },
        { name: "p_DUPE_TEST", value: "CONFIG_MAP" },
      ],
    },
    {
      name: "configmap_missing",
      ns: "test1",
      container: { name: "c", envFrom: [{ configMapRef: { name: "test-config-map" } }] },
      expectedError: 'configmap "test-config-map" not found',
    },
    {
      name: "configmap_missing_optional",
      ns: "test",
      container: { name: "c", envFrom: [{ configMapRef: { name: "missing-config-map", optional: true } }] },
      expectedEnvs: [],
    },
    {
      name: "configmap_invalid_keys_valid",
      ns: "test",
      container: { name: "c", envFrom: [{ prefix: "p_", configMapRef: { name: "test-config-map" } }] },
      configMap: { name: "test-config-map", data: { "1234": "abc" } },
      expectedEnvs: [{ name: "p_1234", value: "abc" }],
    },
    {
      name: "secret",
      ns: "test1",
      container: secretContainer,
      secret: { name: "test-secret", data: { REPLACE_ME: b64("FROM_SECRET"), DUPE_TEST: b64("SECRET") } },
      expectedEnvs: [
        { name: "TEST_LITERAL", value: "test-test-test" },
        { name: "REPLACE_ME", value: "FROM_SECRET" },
        { name: "EXPANSION_TEST", value: "FROM_SECRET" },
        { name: "DUPE_TEST", value: "ENV_VAR" },
        { name: "p_REPLACE_ME", value: "FROM_SECRET" },
        { name: "p_DUPE_TEST", value: "SECRET" },
      ],
    },
    {
      name: "secret_missing",
      ns: "test1",
      container: { name: "c", envFrom: [{ secretRef: { name: "test-secret" } }] },
      expectedError: 'secret "test-secret" not found',
    },
    {
      name: "secret_missing_optional",
      ns: "test",
      container: { name: "c", envFrom: [{ secretRef: { name: "missing-secret", optional: true } }] },
      expectedEnvs: [],
    },
    {
      name: "secret_invalid_keys_valid",
      ns: "test",
      container: { name: "c", envFrom: [{ prefix: "p_", secretRef: { name: "test-secret" } }] },
      secret: { name: "test-secret", data: { "1234.name": b64("abc") } },
      expectedEnvs: [{ name: "p_1234.name", value: "abc" }],
    },
    {
      name: "nil_enableServiceLinks",
      ns: "test",
      enableServiceLinks: undefined,
      container: { name: "c", envFrom: [{ prefix: "p_", secretRef: { name: "test-secret" } }] },
      secret: { name: "test-secret", data: { "1234.name": b64("abc") } },
      expectedError: "nil pod.spec.enableServiceLinks encountered, cannot construct envvars",
    },
  ];

  for (const tc of cases) {
    it(tc.name, () => {
      const pod: Pod = {
        metadata: { namespace: tc.ns, name: "dapi-test-pod-name", annotations: {} },
        spec: {
          serviceAccountName: "special",
          nodeName: "node-name",
          containers: [tc.container],
          ...("enableServiceLinks" in tc ? {} : { enableServiceLinks: false }),
        },
      };
      const host = hostFacts({
        localObjects: {
          configMaps: tc.configMap
            ? { [tc.configMap.name]: { metadata: { name: tc.configMap.name }, data: tc.configMap.data } }
            : {},
          secrets: tc.secret
            ? { [tc.secret.name]: { metadata: { name: tc.secret.name }, data: tc.secret.data } }
            : {},
        },
      });
      const podIPs = tc.podIPs ?? [];
      const run = () => makeEnvironmentVariables(pod, tc.container, podIPs[0] ?? "", podIPs, host);
      if (tc.expectedError) {
        assert.throws(run, { message: tc.expectedError });
      } else {
        assert.deepEqual(sortEnvs(run()), sortEnvs(tc.expectedEnvs ?? []));
      }
    });
  }

  it("lists variables in the order they were first defined, env overriding envFrom in place", () => {
    const container: Container = {
      name: "c",
      envFrom: [{ configMapRef: { name: "cm" } }],
      env: [
        { name: "B", value: "env" },
        { name: "Z", value: "last" },
      ],
    };
    const pod: Pod = {
      metadata: { name: "p", namespace: "ns" },
      spec: { enableServiceLinks: false, containers: [container] },
    };
    const host = hostFacts({
      localObjects: { configMaps: { cm: { data: { A: "1", B: "2" } } }, secrets: {} },
    });
    assert.deepEqual(makeEnvironmentVariables(pod, container, "", [], host), [
      { name: "A", value: "1" },
      { name: "B", value: "env" },
      { name: "Z", value: "last" },
    ]);
  });

  it("reads a local Secret's stringData as the API server would have stored it", () => {
    const container: Container = { name: "c", envFrom: [{ secretRef: { name: "s" } }] };
    const pod: Pod = {
      metadata: { name: "p", namespace: "ns" },
      spec: { enableServiceLinks: false, containers: [container] },
    };
    const host = hostFacts({
      localObjects: {
        configMaps: {},
        secrets: { s: { data: { A: b64("from-data"), B: b64("b") }, stringData: { A: "from-stringData" } } },
      },
    });
    assert.deepEqual(makeEnvironmentVariables(pod, container, "", [], host), [
      { name: "A", value: "from-stringData" },
      { name: "B", value: "b" },
    ]);
  });
});

// The downward API fields (pkg/fieldpath fieldpath_test.go TestExtractFieldPathAsString, through the kubelet)
describe("podFieldSelectorRuntimeValue", () => {
  const pod: Pod = {
    metadata: {
      name: "object-name",
      namespace: "object-namespace",
      uid: "b7a1c8a1",
      labels: { key: "value" },
      annotations: { Key: "value", "other/key": 'a "quoted"\tvalue' },
    },
    spec: { containers: [], nodeName: "n", restartPolicy: "Always" },
  };
  const value = (fieldPath: string, apiVersion?: string) =>
    podFieldSelectorRuntimeValue(
      { fieldPath, ...(apiVersion !== undefined && { apiVersion }) },
      pod,
      "",
      [],
      ["10.0.0.1"],
    );

  it("reads metadata fields, whole maps and single keys", () => {
    assert.equal(value("metadata.name"), "object-name");
    assert.equal(value("metadata.namespace"), "object-namespace");
    assert.equal(value("metadata.uid"), "b7a1c8a1");
    assert.equal(value("metadata.labels"), 'key="value"');
    assert.equal(value("metadata.annotations"), 'Key="value"\nother/key="a \\"quoted\\"\\tvalue"');
    assert.equal(value("metadata.labels['key']"), "value");
    assert.equal(value("metadata.labels['missing']"), "");
    assert.equal(value("metadata.annotations['Key']"), "value");
    assert.equal(value("spec.host"), "n");
    assert.equal(value("status.hostIP"), "10.0.0.1");
  });

  it("refuses what the kubelet refuses, with its messages", () => {
    assert.throws(() => value("metadata.name", "v2"), { message: "unsupported pod version: v2" });
    assert.throws(() => value("spec.containers"), { message: "field label not supported: spec.containers" });
    assert.throws(() => value("metadata.name['x']"), {
      message: "field label does not support subscript: metadata.name['x']",
    });
    assert.throws(() => value("spec.restartPolicy"), {
      message: "unsupported fieldPath: spec.restartPolicy",
    });
    assert.throws(
      () => value("metadata.labels['-bad']"),
      /^BerthError: invalid key subscript in metadata.labels\['-bad'\]: name part must consist/,
    );
    assert.throws(() => podFieldSelectorRuntimeValue({ fieldPath: "status.hostIP" }, pod, "", [], []), {
      message: "host IP unknown; known addresses: []",
    });
  });

  it("orders pod IPs by the node's primary family", () => {
    const v6Node = podFieldSelectorRuntimeValue(
      { fieldPath: "status.podIPs" },
      pod,
      "",
      ["1.2.3.4", "fd00::6"],
      ["fd00::1"],
    );
    assert.equal(v6Node, "fd00::6,1.2.3.4");
  });
});

describe("goQuote and formatMap", () => {
  it("quote as Go's %q does", () => {
    assert.equal(goQuote("plain"), '"plain"');
    assert.equal(goQuote('a"b\\c'), '"a\\"b\\\\c"');
    assert.equal(goQuote("\x07\b\f\n\r\t\v"), '"\\a\\b\\f\\n\\r\\t\\v"');
    assert.equal(goQuote("\x00\x1f\x7f"), '"\\x00\\x1f\\x7f"');
    assert.equal(goQuote("héllo 世界"), '"héllo 世界"');
    assert.equal(goQuote("\u00a0\u200b"), '"\\u00a0\\u200b"');
    assert.equal(formatMap({ b: "2", a: "1" }), 'a="1"\nb="2"');
  });
});

// kubelet_resources_test.go TestPodResourceLimitsDefaulting
describe("defaultPodLimitsForDownwardAPI", () => {
  const allocatable = { cpu: "6", memory: "4Gi", "ephemeral-storage": "20Gi" };
  const podWith = (cpu: string, memory: string, storage: string): Pod => {
    const limits: Record<string, string> = {};
    if (cpu) limits.cpu = cpu;
    if (memory) limits.memory = memory;
    if (storage) limits["ephemeral-storage"] = storage;
    return {
      metadata: { name: "foo", namespace: "ns" },
      spec: { containers: [{ name: "foo", resources: { limits } }] },
    };
  };
  const cases: [Pod, Pod][] = [
    [podWith("0", "0", "0"), podWith("6", "4Gi", "20Gi")],
    [podWith("1", "0", "1Gi"), podWith("1", "4Gi", "1Gi")],
    [podWith("", "", ""), podWith("6", "4Gi", "20Gi")],
    [podWith("0", "1Mi", "0"), podWith("6", "1Mi", "20Gi")],
  ];
  for (const [i, [pod, expected]] of cases.entries()) {
    it(`case ${i}`, () => {
      const [outPod, outContainer] = defaultPodLimitsForDownwardAPI(
        pod,
        pod.spec?.containers[0] as Container,
        allocatable,
      );
      assert.deepEqual(outPod, expected);
      assert.deepEqual(outContainer, expected.spec?.containers[0]);
    });
  }

  it("leaves init containers and the given pod as they are", () => {
    const pod: Pod = { spec: { containers: [{ name: "a" }], initContainers: [{ name: "i" }] } };
    const [outPod] = defaultPodLimitsForDownwardAPI(pod, { name: "a" }, allocatable);
    assert.deepEqual(outPod.spec?.initContainers, [{ name: "i" }]);
    assert.deepEqual(pod.spec?.containers, [{ name: "a" }]);
  });
});

// pkg/api/v1/resource helpers_test.go TestExtractResourceValue
describe("containerResourceRuntimeValue", () => {
  const getPod = (resources: Container["resources"]): Pod => ({
    spec: { containers: [{ name: "foo", resources }], initContainers: [{ name: "init-foo", resources }] },
  });
  const cases: [string, string | undefined, Container["resources"], string][] = [
    ["limits.cpu", undefined, { limits: { cpu: "9" } }, "9"],
    ["requests.cpu", undefined, {}, "0"],
    ["requests.cpu", undefined, { requests: { cpu: "8" } }, "8"],
    ["requests.cpu", undefined, { requests: { cpu: "100m" } }, "1"],
    ["requests.cpu", "100m", { requests: { cpu: "1200m" } }, "12"],
    ["requests.memory", undefined, { requests: { memory: "100Mi" } }, "104857600"],
    ["requests.memory", "1Mi", { requests: { memory: "100Mi" }, limits: { memory: "1Gi" } }, "100"],
    ["limits.memory", undefined, { requests: { memory: "10Mi" }, limits: { memory: "100Mi" } }, "104857600"],
    ["limits.ephemeral-storage", "1Gi", { limits: { "ephemeral-storage": "1.5Gi" } }, "2"],
    ["requests.hugepages-2Mi", "1Mi", { requests: { "hugepages-2Mi": "4Mi" } }, "4"],
    ["limits.hugepages-1Gi", undefined, {}, "0"],
  ];
  for (const containerName of ["foo", "init-foo"]) {
    for (const [resource, divisor, resources, expected] of cases) {
      it(`${containerName} ${resource}${divisor ? ` / ${divisor}` : ""} = ${expected}`, () => {
        const fs = { resource, containerName, ...(divisor && { divisor }) };
        assert.equal(containerResourceRuntimeValue(fs, getPod(resources), { name: "other" }), expected);
      });
    }
  }

  it("reads the container itself without a container name, and refuses unknown resources and names", () => {
    const pod = getPod({ limits: { cpu: "2" } });
    assert.equal(
      containerResourceRuntimeValue(
        { resource: "limits.cpu", divisor: "1m" },
        pod,
        pod.spec?.containers[0] as Container,
      ),
      "2000",
    );
    assert.throws(() => containerResourceRuntimeValue({ resource: "limits.gpu" }, pod, { name: "x" }), {
      message: "unsupported container resource : limits.gpu",
    });
    assert.throws(
      () =>
        containerResourceRuntimeValue({ resource: "limits.cpu", containerName: "nope" }, pod, { name: "x" }),
      {
        message: "container nope not found",
      },
    );
  });
});

// kubelet_pods_linux_test.go TestMakeMounts (without real mounts)
describe("makeVolumeMounts", () => {
  const hostNetworkPod: Pod = { spec: { hostNetwork: true, containers: [] } };
  const volumes = {
    disk: { hostPath: "/mnt/disk" },
    disk4: { hostPath: "/mnt/host" },
    disk5: { hostPath: "/var/lib/kubelet/podID/volumes/empty/disk5" },
  };
  const mountsOf = (
    container: Container,
    vols: Record<string, { hostPath: string; readOnly?: boolean }> = volumes,
  ) =>
    makeVolumeMounts(
      hostNetworkPod,
      container,
      "fakepodname",
      "",
      [""],
      { podDir: "/pod", volumes: vols, nodeEtcHosts: "" },
      [],
      {
        files: [],
      },
    );

  it("valid mounts in unprivileged container", () => {
    const mounts = mountsOf({
      name: "container1",
      volumeMounts: [
        { mountPath: "/etc/hosts", name: "disk", readOnly: false, mountPropagation: "HostToContainer" },
        { mountPath: "/mnt/path3", name: "disk", readOnly: true, mountPropagation: "None" },
        { mountPath: "/mnt/path4", name: "disk4", readOnly: false },
        { mountPath: "/mnt/path5", name: "disk5", readOnly: false },
      ],
    });
    assert.deepEqual(mounts, [
      {
        name: "disk",
        containerPath: "/etc/hosts",
        hostPath: "/mnt/disk",
        readOnly: false,
        propagation: MountPropagation.PROPAGATION_HOST_TO_CONTAINER,
      },
      {
        name: "disk",
        containerPath: "/mnt/path3",
        hostPath: "/mnt/disk",
        readOnly: true,
        propagation: MountPropagation.PROPAGATION_PRIVATE,
      },
      {
        name: "disk4",
        containerPath: "/mnt/path4",
        hostPath: "/mnt/host",
        readOnly: false,
        propagation: MountPropagation.PROPAGATION_PRIVATE,
      },
      {
        name: "disk5",
        containerPath: "/mnt/path5",
        hostPath: "/var/lib/kubelet/podID/volumes/empty/disk5",
        readOnly: false,
        propagation: MountPropagation.PROPAGATION_PRIVATE,
      },
    ]);
  });

  it("valid mounts in privileged container", () => {
    const mounts = mountsOf({
      name: "container1",
      volumeMounts: [
        { mountPath: "/etc/hosts", name: "disk", readOnly: false, mountPropagation: "Bidirectional" },
        { mountPath: "/mnt/path3", name: "disk", readOnly: true, mountPropagation: "HostToContainer" },
        { mountPath: "/mnt/path4", name: "disk4", readOnly: false },
      ],
      securityContext: { privileged: true },
    });
    assert.deepEqual(
      mounts.map((m) => m.propagation),
      [
        MountPropagation.PROPAGATION_BIDIRECTIONAL,
        MountPropagation.PROPAGATION_HOST_TO_CONTAINER,
        MountPropagation.PROPAGATION_PRIVATE,
      ],
    );
  });

  const errorCases: [string, VolumeMount, string][] = [
    [
      "invalid absolute SubPath",
      { mountPath: "/mnt/path3", subPath: "/must/not/be/absolute", name: "disk", readOnly: true },
      "error SubPath `/must/not/be/absolute` must not be an absolute path",
    ],
    [
      "invalid SubPath with backsteps",
      { mountPath: "/mnt/path3", subPath: "no/backsteps/../allowed", name: "disk", readOnly: true },
      "unable to provision SubPath `no/backsteps/../allowed`: must not contain '..'",
    ],
    [
      "volume doesn't exist",
      { mountPath: "/mnt/path3", name: "missing", readOnly: true },
      'cannot find volume "missing" to mount into container ""',
    ],
    [
      "invalid propagation",
      { mountPath: "/mnt/path3", name: "disk", mountPropagation: "Sideways" },
      'invalid MountPropagation mode: "Sideways"',
    ],
  ];
  for (const [description, mount, message] of errorCases) {
    it(description, () => assert.throws(() => mountsOf({ name: "", volumeMounts: [mount] }), { message }));
  }

  it("joins a subPath and expands a subPathExpr, and a plugin's read-only volume stays read-only", () => {
    const mounts = makeVolumeMounts(
      hostNetworkPod,
      {
        name: "c",
        volumeMounts: [
          { name: "v", mountPath: "rel/dir", subPath: "a/./b/" },
          { name: "cm", mountPath: "/cfg", subPathExpr: "$(POD)/x" },
        ],
      },
      "h",
      "",
      [],
      {
        podDir: "/pod",
        volumes: { v: { hostPath: "/vol/" }, cm: { hostPath: "/cm", readOnly: true } },
        nodeEtcHosts: "",
      },
      [{ name: "POD", value: "p1" }],
      { files: [] },
    );
    assert.deepEqual(
      mounts.map((m) => [m.hostPath, m.containerPath, m.readOnly]),
      [
        ["/vol/a/b", "/rel/dir", false],
        ["/cm/p1/x", "/cfg", true],
      ],
    );
  });

  it("manages /etc/hosts once the pod has an IP, from the pod's names or the node's file", () => {
    const container: Container = { name: "c" };
    const aliases = [{ ip: "123.45.67.89", hostnames: ["foo", "bar"] }];
    const podNet: Pod = { spec: { containers: [container], hostAliases: aliases } };
    const host = { podDir: "/pods/u", volumes: {}, nodeEtcHosts: "10.0.0.5\tnode\n" };
    const plan = { files: [] as { path: string; content: string; mode: number }[] };
    assert.deepEqual(makeVolumeMounts(podNet, container, "web", "", [], host, [], plan), []);
    const mounts = makeVolumeMounts(podNet, container, "web", "", ["10.89.0.7"], host, [], plan);
    assert.deepEqual(mounts, [
      {
        name: "k8s-managed-etc-hosts",
        containerPath: "/etc/hosts",
        hostPath: "/pods/u/etc-hosts",
        readOnly: false,
        propagation: MountPropagation.PROPAGATION_PRIVATE,
      },
    ]);
    assert.deepEqual(plan.files, [
      {
        path: "/pods/u/etc-hosts",
        content: managedHostsFileContent(["10.89.0.7"], "web", "", aliases),
        mode: 0o644,
      },
    ]);

    const hostPlan = { files: [] as { path: string; content: string; mode: number }[] };
    makeVolumeMounts(
      { spec: { ...podNet.spec, containers: [container], hostNetwork: true } },
      container,
      "web",
      "",
      ["10.0.0.5"],
      host,
      [],
      hostPlan,
    );
    assert.equal(
      hostPlan.files[0]?.content,
      "# Kubernetes-managed hosts file (host network).\n10.0.0.5\tnode\n\n# Entries added by HostAliases.\n123.45.67.89\tfoo\tbar\n",
    );
  });
});

// kubelet_pods_test.go TestManagedHostsFileContent and TestNodeHostsFileContent
describe("hosts file content", () => {
  const header = `# Kubernetes-managed hosts file.
127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
fe00::0\tip6-localnet
fe00::0\tip6-mcastprefix
fe00::1\tip6-allnodes
fe00::2\tip6-allrouters
`;
  it("lists the pod's name on its IPs", () => {
    assert.equal(
      managedHostsFileContent(["123.45.67.89"], "podFoo", "", []),
      `${header}123.45.67.89\tpodFoo\n`,
    );
  });
  it("adds the domain when the pod has one", () => {
    assert.equal(
      managedHostsFileContent(["203.0.113.1"], "podFoo", "domainFoo", []),
      `${header}203.0.113.1\tpodFoo.domainFoo\tpodFoo\n`,
    );
  });
  it("appends host aliases", () => {
    assert.equal(
      managedHostsFileContent(["203.0.113.1"], "podFoo", "domainFoo", [
        { ip: "123.45.67.89", hostnames: ["foo", "bar", "baz"] },
        { ip: "456.78.90.123", hostnames: ["park", "doo", "boo"] },
      ]),
      `${header}203.0.113.1\tpodFoo.domainFoo\tpodFoo\n\n# Entries added by HostAliases.\n123.45.67.89\tfoo\tbar\tbaz\n456.78.90.123\tpark\tdoo\tboo\n`,
    );
  });
  it("lists every pod IP", () => {
    assert.equal(
      managedHostsFileContent(["203.0.113.1", "fd00::6"], "podFoo", "domainFoo", []),
      `${header}203.0.113.1\tpodFoo.domainFoo\tpodFoo\nfd00::6\tpodFoo.domainFoo\tpodFoo\n`,
    );
  });
  it("copies the node's file for a host-network pod", () => {
    const nodeHosts =
      "# hosts file for testing.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
    assert.equal(
      nodeHostsFileContent(nodeHosts, []),
      `# Kubernetes-managed hosts file (host network).\n${nodeHosts}`,
    );
  });
});

// container/helpers_test.go TestExpandCommandAndArgs
describe("expandContainerCommandAndArgs", () => {
  const cases: [string, Container, EnvVar[], string[], string[]][] = [
    ["none", { name: "c" }, [], [], []],
    [
      "command expanded",
      { name: "c", command: ["foo", "$(VAR_TEST)", "$(VAR_TEST2)"] },
      [
        { name: "VAR_TEST", value: "zoo" },
        { name: "VAR_TEST2", value: "boo" },
      ],
      ["foo", "zoo", "boo"],
      [],
    ],
    [
      "args expanded",
      { name: "c", args: ["zap", "$(VAR_TEST)", "$(VAR_TEST2)"] },
      [
        { name: "VAR_TEST", value: "hap" },
        { name: "VAR_TEST2", value: "trap" },
      ],
      [],
      ["zap", "hap", "trap"],
    ],
    [
      "both expanded",
      {
        name: "c",
        command: ["$(VAR_TEST2)--$(VAR_TEST)", "foo", "$(VAR_TEST3)"],
        args: ["foo", "$(VAR_TEST)", "$(VAR_TEST2)"],
      },
      [
        { name: "VAR_TEST", value: "zoo" },
        { name: "VAR_TEST2", value: "boo" },
        { name: "VAR_TEST3", value: "roo" },
      ],
      ["boo--zoo", "foo", "roo"],
      ["foo", "zoo", "boo"],
    ],
  ];
  for (const [name, container, envs, command, args] of cases) {
    it(name, () => assert.deepEqual(expandContainerCommandAndArgs(container, envs), [command, args]));
  }
});

// container/helpers_test.go TestExpandVolumeMountsWithSubpath
describe("expandContainerVolumeMounts", () => {
  const cases: [string, string, EnvVar[], string | undefined][] = [
    ["subpath with no expansion", "foo", [], "foo"],
    ["volumes with expanded subpath", "foo/$(POD_NAME)", [{ name: "POD_NAME", value: "bar" }], "foo/bar"],
    ["volumes expanded with empty subpath", "", [{ name: "POD_NAME", value: "bar" }], ""],
    ["volumes expanded with no envs subpath", "/foo/$(POD_NAME)", [], undefined],
    [
      "volumes expanded with leading environment variable",
      "$(POD_NAME)/bar",
      [{ name: "POD_NAME", value: "foo" }],
      "foo/bar",
    ],
    [
      "subpaths with empty environment variable",
      "foo/$(POD_NAME)/$(ANNOTATION)",
      [{ name: "ANNOTATION", value: "129" }],
      undefined,
    ],
    [
      "subpaths with missing env variables",
      "foo/$(ODD_NAME)/$(POD_NAME)",
      [{ name: "ODD_NAME", value: "bar" }],
      undefined,
    ],
    ["subpaths with empty expansion", "$()", [], undefined],
    [
      "subpaths with nested expandable envs",
      "$(POD_NAME$(ANNOTATION))",
      [
        { name: "POD_NAME", value: "foo" },
        { name: "ANNOTATION", value: "bar" },
      ],
      undefined,
    ],
  ];
  for (const [name, subPathExpr, envs, expected] of cases) {
    it(name, () => {
      const mount = { name: "v", mountPath: "/foo", subPathExpr };
      if (expected === undefined)
        assert.throws(() => expandContainerVolumeMounts(mount, envs), /^BerthError: missing value for /);
      else assert.equal(expandContainerVolumeMounts(mount, envs), expected);
    });
  }

  it("names every missing variable, sorted", () => {
    assert.throws(
      () => expandContainerVolumeMounts({ name: "v", mountPath: "/", subPathExpr: "$(Z)/$(A)" }, []),
      {
        message: "missing value for A, Z",
      },
    );
  });
});

// third_party/forked/golang/expansion expand_test.go TestMapReference, TestMapping, TestMappingDual
describe("expansion", () => {
  it("TestMapReference: each value sees the ones expanded before it", () => {
    const declared = new Map([
      ["FOO", "bar"],
      ["ZOO", "$(FOO)-1"],
      ["BLU", "$(ZOO)-2"],
    ]);
    const mapping = mappingFuncFor(declared, new Map());
    for (const [name, value] of [...declared]) declared.set(name, expand(value, mapping));
    assert.deepEqual(Object.fromEntries(declared), { FOO: "bar", ZOO: "bar-1", BLU: "bar-1-2" });
  });

  const cases: [string, string, string][] = [
    ["whole string", "$(VAR_A)", "A"],
    ["repeat", "$(VAR_A)-$(VAR_A)", "A-A"],
    ["beginning", "$(VAR_A)-1", "A-1"],
    ["middle", "___$(VAR_B)___", "___B___"],
    ["end", "___$(VAR_C)", "___C"],
    ["compound", "$(VAR_A)_$(VAR_B)_$(VAR_C)", "A_B_C"],
    ["escape & expand", "$$(VAR_B)_$(VAR_A)", "$(VAR_B)_A"],
    ["compound escape", "$$(VAR_A)_$$(VAR_B)", "$(VAR_A)_$(VAR_B)"],
    ["mixed in escapes", "f000-$$VAR_A", "f000-$VAR_A"],
    ["backslash escape ignored", "foo\\$(VAR_C)bar", "foo\\Cbar"],
    ["backslash escape ignored (two)", "foo\\\\$(VAR_C)bar", "foo\\\\Cbar"],
    ["lots of backslashes", "foo\\\\\\\\$(VAR_A)bar", "foo\\\\\\\\Abar"],
    ["nested var references", "$(VAR_A$(VAR_B))", "$(VAR_A$(VAR_B))"],
    ["nested var references second type", "$(VAR_A$(VAR_B)", "$(VAR_A$(VAR_B)"],
    ["value is a reference", "$(VAR_REF)", "$(VAR_A)"],
    ["value is a reference x 2", "%%$(VAR_REF)--$(VAR_REF)%%", "%%$(VAR_A)--$(VAR_A)%%"],
    ["empty var", "foo$(VAR_EMPTY)bar", "foobar"],
    ["unterminated expression", "foo$(VAR_Awhoops!", "foo$(VAR_Awhoops!"],
    ["expression without operator", "f00__(VAR_A)__", "f00__(VAR_A)__"],
    ["shell special vars pass through", "$?_boo_$!", "$?_boo_$!"],
    ["bare operators are ignored", "$VAR_A", "$VAR_A"],
    ["undefined vars are passed through", "$(VAR_DNE)", "$(VAR_DNE)"],
    ["multiple (even) operators, var undefined", "$$$$$$(BIG_MONEY)", "$$$(BIG_MONEY)"],
    ["multiple (even) operators, var defined", "$$$$$$(VAR_A)", "$$$(VAR_A)"],
    ["multiple (odd) operators, var undefined", "$$$$$$$(GOOD_ODDS)", "$$$$(GOOD_ODDS)"],
    ["multiple (odd) operators, var defined", "$$$$$$$(VAR_A)", "$$$A"],
    ["missing open expression", "$VAR_A)", "$VAR_A)"],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax is the input under test
    ["shell syntax ignored", "${VAR_A}", "${VAR_A}"],
    ["trailing incomplete expression not consumed", "$(VAR_B)_______$(A", "B_______$(A"],
    ["trailing incomplete expression, no content, is not consumed", "$(VAR_C)_______$(", "C_______$("],
    ["operator at end of input string is preserved", "$(VAR_A)foobarzab$", "Afoobarzab$"],
    ["shell escaped incomplete expr", "foo-\\$(VAR_A", "foo-\\$(VAR_A"],
    ["lots of $( in middle", "--$($($($($--", "--$($($($($--"],
    ["lots of $( in beginning", "$($($($($--foo$(", "$($($($($--foo$("],
    ["lots of $( at end", "foo0--$($($($(", "foo0--$($($($("],
    ["escaped operators in variable names are not escaped", "$(foo$$var)", "$(foo$$var)"],
    ["newline not expanded", "\n", "\n"],
  ];
  const single = mappingFuncFor(
    new Map([
      ["VAR_A", "A"],
      ["VAR_B", "B"],
      ["VAR_C", "C"],
      ["VAR_REF", "$(VAR_A)"],
      ["VAR_EMPTY", ""],
    ]),
  );
  const dual = mappingFuncFor(
    new Map([
      ["VAR_A", "A"],
      ["VAR_EMPTY", ""],
    ]),
    new Map([
      ["VAR_B", "B"],
      ["VAR_C", "C"],
      ["VAR_REF", "$(VAR_A)"],
    ]),
  );
  for (const [name, input, expected] of cases) {
    it(name, () => {
      assert.equal(expand(input, single), expected);
      assert.equal(expand(input, dual), expected);
    });
  }
});

describe("makeUID", () => {
  it("is eight hex digits", () => {
    assert.match(makeUID(), /^[0-9a-f]{8}$/);
  });
});
