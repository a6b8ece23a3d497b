import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { kindOf } from "../../lib/errdefs.js";
import { parseResourceList } from "../api/resources.js";
import type { NodeCapacity } from "../cm/node-facts.js";
import { decodeStaticPods } from "../config/file-source.js";
import { defaultKubeletConfiguration, type KubeletConfiguration } from "../config/kubelet-configuration.js";
import type { NodeFacts } from "../kuberuntime/settings.js";
import { type ExplainInput, explainPod, explanationJson, terminationMessageId } from "./explain.js";
import { formatWalk } from "./walk.js";

const file = "/etc/kubernetes/manifests/pod.yaml";
const node: NodeFacts = {
  nodeName: "node1",
  cgroupVersion: "v1",
  memoryCapacityBytes: 8n << 30n,
  swapCapacityBytes: 0n,
  hugePageSizes: ["2Mi"],
  pageSizeBytes: 4096,
  swapControllerAvailable: false,
};
const machine: NodeCapacity = {
  cpuCores: 4,
  memoryBytes: 8n << 30n,
  hugePages: [{ pageSize: "2Mi", totalBytes: 0n }],
  ephemeralStorageBytes: 100n << 30n,
  maxPids: 4194304n,
};

function config(change: Partial<KubeletConfiguration> = {}): KubeletConfiguration {
  return { ...defaultKubeletConfiguration(), cgroupRoot: "/berth", podLogsDir: "/var/log/pods", ...change };
}

function input(manifest: string, change: Partial<ExplainInput> = {}): ExplainInput {
  return {
    manifest,
    file,
    config: config(),
    node,
    machine,
    hugetlb: true,
    files: {
      hostIPs: ["192.0.2.10"],
      nodeEtcHosts: "127.0.0.1 localhost\n",
      resolvConf: "nameserver 192.0.2.53\nsearch example.com\n",
    },
    imageUser: { uid: 0n, username: "" },
    now: new Date("2024-05-01T10:00:00Z"),
    ...change,
  };
}

/** A one-container pod manifest with the given resources. */
function manifest(name: string, requests: Record<string, string>, limits: Record<string, string>): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name },
    spec: {
      containers: [
        { name: "app", image: "busybox", command: ["sleep", "60"], resources: { requests, limits } },
      ],
    },
  });
}

const guaranteed = manifest("g", { cpu: "500m", memory: "128Mi" }, { cpu: "500m", memory: "128Mi" });
// Limits alone: SetDefaults_Pod makes them the requests too, so the pod is Guaranteed.
const limitsOnly = manifest("l", {}, { cpu: "500m", memory: "128Mi" });
const burstable = manifest("b", { cpu: "250m", memory: "64Mi" }, { cpu: "1" });
const bestEffort = manifest("e", {}, {});
const hugetlb2MB = { "hugetlb.2MB.limit_in_bytes": "0", "hugetlb.2MB.rsvd.limit_in_bytes": "0" };

describe("explainPod: the static pod", () => {
  it("is the file source's pod: node-suffixed name, the same hashed UID, PodConfig's annotations", () => {
    const e = explainPod(input(guaranteed));
    const [fromSource] = decodeStaticPods(guaranteed, file, "node1").pods;
    assert.equal(e.pod.metadata?.name, "g-node1");
    assert.equal(e.pod.metadata?.namespace, "default");
    assert.equal(e.pod.metadata?.uid, fromSource?.metadata?.uid);
    assert.match(e.pod.metadata?.uid ?? "", /^[0-9a-f]{32}$/);
    assert.deepEqual(e.pod.metadata?.annotations, {
      "kubernetes.io/config.hash": fromSource?.metadata?.uid,
      "kubernetes.io/config.source": "file",
      "kubernetes.io/config.seen": "2024-05-01T10:00:00Z",
    });
    // Another path or node is another pod.
    assert.notEqual(
      explainPod(input(guaranteed, { file: "/other.yaml" })).pod.metadata?.uid,
      e.pod.metadata?.uid,
    );
  });

  it("fails with the file source's validation errors", () => {
    const bad = JSON.stringify({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "x" },
      spec: { containers: [{ name: "c" }] },
    });
    const expected = decodeStaticPods(bad, file, "node1").errors;
    assert.ok(expected.length > 0);
    assert.throws(
      () => explainPod(input(bad)),
      (err: Error) => kindOf(err) === "InvalidArgument" && expected.every((m) => err.message.includes(m)),
    );
  });

  it("takes one pod", () => {
    const list = JSON.stringify({
      apiVersion: "v1",
      kind: "PodList",
      items: [JSON.parse(guaranteed), { ...JSON.parse(bestEffort) }],
    });
    assert.throws(() => explainPod(input(list)), /holds 2 pods; berth explain takes one/);
  });
});

