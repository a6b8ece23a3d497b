import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import type { Pod } from "kubernetes-types/core/v1.js";
import {
  LinuxContainerResourcesSchema,
  NamespaceMode,
  PodSandboxConfigSchema,
  Protocol,
  SecurityProfile_ProfileType,
} from "../../cri/gen/runtime/v1/api_pb.js";
import type { KubeEvent } from "../events/event-recorder.js";
import { featureGates } from "../features/features.js";
import {
  type DNSSettings,
  formDNSNameserversFitsLimits,
  formDNSSearchFitsLimits,
  generatePodHostNameAndDomain,
  generatePodSandboxConfig,
  generatePodSandboxLinuxConfig,
  getNodenameForKernel,
  getPodDNS,
  getPodDNSType,
  isQualifiedName,
  makePortMappings,
  mergeDNSOptions,
  parseResolvConf,
} from "./sandbox.js";
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
    nodeName: "node-1",
    cgroupVersion: "v1",
    memoryCapacityBytes: 8n << 30n,
    swapCapacityBytes: 0n,
    hugePageSizes: ["2Mi"],
    pageSizeBytes: 4096,
    swapControllerAvailable: false,
  },
};

const noDNS: DNSSettings = { clusterDNS: [], clusterDomain: "", nodeIPs: [] };

function newTestPod(): Pod {
  return {
    metadata: { uid: "12345678", name: "bar", namespace: "new" },
    spec: {
      containers: [
        {
          name: "foo",
          image: "busybox",
          imagePullPolicy: "IfNotPresent",
          ports: [{ containerPort: 0, hostPort: 8080 }],
        },
      ],
    },
  };
}

function recorder(): [KubeEvent[], (e: KubeEvent) => void] {
  const events: KubeEvent[] = [];
  return [events, (e) => events.push(e)];
}

// kuberuntime_sandbox_test.go TestGeneratePodSandboxConfig
describe("generatePodSandboxConfig", () => {
  it("fills metadata, labels, log directory and port mappings", () => {
    const pod = newTestPod();
    const config = generatePodSandboxConfig(settings, pod, 1, { cgroupParent: "", dns: noDNS });
    assert.deepEqual(config.labels, {
      "io.kubernetes.pod.name": "bar",
      "io.kubernetes.pod.namespace": "new",
      "io.kubernetes.pod.uid": "12345678",
    });
    assert.equal(config.logDirectory, "/var/log/pods/new_bar_12345678");
    assert.deepEqual(config.metadata, { name: "bar", namespace: "new", uid: "12345678", attempt: 1 });
    assert.deepEqual(config.portMappings, [
      { hostIp: "", hostPort: 8080, containerPort: 0, protocol: Protocol.TCP },
    ]);
  });

  it("builds the whole config of a defaulted pod", () => {
    const pod: Pod = {
      metadata: {
        uid: "u1",
        name: "web",
        namespace: "default",
        labels: { app: "web" },
        annotations: { note: "x" },
      },
      spec: {
        hostname: "web-0",
        subdomain: "svc",
        setHostnameAsFQDN: true,
        dnsPolicy: "ClusterFirst",
        enableServiceLinks: true,
        securityContext: {
          runAsUser: 1000,
          fsGroup: 2000,
          supplementalGroups: [3000],
          sysctls: [{ name: "net.ipv4.ip_forward", value: "1" }],
        },
        containers: [
          {
            name: "app",
            image: "busybox",
            ports: [
              { name: "http", containerPort: 80, hostPort: 8080, protocol: "TCP", hostIP: "127.0.0.1" },
            ],
            resources: {
              requests: { cpu: "250m", memory: "64Mi" },
              limits: { cpu: "500m", memory: "128Mi" },
            },
          },
        ],
      },
    };
    const dns: DNSSettings = {
      clusterDNS: ["10.96.0.10"],
      clusterDomain: "cluster.local",
      resolvConf: "nameserver 192.168.1.1\nsearch lan\noptions edns0\n",
      nodeIPs: ["192.168.1.20"],
    };
    const config = create(
      PodSandboxConfigSchema,
      generatePodSandboxConfig(settings, pod, 0, { cgroupParent: "/kubepods/burstable/podu1", dns }),
    );
    const expected = create(PodSandboxConfigSchema, {
      metadata: { name: "web", namespace: "default", uid: "u1", attempt: 0 },
      hostname: "web-0.svc.default.svc.cluster.local",
      logDirectory: "/var/log/pods/default_web_u1",
      dnsConfig: {
        servers: ["10.96.0.10"],
        searches: ["default.svc.cluster.local", "svc.cluster.local", "cluster.local", "lan"],
        options: ["ndots:5"],
      },
      portMappings: [{ protocol: Protocol.TCP, containerPort: 80, hostPort: 8080, hostIp: "127.0.0.1" }],
      labels: {
        app: "web",
        "io.kubernetes.pod.name": "web",
        "io.kubernetes.pod.namespace": "default",
        "io.kubernetes.pod.uid": "u1",
      },
      annotations: { note: "x" },
      linux: {
        cgroupParent: "/kubepods/burstable/podu1",
        securityContext: {
          namespaceOptions: {
            network: NamespaceMode.POD,
            pid: NamespaceMode.CONTAINER,
            ipc: NamespaceMode.POD,
          },
          runAsUser: { value: 1000n },
          supplementalGroups: [2000n, 3000n],
          seccomp: { profileType: SecurityProfile_ProfileType.RuntimeDefault },
        },
        sysctls: { "net.ipv4.ip_forward": "1" },
        resources: {
          cpuPeriod: 100_000n,
          cpuQuota: 50_000n,
          cpuShares: 256n,
          memoryLimitInBytes: 128n << 20n,
        },
        overhead: {},
      },
    });
    assert.deepEqual(config, expected);
  });

  it("leaves the hostname to the runtime on the host network", () => {
    const pod = newTestPod();
    const config = generatePodSandboxConfig(
      settings,
      { ...pod, spec: { ...pod.spec, containers: pod.spec?.containers ?? [], hostNetwork: true } },
      0,
      {
        cgroupParent: "",
        dns: noDNS,
      },
    );
    assert.equal(config.hostname, undefined);
  });

  it("refuses an invalid hostname", () => {
    const pod = newTestPod();
    assert.throws(
      () =>
        generatePodSandboxConfig(settings, { ...pod, spec: { containers: [], hostname: "Bad_Name" } }, 0, {
          cgroupParent: "",
          dns: noDNS,
        }),
      {
        name: "BerthError",
        kind: "InvalidArgument",
        message:
          "pod Hostname \"Bad_Name\" is not a valid DNS label: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
      },
    );
  });
});

// kuberuntime_sandbox_linux_test.go TestApplySandboxResources
describe("sandbox resources", () => {
  const resourcesOf = (pod: Pod) => {
    const config = generatePodSandboxConfig(settings, pod, 0, { cgroupParent: "", dns: noDNS });
    return [config.linux?.resources, config.linux?.overhead];
  };
  const base = { uid: "12345678", name: "bar", namespace: "new" };

  it("sums the containers and converts the overhead separately", () => {
    const [resources, overhead] = resourcesOf({
      metadata: base,
      spec: {
        containers: [
          {
            name: "c",
            resources: { requests: { memory: "128Mi", cpu: "2" }, limits: { memory: "256Mi", cpu: "4" } },
          },
        ],
        overhead: { memory: "128Mi", cpu: "1" },
      },
    });
    assert.deepEqual(
      resources,
      create(LinuxContainerResourcesSchema, {
        memoryLimitInBytes: 268435456n,
        cpuPeriod: 100000n,
        cpuQuota: 400000n,
        cpuShares: 2048n,
      }),
    );
    assert.deepEqual(
      overhead,
      create(LinuxContainerResourcesSchema, {
        memoryLimitInBytes: 134217728n,
        cpuPeriod: 100000n,
        cpuQuota: 100000n,
        cpuShares: 1024n,
      }),
    );
  });

  it("gives minimal shares and no quota without CPU, and an empty overhead without one", () => {
    const [resources, overhead] = resourcesOf({
      metadata: base,
      spec: {
        containers: [
          { name: "c", resources: { requests: { memory: "128Mi" }, limits: { memory: "256Mi" } } },
        ],
      },
    });
    assert.deepEqual(
      resources,
      create(LinuxContainerResourcesSchema, {
        memoryLimitInBytes: 268435456n,
        cpuPeriod: 100000n,
        cpuQuota: 0n,
        cpuShares: 2n,
      }),
    );
    assert.deepEqual(overhead, create(LinuxContainerResourcesSchema));
  });
});