describe("explainPod: QoS classes and cgroups (cgroup v1)", () => {
  it("Guaranteed: pod cgroup in kubepods, which holds the node allocatable values", () => {
    const e = explainPod(input(guaranteed));
    const uid = e.pod.metadata?.uid;
    assert.equal(e.qosClass, "Guaranteed");
    assert.equal(e.cgroups?.pod.path, `/berth/kubepods/pod${uid}`);
    assert.deepEqual(e.cgroups?.pod.files, {
      "memory.limit_in_bytes": "134217728",
      "cpu.shares": "512",
      "cpu.cfs_period_us": "100000",
      "cpu.cfs_quota_us": "50000",
      ...hugetlb2MB,
    });
    assert.equal(e.cgroups?.qos.path, "/berth/kubepods");
    // 4 CPUs and 8Gi with nothing reserved; hugetlb as UpdateCgroups leaves the tiers: unbounded.
    assert.deepEqual(e.cgroups?.qos.files, {
      "memory.limit_in_bytes": `${8n << 30n}`,
      "cpu.shares": "4096",
      "pids.max": "4194304",
      "hugetlb.2MB.limit_in_bytes": `${1n << 62n}`,
      "hugetlb.2MB.rsvd.limit_in_bytes": `${1n << 62n}`,
    });
    assert.equal(e.podSandboxConfig.linux?.cgroupParent, e.cgroups?.pod.path);

    const [app] = e.containers;
    const r = app?.config?.linux?.resources;
    assert.equal(r?.cpuShares, 512n);
    assert.equal(r?.cpuQuota, 50000n);
    assert.equal(r?.cpuPeriod, 100000n);
    assert.equal(r?.memoryLimitInBytes, 128n << 20n);
    assert.equal(r?.oomScoreAdj, -997n);
    assert.deepEqual(
      r?.hugepageLimits.map((h) => [h.pageSize, h.limit]),
      [["2MB", 0n]],
    );
    assert.deepEqual(app?.cgroupFiles, {
      "memory.limit_in_bytes": "134217728",
      "cpu.shares": "512",
      "cpu.cfs_period_us": "100000",
      "cpu.cfs_quota_us": "50000",
      ...hugetlb2MB,
    });
  });

  it("limits without requests are requests too (SetDefaults_Pod)", () => {
    const e = explainPod(input(limitsOnly));
    assert.equal(e.qosClass, "Guaranteed");
    assert.equal(e.cgroups?.pod.files["cpu.shares"], "512");
  });

  it("Burstable: the burstable tier's shares from this pod's requests; no pod memory limit without one", () => {
    const e = explainPod(input(burstable));
    const uid = e.pod.metadata?.uid;
    assert.equal(e.qosClass, "Burstable");
    assert.equal(e.cgroups?.pod.path, `/berth/kubepods/burstable/pod${uid}`);
    assert.deepEqual(e.cgroups?.pod.files, {
      "cpu.shares": "256",
      "cpu.cfs_period_us": "100000",
      "cpu.cfs_quota_us": "100000",
      ...hugetlb2MB,
    });
    assert.equal(e.cgroups?.qos.path, "/berth/kubepods/burstable");
    assert.equal(e.cgroups?.qos.files["cpu.shares"], "256");
    assert.match(e.cgroups?.qos.note ?? "", /every Burstable pod/);
    const r = e.containers[0]?.config?.linux?.resources;
    // 1000 - 1000 × 64Mi / 8Gi, in integers.
    assert.equal(r?.oomScoreAdj, 993n);
    assert.equal(r?.cpuShares, 256n);
    assert.equal(r?.cpuQuota, 100000n);
    assert.equal(r?.memoryLimitInBytes, 0n);
    assert.equal(e.containers[0]?.cgroupFiles?.["memory.limit_in_bytes"], undefined);
  });

  it("BestEffort: minimum shares everywhere, no quota or memory written", () => {
    const e = explainPod(input(bestEffort));
    assert.equal(e.qosClass, "BestEffort");
    assert.equal(e.cgroups?.pod.path, `/berth/kubepods/besteffort/pod${e.pod.metadata?.uid}`);
    assert.deepEqual(e.cgroups?.pod.files, { "cpu.shares": "2", ...hugetlb2MB });
    assert.equal(e.cgroups?.qos.path, "/berth/kubepods/besteffort");
    assert.equal(e.cgroups?.qos.files["cpu.shares"], "2");
    const app = e.containers[0];
    assert.equal(app?.config?.linux?.resources?.oomScoreAdj, 1000n);
    assert.deepEqual(app?.cgroupFiles, { "cpu.shares": "2", "cpu.cfs_period_us": "100000", ...hugetlb2MB });
  });

  it("kube-reserved and podPidsLimit change kubepods and the pod cgroup", () => {
    const c = config({ podPidsLimit: 100, kubeReserved: parseResourceList({ cpu: "1" }) });
    const e = explainPod(input(guaranteed, { config: c, hugetlb: false }));
    assert.equal(e.cgroups?.qos.files["cpu.shares"], "3072");
    assert.equal(e.cgroups?.pod.files["pids.max"], "100");
    assert.equal(e.cgroups?.pod.files["hugetlb.2MB.limit_in_bytes"], undefined);
  });

  it("no QoS cgroups: no pod cgroup and no cgroup parent", () => {
    const e = explainPod(input(guaranteed, { config: config({ cgroupsPerQOS: false }) }));
    assert.equal(e.cgroups, undefined);
    assert.equal(e.podSandboxConfig.linux?.cgroupParent, "");
    assert.ok(e.notes.some((n) => n.includes("cgroupsPerQOS is off")));
  });
});

describe("explainPod: cgroup v2", () => {
  it("writes cpu.weight, cpu.max and memory.max; containers are OOM-killed as a group", () => {
    const e = explainPod(input(guaranteed, { node: { ...node, cgroupVersion: "v2" } }));
    assert.deepEqual(e.cgroups?.pod.files, {
      "memory.max": "134217728",
      // 1 + (512 - 2) × 9999 / 262142
      "cpu.weight": "20",
      "cpu.max": "50000 100000",
      "hugetlb.2MB.max": "0",
      "hugetlb.2MB.rsvd.max": "0",
    });
    assert.equal(e.containers[0]?.cgroupFiles?.["memory.oom.group"], "1");
    assert.equal(e.containers[0]?.cgroupFiles?.["cpu.max"], "50000 100000");
  });
});

describe("explainPod: sandbox and container configs", () => {
  it("sends the sandbox config generatePodSandboxConfig makes, with the host's resolver", () => {
    const e = explainPod(input(guaranteed));
    const s = e.podSandboxConfig;
    assert.deepEqual(s.metadata, {
      $typeName: "runtime.v1.PodSandboxMetadata",
      name: "g-node1",
      namespace: "default",
      uid: e.pod.metadata?.uid,
      attempt: 0,
    });
    assert.equal(s.hostname, "g-node1");
    assert.equal(s.logDirectory, `/var/log/pods/default_g-node1_${e.pod.metadata?.uid}`);
    assert.deepEqual(s.dnsConfig?.servers, ["192.0.2.53"]);
    assert.deepEqual(s.dnsConfig?.searches, ["example.com"]);
    // ClusterFirst without cluster DNS falls back to the host's, with upstream's two events.
    assert.deepEqual(
      e.events.map((ev) => [ev.object, ev.reason]),
      [
        ["Node", "MissingClusterDNS"],
        ["Pod", "MissingClusterDNS"],
      ],
    );
    assert.deepEqual(e.podActions.containersToStart, [0]);
    assert.equal(e.podActions.createSandbox, true);
  });

  it("makes every init and regular container's config, the first init container starting first", () => {
    const pod = JSON.stringify({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "w" },
      spec: {
        initContainers: [{ name: "init", image: "busybox" }],
        containers: [
          {
            name: "app",
            image: "busybox",
            env: [{ name: "NODE", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } }],
            volumeMounts: [{ name: "data", mountPath: "/data" }],
          },
        ],
        volumes: [{ name: "data", emptyDir: {} }],
      },
    });
    const e = explainPod(input(pod));
    const uid = e.pod.metadata?.uid;
    assert.equal(e.podActions.nextInitContainerToStart?.name, "init");
    assert.deepEqual(e.podActions.containersToStart, []);
    assert.deepEqual(
      e.initContainers.map((c) => c.name),
      ["init"],
    );
    const app = e.containers[0]?.config;
    assert.deepEqual(
      app?.envs.map((v) => [v.key, v.value]),
      [["NODE", "node1"]],
    );
    assert.deepEqual(
      app?.mounts.map((m) => [m.containerPath, m.hostPath]),
      [
        ["/data", `/var/lib/kubelet/pods/${uid}/volumes/kubernetes.io~empty-dir/data`],
        ["/dev/termination-log", `/var/lib/kubelet/pods/${uid}/containers/app/${terminationMessageId}`],
      ],
    );
    assert.equal(app?.image?.image, "busybox");
    assert.equal(app?.logPath, "app/0.log");
  });

  it("a runAsNonRoot container fails as CreateContainerConfigError unless the image's user is not root", () => {
    const pod = JSON.stringify({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "nr" },
      spec: { securityContext: { runAsNonRoot: true }, containers: [{ name: "app", image: "busybox" }] },
    });
    const asRoot = explainPod(input(pod)).containers[0];
    assert.match(
      asRoot?.error ?? "",
      /^CreateContainerConfigError: container has runAsNonRoot and image will run as root/,
    );
    const asUser = explainPod(input(pod, { imageUser: { uid: 1000n, username: "" } })).containers[0];
    assert.equal(asUser?.error, undefined);
    assert.equal(asUser?.config?.linux?.securityContext?.runAsUser?.value, 1000n);
  });
});