// kuberuntime_sandbox_test.go TestGeneratePodSandboxLinuxConfigSeccomp, kuberuntime_sandbox_linux_test.go
// TestGeneratePodSandboxConfigWithLinuxSecurityContext, and NamespacesForPod through the sandbox.
describe("generatePodSandboxLinuxConfig", () => {
  const withSpec = (spec: Partial<NonNullable<Pod["spec"]>>): Pod => ({
    metadata: { name: "p", namespace: "ns", uid: "u" },
    spec: { containers: [{ name: "c" }], ...spec },
  });

  for (const [description, pod] of [
    ["no seccomp at pod level", withSpec({})],
    ["Unconfined at pod level", withSpec({ securityContext: { seccompProfile: { type: "Unconfined" } } })],
    [
      "Unconfined at container level",
      withSpec({ containers: [{ name: "c", securityContext: { seccompProfile: { type: "Unconfined" } } }] }),
    ],
  ] as const) {
    it(`runs the sandbox under RuntimeDefault seccomp: ${description}`, () => {
      const lc = generatePodSandboxLinuxConfig(pod, "");
      assert.deepEqual(lc.securityContext?.seccomp, {
        profileType: SecurityProfile_ProfileType.RuntimeDefault,
      });
    });
  }

  it("takes SELinux options, user and group from the pod security context", () => {
    const lc = generatePodSandboxLinuxConfig(
      withSpec({ securityContext: { seLinuxOptions: { user: "qux" }, runAsUser: 1000, runAsGroup: 10 } }),
      "",
    );
    assert.deepEqual(lc.securityContext?.selinuxOptions, { user: "qux", role: "", type: "", level: "" });
    assert.deepEqual(lc.securityContext?.runAsUser, { value: 1000n });
    assert.deepEqual(lc.securityContext?.runAsGroup, { value: 10n });
  });

  it("shares namespaces with the node or the pod as the spec asks", () => {
    const ns = (spec: Partial<NonNullable<Pod["spec"]>>) => {
      const options = generatePodSandboxLinuxConfig(withSpec({ securityContext: {}, ...spec }), "")
        .securityContext?.namespaceOptions;
      return [options?.network, options?.pid, options?.ipc];
    };
    assert.deepEqual(ns({}), [NamespaceMode.POD, NamespaceMode.CONTAINER, NamespaceMode.POD]);
    assert.deepEqual(ns({ hostNetwork: true, hostPID: true, hostIPC: true }), [
      NamespaceMode.NODE,
      NamespaceMode.NODE,
      NamespaceMode.NODE,
    ]);
    assert.deepEqual(ns({ shareProcessNamespace: true }), [
      NamespaceMode.POD,
      NamespaceMode.POD,
      NamespaceMode.POD,
    ]);
  });

  it("sets no namespaces without a pod security context, as upstream reads them through it", () => {
    assert.equal(
      generatePodSandboxLinuxConfig(withSpec({ hostNetwork: true }), "").securityContext?.namespaceOptions,
      undefined,
    );
  });

  it("is privileged when any container is, init containers included", () => {
    assert.equal(generatePodSandboxLinuxConfig(withSpec({}), "").securityContext?.privileged, false);
    const pod = withSpec({ initContainers: [{ name: "i", securityContext: { privileged: true } }] });
    assert.equal(generatePodSandboxLinuxConfig(pod, "").securityContext?.privileged, true);
  });

  it("carries the cgroup parent and sysctls", () => {
    const lc = generatePodSandboxLinuxConfig(
      withSpec({ securityContext: { sysctls: [{ name: "kernel.shm_rmid_forced", value: "1" }] } }),
      "/kubepods/besteffort/podu",
    );
    assert.equal(lc.cgroupParent, "/kubepods/besteffort/podu");
    assert.deepEqual(lc.sysctls, { "kernel.shm_rmid_forced": "1" });
  });
});

// kubelet_pods.go GeneratePodHostNameAndDomain and util.GetNodenameForKernel
describe("pod hostname", () => {
  const pod = (name: string, spec: Partial<NonNullable<Pod["spec"]>> = {}): Pod => ({
    metadata: { name, namespace: "ns" },
    spec: { containers: [], ...spec },
  });

  it("uses the pod name, or spec.hostname, with the subdomain's domain", () => {
    assert.deepEqual(generatePodHostNameAndDomain(pod("web"), "cluster.local"), ["web", ""]);
    assert.deepEqual(
      generatePodHostNameAndDomain(pod("web", { hostname: "h", subdomain: "s" }), "cluster.local"),
      ["h", "s.ns.svc.cluster.local"],
    );
  });

  it("cuts a long name to 63 characters without a trailing '-' or '.'", () => {
    const name = `${"a".repeat(61)}-.bbbb`;
    assert.deepEqual(generatePodHostNameAndDomain(pod(name), ""), ["a".repeat(61), ""]);
  });

  it("refuses an invalid subdomain", () => {
    assert.throws(
      () => generatePodHostNameAndDomain(pod("web", { subdomain: "a.b" }), ""),
      /pod Subdomain "a.b" is not a valid DNS label/,
    );
  });

  it("gives the kernel the FQDN only with setHostnameAsFQDN and a domain, within 64 characters", () => {
    assert.equal(getNodenameForKernel("host", "", true), "host");
    assert.equal(getNodenameForKernel("host", "dom.ain", false), "host");
    assert.equal(getNodenameForKernel("host", "dom.ain", true), "host.dom.ain");
    const domain = "d".repeat(60);
    assert.throws(() => getNodenameForKernel("host", domain, true), {
      message: `failed to construct FQDN from pod hostname and cluster domain, FQDN host.${domain} is too long (64 characters is the max, 65 characters requested)`,
    });
  });
});

// container/helpers.go MakePortMappings
describe("makePortMappings", () => {
  it("keeps each port once, by name or by family, protocol, address and ports", () => {
    const mappings = makePortMappings({
      name: "c",
      ports: [
        { name: "dns", containerPort: 53, protocol: "UDP" },
        { name: "dns", containerPort: 5353, protocol: "UDP" },
        { containerPort: 80, hostPort: 8080, protocol: "TCP" },
        { containerPort: 80, hostPort: 8080, protocol: "TCP" },
        { containerPort: 80, hostPort: 8080, protocol: "TCP", hostIP: "::1" },
        { containerPort: 9, protocol: "SCTP" },
      ],
    });
    assert.deepEqual(mappings, [
      { hostPort: 0, containerPort: 53, protocol: "UDP", hostIP: "" },
      { hostPort: 8080, containerPort: 80, protocol: "TCP", hostIP: "" },
      { hostPort: 8080, containerPort: 80, protocol: "TCP", hostIP: "::1" },
      { hostPort: 0, containerPort: 9, protocol: "SCTP", hostIP: "" },
    ]);
  });
});