describe("explanationJson", () => {
  it("prints CRI messages in proto3 JSON, integers as strings, cgroups with their files", () => {
    const doc = explanationJson(explainPod(input(burstable))) as Record<string, unknown>;
    assert.deepEqual(Object.keys(doc), [
      "qosClass",
      "podActions",
      "podSandboxConfig",
      "initContainers",
      "containers",
      "cgroups",
      "events",
      "notes",
    ]);
    assert.equal(doc.qosClass, "Burstable");
    const [app] = doc.containers as {
      name: string;
      config: { linux: { resources: Record<string, unknown> } };
    }[];
    assert.equal(app?.name, "app");
    assert.equal(app?.config.linux.resources.cpuShares, "256");
    assert.equal(app?.config.linux.resources.oomScoreAdj, "993");
    const cgroups = doc.cgroups as { pod: { resources: Record<string, unknown> }; qos: { path: string } };
    assert.equal(cgroups.pod.resources.cpuShares, "256");
    assert.equal(cgroups.qos.path, "/berth/kubepods/burstable");
    assert.deepEqual((doc.podActions as { containersToStart: string[] }).containersToStart, ["app"]);
  });
});

describe("formatWalk", () => {
  it("walks the seed's steps in order, each named after its upstream function", () => {
    const text = formatWalk(explainPod(input(burstable)), {
      file: "pod.yaml",
      nodeSource: "test facts",
      configSource: "kubelet defaults",
    });
    const steps = [
      "getPodQOS → Burstable",
      "SyncPod step 1: computePodActions",
      "qosContainerManager.UpdateCgroups → /berth/kubepods/burstable",
      "podContainerManager.EnsureExists → ResourceConfigForPod",
      "SyncPod step 4: createPodSandbox → generatePodSandboxConfig",
      'SyncPod step 8: startContainer(container "app") → generateContainerConfig',
      "generateLinuxContainerResources → calculateLinuxResources",
      "oomScoreAdj = 993: GetContainerOOMScoreAdjust",
    ];
    let at = 0;
    for (const step of steps) {
      const found = text.indexOf(step, at);
      assert.ok(found >= at, `${step} missing or out of order in:\n${text}`);
      at = found;
    }
    assert.match(text, /image user: unknown without a runtime \(ImageStatus\), assumed root \(uid 0\)/);
    assert.match(text, /runs as: uid 0/);
    assert.match(text, /cpuQuota 100000 = MilliCPUToQuota\(pod CPU limits 1000m, period 100000\)/);
  });
});