// apimachinery validation_test.go TestIsQualifiedName, the messages the downward API returns
describe("isQualifiedName", () => {
  it("accepts names with an optional DNS subdomain prefix", () => {
    for (const good of [
      "simple",
      "now-with-dashes",
      "1-starts-with-num",
      "1234",
      "simple/simple",
      "example.com/Upper-Case",
      "a/a",
      "FOO.bar",
    ]) {
      assert.deepEqual(isQualifiedName(good), [], good);
    }
  });

  it("explains what is wrong with a bad one", () => {
    assert.deepEqual(isQualifiedName("/simple"), ["prefix part must be non-empty"]);
    assert.deepEqual(isQualifiedName("a/b/c"), [
      "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    ]);
    assert.deepEqual(isQualifiedName("-abc"), [
      "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
    ]);
    assert.equal(isQualifiedName("a".repeat(64))[0], "name part must be no more than 63 characters");
    assert.match(isQualifiedName("Example.com/x")[0] ?? "", /^prefix part a lowercase RFC 1123 subdomain/);
  });
});

// ---- network/dns/dns_test.go ----

// TestParseResolvConf
describe("parseResolvConf", () => {
  const cases: [string, string[], string[], string[], boolean][] = [
    ["", [], [], [], false],
    [" ", [], [], [], false],
    ["\n", [], [], [], false],
    ["\t\n\t", [], [], [], false],
    ["#comment\n", [], [], [], false],
    [" #comment\n", [], [], [], false],
    ["#comment\n#comment", [], [], [], false],
    ["#comment\nnameserver", [], [], [], true],
    ["#comment\nnameserver\nsearch", [], [], [], true],
    ["#comment\nnameserver 1.2.3.4\nsearch", ["1.2.3.4"], [], [], false],
    ["nameserver 1.2.3.4", ["1.2.3.4"], [], [], false],
    [" nameserver 1.2.3.4", ["1.2.3.4"], [], [], false],
    ["\tnameserver 1.2.3.4", ["1.2.3.4"], [], [], false],
    ["nameserver\t1.2.3.4", ["1.2.3.4"], [], [], false],
    ["nameserver \t 1.2.3.4", ["1.2.3.4"], [], [], false],
    ["nameserver 1.2.3.4\nnameserver 5.6.7.8", ["1.2.3.4", "5.6.7.8"], [], [], false],
    ["nameserver 1.2.3.4 #comment", ["1.2.3.4"], [], [], false],
    ["search ", [], [], [], false],
    ["search foo", [], ["foo"], [], false],
    ["search foo bar", [], ["foo", "bar"], [], false],
    ["search foo. bar", [], ["foo", "bar"], [], false],
    ["search foo bar bat\n", [], ["foo", "bar", "bat"], [], false],
    ["search foo\nsearch bar", [], ["bar"], [], false],
    ["nameserver 1.2.3.4\nsearch foo bar", ["1.2.3.4"], ["foo", "bar"], [], false],
    [
      "nameserver 1.2.3.4\nsearch foo\nnameserver 5.6.7.8\nsearch bar",
      ["1.2.3.4", "5.6.7.8"],
      ["bar"],
      [],
      false,
    ],
    ["#comment\nnameserver 1.2.3.4\n#comment\nsearch foo\ncomment", ["1.2.3.4"], ["foo"], [], false],
    ["options ", [], [], [], false],
    ["options ndots:5 attempts:2", [], [], ["ndots:5", "attempts:2"], false],
    ["options ndots:1\noptions ndots:5 attempts:3", [], [], ["ndots:5", "attempts:3"], false],
    [
      "nameserver 1.2.3.4\nsearch foo\nnameserver 5.6.7.8\nsearch bar\noptions ndots:5 attempts:4",
      ["1.2.3.4", "5.6.7.8"],
      ["bar"],
      ["ndots:5", "attempts:4"],
      false,
    ],
  ];
  for (const [data, nameservers, searches, options, isErr] of cases) {
    it(JSON.stringify(data), () => {
      if (isErr) assert.throws(() => parseResolvConf(data), { kind: "InvalidArgument" });
      else assert.deepEqual(parseResolvConf(data), { nameservers, searches, options });
    });
  }

  it("reports an empty nameserver line as upstream words it", () => {
    assert.throws(() => parseResolvConf("nameserver"), { message: "nameserver list is empty " });
  });
});

// TestFormDNSSearchFitsLimits (ExpandedDNSConfig is GA in 1.28)
describe("formDNSSearchFitsLimits", () => {
  const list2048 = ["A".repeat(128), ...Array.from({ length: 15 }, () => "A".repeat(127))];
  const numbered = (n: number) => [
    "testNS.svc.TEST",
    "svc.TEST",
    "TEST",
    ...Array.from({ length: n - 3 }, (_, i) => String(i + 4)),
  ];
  const prefix =
    "Search Line limits were exceeded, some search paths have been omitted, the applied search line is: ";
  const cases: [string, string[], string[], string[]][] = [
    ["valid: 3 search paths", numbered(3), numbered(3), []],
    [
      "valid: 5 search paths",
      ["testNS.svc.TEST", "svc.TEST", "TEST", "AAA", "BBB"],
      ["testNS.svc.TEST", "svc.TEST", "TEST", "AAA", "BBB"],
      [],
    ],
    ["valid: 2048 characters in search path list", list2048, list2048, []],
    [
      "invalid: 2050 characters in search path list",
      [...list2048, "B"],
      list2048,
      [prefix + list2048.join(" ")],
    ],
    [
      "invalid: 256 characters search path",
      ["testNS.svc.TEST", "svc.TEST", "TEST", "AAA", "B".repeat(256), "BBB"],
      ["testNS.svc.TEST", "svc.TEST", "TEST", "AAA", "BBB"],
      [`${prefix}testNS.svc.TEST svc.TEST TEST AAA BBB`],
    ],
    ["valid: 32 search paths", numbered(32), numbered(32), []],
    ["invalid: 33 search paths", numbered(33), numbered(32), [prefix + numbered(32).join(" ")]],
  ];
  for (const [description, hostNames, resultSearch, messages] of cases) {
    it(description, () => {
      const [events, record] = recorder();
      assert.deepEqual(formDNSSearchFitsLimits(hostNames, record), resultSearch);
      assert.deepEqual(
        events.map((e) => `${e.type} ${e.reason} ${e.message}`),
        messages.map((m) => `Warning DNSConfigForming ${m}`),
      );
    });
  }
});

// TestFormDNSNameserversFitsLimits
describe("formDNSNameserversFitsLimits", () => {
  const cases: [string, string[], string[], boolean][] = [
    ["valid: 1 nameserver", ["127.0.0.1"], ["127.0.0.1"], false],
    [
      "valid: 3 nameservers",
      ["127.0.0.1", "10.0.0.10", "8.8.8.8"],
      ["127.0.0.1", "10.0.0.10", "8.8.8.8"],
      false,
    ],
    [
      "invalid: 4 nameservers, trimmed to 3",
      ["127.0.0.1", "10.0.0.10", "8.8.8.8", "1.2.3.4"],
      ["127.0.0.1", "10.0.0.10", "8.8.8.8"],
      true,
    ],
  ];
  for (const [description, nameservers, expected, expectEvent] of cases) {
    it(description, () => {
      const [events, record] = recorder();
      assert.deepEqual(formDNSNameserversFitsLimits(nameservers, record), expected);
      assert.equal(events.length, expectEvent ? 1 : 0);
    });
  }
});

// TestMergeDNSOptions
describe("mergeDNSOptions", () => {
  const cases: [string, string[], { name: string; value?: string }[], string[]][] = [
    ["Empty dnsConfigOptions", ["ndots:5", "debug"], [], ["ndots:5", "debug"]],
    [
      "No duplicated entries",
      ["ndots:5", "debug"],
      [{ name: "single-request" }, { name: "attempts", value: "3" }],
      ["ndots:5", "debug", "single-request", "attempts:3"],
    ],
    [
      "Overwrite duplicated entries",
      ["ndots:5", "debug"],
      [
        { name: "ndots", value: "3" },
        { name: "debug" },
        { name: "single-request" },
        { name: "attempts", value: "3" },
      ],
      ["ndots:3", "debug", "single-request", "attempts:3"],
    ],
  ];
  for (const [description, existing, podOptions, expected] of cases) {
    it(description, () => assert.deepEqual(mergeDNSOptions(existing, podOptions), expected));
  }
});

// TestGetPodDNSType
describe("getPodDNSType", () => {
  const cases: [string, boolean, string, string | undefined][] = [
    ["valid DNSClusterFirst without hostnetwork", false, "ClusterFirst", "cluster"],
    ["valid DNSClusterFirstWithHostNet with hostnetwork", true, "ClusterFirstWithHostNet", "cluster"],
    ["valid DNSClusterFirstWithHostNet without hostnetwork", false, "ClusterFirstWithHostNet", "cluster"],
    ["valid DNSDefault without hostnetwork", false, "Default", "host"],
    ["valid DNSDefault with hostnetwork", true, "Default", "host"],
    ["DNSClusterFirst with hostnetwork, fallback to DNSDefault", true, "ClusterFirst", "host"],
    ["valid DNSNone", false, "None", "none"],
    ["invalid DNS policy, should return error", false, "invalidPolicy", undefined],
  ];
  for (const [description, hostNetwork, dnsPolicy, expected] of cases) {
    it(description, () => {
      const pod: Pod = {
        metadata: { name: "test_pod", namespace: "testNS" },
        spec: { containers: [], hostNetwork, dnsPolicy },
      };
      if (expected === undefined)
        assert.throws(() => getPodDNSType(pod), { message: "invalid DNSPolicy=invalidPolicy" });
      else assert.equal(getPodDNSType(pod), expected);
    });
  }
});

// TestGetPodDNS
describe("getPodDNS", () => {
  const clusterNS = "203.0.113.1";
  const pods: Pod[] = ["ClusterFirstWithHostNet", "ClusterFirst", "ClusterFirst", "Default"].map(
    (dnsPolicy, i) => ({
      metadata: { uid: String(10000 + i), name: `pod${i}` },
      spec: { containers: [], hostNetwork: i !== 2, dnsPolicy },
    }),
  );

  it("without a resolv.conf: cluster DNS, or loopback and the root domain", () => {
    const dns: DNSSettings = { clusterDNS: [clusterNS], clusterDomain: "kubernetes.io", nodeIPs: [] };
    const [a, b, c, d] = pods.map((pod) => getPodDNS(pod, dns));
    assert.deepEqual(a?.servers, [clusterNS]);
    assert.equal(a?.searches?.[0], ".svc.kubernetes.io");
    assert.deepEqual(b?.servers, ["127.0.0.1"]);
    assert.deepEqual(b?.searches, ["."]);
    assert.deepEqual(c?.servers, [clusterNS]);
    assert.equal(c?.searches?.[0], ".svc.kubernetes.io");
    assert.deepEqual(d?.servers, ["127.0.0.1"]);
    assert.deepEqual(d?.searches, ["."]);
  });

  it("with a resolv.conf: the cluster domains before the host's", () => {
    const dns: DNSSettings = {
      clusterDNS: [clusterNS],
      clusterDomain: "kubernetes.io",
      resolvConf: "nameserver 10.0.0.2\nsearch a.example b.example\n",
      nodeIPs: [],
    };
    const [a, b, c] = pods.map((pod) => getPodDNS(pod, dns));
    const hostSearch = b?.searches ?? [];
    assert.deepEqual(hostSearch, ["a.example", "b.example"]);
    assert.deepEqual(a?.servers, [clusterNS]);
    assert.deepEqual(a?.searches, [
      ".svc.kubernetes.io",
      "svc.kubernetes.io",
      "kubernetes.io",
      ...hostSearch,
    ]);
    assert.deepEqual(c?.servers, [clusterNS]);
    assert.equal(c?.searches?.length, hostSearch.length + 3);
  });

  it("uses the loopback address of each node IP family without a resolv.conf", () => {
    const dns: DNSSettings = { clusterDNS: [], clusterDomain: "", nodeIPs: ["10.0.0.1", "fd00::1"] };
    assert.deepEqual(getPodDNS(pods[3] as Pod, dns).servers, ["127.0.0.1", "::1"]);
  });

  it("falls back from ClusterFirst to Default without cluster DNS, with a warning on node and pod", () => {
    const [events, record] = recorder();
    const pod: Pod = {
      metadata: { name: "web", namespace: "ns", uid: "u" },
      spec: { containers: [], dnsPolicy: "ClusterFirst" },
    };
    const config = getPodDNS(
      pod,
      {
        clusterDNS: [],
        clusterDomain: "cluster.local",
        resolvConf: "nameserver 8.8.8.8\nsearch lan\n",
        nodeIPs: [],
      },
      record,
    );
    assert.deepEqual(config, { servers: ["8.8.8.8"], searches: ["lan"], options: [] });
    const message =
      'kubelet does not have ClusterDNS IP configured and cannot create Pod using "ClusterFirst" policy. Falling back to "Default" policy.';
    assert.deepEqual(events, [
      { object: "Node", type: "Warning", reason: "MissingClusterDNS", message },
      {
        object: "Pod",
        type: "Warning",
        reason: "MissingClusterDNS",
        message: `pod: "web_ns(u)". ${message}`,
      },
    ]);
  });
});

// TestGetPodDNSCustom
describe("getPodDNS with a pod dnsConfig", () => {
  const dns: DNSSettings = {
    clusterDNS: ["10.0.0.10"],
    clusterDomain: "kubernetes.io",
    resolvConf: "nameserver 8.8.8.8\nsearch host.domain\n",
    nodeIPs: [],
  };
  const podDNSConfig = {
    nameservers: ["10.0.0.11"],
    searches: ["my.domain"],
    options: [{ name: "ndots", value: "3" }, { name: "debug" }],
  };
  const cases: [string, boolean, string, NonNullable<Pod["spec"]>["dnsConfig"], object][] = [
    [
      "DNSNone without DNSConfig should have empty DNS settings",
      false,
      "None",
      undefined,
      { servers: [], searches: [], options: [] },
    ],
    [
      "DNSNone with DNSConfig should have a merged DNS settings",
      false,
      "None",
      {
        nameservers: ["203.0.113.1"],
        searches: ["my.domain", "second.domain"],
        options: [{ name: "ndots", value: "3" }, { name: "debug" }],
      },
      { servers: ["203.0.113.1"], searches: ["my.domain", "second.domain"], options: ["ndots:3", "debug"] },
    ],
    [
      "DNSClusterFirst with DNSConfig should have a merged DNS settings",
      false,
      "ClusterFirst",
      podDNSConfig,
      {
        servers: ["10.0.0.10", "10.0.0.11"],
        searches: [
          "testNS.svc.kubernetes.io",
          "svc.kubernetes.io",
          "kubernetes.io",
          "host.domain",
          "my.domain",
        ],
        options: ["ndots:3", "debug"],
      },
    ],
    [
      "DNSClusterFirstWithHostNet with DNSConfig should have a merged DNS settings",
      true,
      "ClusterFirstWithHostNet",
      podDNSConfig,
      {
        servers: ["10.0.0.10", "10.0.0.11"],
        searches: [
          "testNS.svc.kubernetes.io",
          "svc.kubernetes.io",
          "kubernetes.io",
          "host.domain",
          "my.domain",
        ],
        options: ["ndots:3", "debug"],
      },
    ],
    [
      "DNSDefault with DNSConfig should have a merged DNS settings",
      false,
      "Default",
      podDNSConfig,
      {
        servers: ["8.8.8.8", "10.0.0.11"],
        searches: ["host.domain", "my.domain"],
        options: ["ndots:3", "debug"],
      },
    ],
  ];
  for (const [description, hostNetwork, dnsPolicy, dnsConfig, expected] of cases) {
    it(description, () => {
      const pod: Pod = {
        metadata: { name: "test_pod", namespace: "testNS" },
        spec: { containers: [], hostNetwork, dnsPolicy, ...(dnsConfig && { dnsConfig }) },
      };
      assert.deepEqual(getPodDNS(pod, dns), expected);
    });
  }
});
