import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseQuantity } from "../api/quantity.js";
import { featureGates } from "../features/features.js";
import type { NodeFacts } from "../kuberuntime/settings.js";
import {
  defaultKubeletConfiguration,
  kubeRuntimeSettings,
  loadKubeletConfiguration,
  parseKubeletConfiguration,
} from "./kubelet-configuration.js";

const header = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n";
const parse = (body: string, file = "/etc/berth/kubelet.yaml") =>
  parseKubeletConfiguration(header + body, file);

function rejects(body: string, pattern: RegExp) {
  assert.throws(
    () => parse(body),
    (err: Error & { kind?: string }) => {
      assert.equal(err.kind, "InvalidArgument");
      assert.match(err.message, /^kubelet config \/etc\/berth\/kubelet\.yaml: /);
      assert.match(err.message, pattern);
      return true;
    },
  );
}

describe("KubeletConfiguration defaults", () => {
  // SetDefaults_KubeletConfiguration (pkg/kubelet/apis/config/v1beta1/defaults.go, 1.28).
  it("are kubelet 1.28's, with berth's runtime endpoint and root dir", () => {
    const c = defaultKubeletConfiguration();
    assert.equal(c.syncFrequency, 60_000);
    assert.equal(c.fileCheckFrequency, 20_000);
    assert.equal(c.address, "127.0.0.1", "berth serves on loopback only");
    assert.equal(c.port, 10250);
    assert.equal(c.readOnlyPort, 0);
    assert.equal(c.healthzPort, 10248);
    assert.equal(c.healthzBindAddress, "127.0.0.1");
    assert.equal(c.registryPullQPS, 5);
    assert.equal(c.registryBurst, 10);
    assert.equal(c.serializeImagePulls, true);
    assert.deepEqual(c.evictionHard, { "memory.available": { quantity: parseQuantity("100Mi") } });
    assert.equal(c.imageMinimumGCAge, 120_000);
    assert.equal(c.imageGCHighThresholdPercent, 85);
    assert.equal(c.imageGCLowThresholdPercent, 80);
    assert.equal(c.resolvConf, "/etc/resolv.conf");
    assert.equal(c.nodeStatusUpdateFrequency, 10_000);
    assert.equal(c.runtimeRequestTimeout, 120_000);
    assert.equal(c.hairpinMode, "promiscuous-bridge");
    assert.equal(c.maxPods, 110);
    assert.equal(c.podPidsLimit, -1);
    assert.equal(c.cgroupsPerQOS, true);
    assert.equal(c.cgroupDriver, "cgroupfs");
    assert.equal(c.cpuCFSQuota, true);
    assert.equal(c.cpuCFSQuotaPeriod, 100);
    assert.equal(c.memoryThrottlingFactor, 0.9);
    assert.deepEqual(c.enforceNodeAllocatable, ["pods"]);
    assert.equal(c.containerLogMaxSize, 10 * 1024 * 1024);
    assert.equal(c.containerLogMaxFiles, 5);
    assert.equal(c.containerLogMonitorInterval, 10_000);
    assert.equal(c.seccompDefault, false);
    assert.equal(c.containerRuntimeEndpoint, "unix:///run/berth/berth.sock");
    assert.equal(c.podLogsDir, "/var/log/pods");
    assert.equal(c.rootDir, "/var/lib/kubelet");
    assert.deepEqual(c.featureGates, featureGates());
  });

  it("keeps a default where the file writes a zero that upstream treats as unset", () => {
    const { config } = parse(
      'syncFrequency: "0s"\nmaxPods: 0\nport: 0\npodPidsLimit: -7\nregistryPullQPS: 0\n',
    );
    assert.equal(config.syncFrequency, 60_000);
    assert.equal(config.maxPods, 110);
    assert.equal(config.port, 10250);
    assert.equal(config.podPidsLimit, -1);
    // A pointer field upstream: zero is a value.
    assert.equal(config.registryPullQPS, 0);
  });
});

describe("parseKubeletConfiguration", () => {
  it("reads every field berth supports", () => {
    const { config, warnings } = parse(`
staticPodPath: manifests
containerRuntimeEndpoint: unix:///run/berth/test.sock
imageServiceEndpoint: /run/berth/images.sock
cgroupDriver: cgroupfs
cgroupRoot: /berth
cgroupsPerQOS: true
cpuCFSQuota: false
cpuCFSQuotaPeriod: 50ms
memorySwap:
  swapBehavior: LimitedSwap
memoryThrottlingFactor: 0.8
featureGates:
  CustomCPUCFSQuotaPeriod: true
  NodeSwap: true
maxPods: 20
podPidsLimit: 1024
kubeReserved: {cpu: 100m, memory: 256Mi}
systemReserved:
  memory: 128Mi
  pid: "100"
enforceNodeAllocatable: [pods]
evictionHard:
  memory.available: 5%
  nodefs.available: 10%
imageGCHighThresholdPercent: 90
imageGCLowThresholdPercent: 70
imageMinimumGCAge: 5m
containerLogMaxSize: 5Mi
containerLogMaxFiles: 3
containerLogMonitorInterval: 3s
runtimeRequestTimeout: 1m30s
syncFrequency: 30s
fileCheckFrequency: 5s
nodeStatusUpdateFrequency: 20s
clusterDNS: [10.96.0.10, "fd00::a"]
clusterDomain: cluster.local
resolvConf: ""
seccompDefault: true
serializeImagePulls: false
registryPullQPS: 10
healthzPort: 0
healthzBindAddress: 0.0.0.0
port: 10260
readOnlyPort: 10255
address: 127.0.0.1
podLogsDir: /var/log/berth-pods
hairpinMode: hairpin-veth
`);
    assert.deepEqual(warnings, []);
    assert.equal(config.staticPodPath, "/etc/berth/manifests", "relative to the file's directory");
    assert.equal(config.containerRuntimeEndpoint, "unix:///run/berth/test.sock");
    assert.equal(config.imageServiceEndpoint, "/run/berth/images.sock");
    assert.equal(config.cgroupRoot, "/berth");
    assert.equal(config.cpuCFSQuota, false);
    assert.equal(config.cpuCFSQuotaPeriod, 50);
    assert.deepEqual(config.memorySwap, { swapBehavior: "LimitedSwap" });
    assert.equal(config.memoryThrottlingFactor, 0.8);
    assert.equal(config.featureGates.CustomCPUCFSQuotaPeriod, true);
    assert.equal(config.featureGates.NodeSwap, true);
    assert.equal(config.featureGates.SeccompDefault, true, "gates not named keep their defaults");
    assert.equal(config.maxPods, 20);
    assert.equal(config.podPidsLimit, 1024);
    assert.deepEqual(config.kubeReserved, { cpu: parseQuantity("100m"), memory: parseQuantity("256Mi") });
    assert.deepEqual(config.systemReserved, { memory: parseQuantity("128Mi"), pid: parseQuantity("100") });
    assert.deepEqual(config.evictionHard, { "memory.available": { percentage: 5 } });
    assert.equal(config.imageGCHighThresholdPercent, 90);
    assert.equal(config.imageGCLowThresholdPercent, 70);
    assert.equal(config.imageMinimumGCAge, 300_000);
    assert.equal(config.containerLogMaxSize, 5 * 1024 * 1024);
    assert.equal(config.containerLogMaxFiles, 3);
    assert.equal(config.containerLogMonitorInterval, 3_000);
    assert.equal(config.runtimeRequestTimeout, 90_000);
    assert.equal(config.syncFrequency, 30_000);
    assert.equal(config.fileCheckFrequency, 5_000);
    assert.equal(config.nodeStatusUpdateFrequency, 20_000);
    assert.deepEqual(config.clusterDNS, ["10.96.0.10", "fd00::a"]);
    assert.equal(config.clusterDomain, "cluster.local");
    assert.equal(config.resolvConf, "", "an empty resolvConf means no host resolver");
    assert.equal(config.seccompDefault, true);
    assert.equal(config.serializeImagePulls, false);
    assert.equal(config.registryPullQPS, 10);
    assert.equal(config.healthzPort, 0);
    assert.equal(config.healthzBindAddress, "0.0.0.0");
    assert.equal(config.port, 10260);
    assert.equal(config.readOnlyPort, 10255);
    assert.equal(config.address, "127.0.0.1");
    assert.equal(config.podLogsDir, "/var/log/berth-pods");
    assert.equal(config.hairpinMode, "hairpin-veth");
  });

  it("reads JSON too, and resolves a relative resolvConf against the file", () => {
    const text = JSON.stringify({
      apiVersion: "kubelet.config.k8s.io/v1beta1",
      kind: "KubeletConfiguration",
      resolvConf: "resolv.conf",
      staticPodPath: "/abs/manifests",
    });
    const { config } = parseKubeletConfiguration(text, "conf/kubelet.json");
    assert.equal(config.resolvConf, join(process.cwd(), "conf/resolv.conf"));
    assert.equal(config.staticPodPath, "/abs/manifests");
  });

  it("warns, as the lenient decoder does, about fields it does not read and about duplicates", () => {
    const { config, warnings } = parse(
      "authentication:\n  anonymous: {enabled: false}\ntlsCertFile: /x\nmaxPods: 10\nmaxPods: 12\nmemorySwap: {swapBehavior: '', extra: 1}\n",
    );
    assert.equal(config.maxPods, 12, "the last duplicate wins");
    assert.equal(warnings.length, 2);
    assert.match(warnings[0] ?? "", /line 7, column 1: duplicate field maxPods: the last one is used/);
    assert.equal(
      warnings[1],
      "kubelet config /etc/berth/kubelet.yaml: fields berth does not read, ignored: authentication, tlsCertFile, memorySwap.extra",
    );
  });

  it("sets serializeImagePulls false when only maxParallelImagePulls allows parallel pulls", () => {
    assert.equal(parse("maxParallelImagePulls: 3\n").config.serializeImagePulls, false);
    assert.equal(parse("maxParallelImagePulls: 1\n").config.serializeImagePulls, true);
    rejects(
      "maxParallelImagePulls: 3\nserializeImagePulls: true\n",
      /cannot be larger than 1 unless serializeImagePulls/,
    );
  });

  it("keeps only the evictionHard signals given, as 1.28 does", () => {
    assert.deepEqual(parse("evictionHard:\n  nodefs.available: 10%\n").config.evictionHard, {});
    assert.deepEqual(
      parse("evictionHard:\n  memory.available: 0%\n").config.evictionHard,
      {},
      "zero disables",
    );
    assert.deepEqual(parse("evictionHard:\n  memory.available: 200Mi\n").config.evictionHard, {
      "memory.available": { quantity: parseQuantity("200Mi") },
    });
  });

  // ValidateKubeletConfiguration (validation.go) and the kubelet's other start-up checks.
  const bad: [string, string, RegExp][] = [
    [
      "systemd driver",
      "cgroupDriver: systemd\n",
      /cgroupDriver: "systemd" is not supported: berth runs without systemd/,
    ],
    ["unknown driver", "cgroupDriver: cgroupfs2\n", /cgroupDriver: want one of "cgroupfs", got "cgroupfs2"/],
    [
      "custom CFS period without the gate",
      "cpuCFSQuotaPeriod: 50ms\n",
      /cpuCFSQuotaPeriod: 50ms requires feature gate CustomCPUCFSQuotaPeriod/,
    ],
    [
      "CFS period out of range",
      "featureGates: {CustomCPUCFSQuotaPeriod: true}\ncpuCFSQuotaPeriod: 2s\n",
      /must be between 1ms and 1sec/,
    ],
    [
      "duration without unit",
      "syncFrequency: 30\n",
      /syncFrequency: want a duration such as "100ms", "20s" or "1m", got 30/,
    ],
    ["bad duration", "syncFrequency: soon\n", /syncFrequency: want a duration/],
    [
      "GC thresholds crossed",
      "imageGCHighThresholdPercent: 50\nimageGCLowThresholdPercent: 60\n",
      /imageGCLowThresholdPercent: 60 must be less than imageGCHighThresholdPercent 50/,
    ],
    [
      "GC threshold over 100",
      "imageGCHighThresholdPercent: 101\n",
      /imageGCHighThresholdPercent: 101 must be between 0 and 100/,
    ],
    [
      "swap without NodeSwap",
      "memorySwap: {swapBehavior: LimitedSwap}\n",
      /memorySwap.swapBehavior: cannot be set when NodeSwap feature flag is disabled/,
    ],
    [
      "unknown swap behavior",
      "featureGates: {NodeSwap: true}\nmemorySwap: {swapBehavior: Lots}\n",
      /must be one of: "", "LimitedSwap", or "UnlimitedSwap"/,
    ],
    [
      "throttling factor",
      "memoryThrottlingFactor: 1.5\n",
      /memoryThrottlingFactor: 1.5 must be greater than 0 and less than or equal to 1.0/,
    ],
    [
      "unknown feature gate",
      "featureGates: {NoSuchGate: true}\n",
      /featureGates: unrecognized feature gate: NoSuchGate/,
    ],
    [
      "feature gate not a boolean",
      "featureGates: {NodeSwap: 'true'}\n",
      /featureGates: want a map of feature gate name to true or false/,
    ],
    ["reserved GPU", "kubeReserved: {nvidia.com/gpu: 1}\n", /kubeReserved: cannot reserve "nvidia.com\/gpu"/],
    [
      "negative reservation",
      "systemReserved: {memory: -1Gi}\n",
      /systemReserved: resource quantity for "memory" cannot be negative/,
    ],
    [
      "bad quantity",
      "kubeReserved: {memory: lots}\n",
      /kubeReserved: want a quantity \(invalid quantity "lots"/,
    ],
    [
      "enforcement without QoS cgroups",
      "cgroupsPerQOS: false\n",
      /enforceNodeAllocatable: is not supported unless cgroupsPerQOS is set to true/,
    ],
    ["enforcement unknown", "enforceNodeAllocatable: [everything]\n", /option "everything" is not valid/],
    [
      "kube-reserved without its cgroup",
      "enforceNodeAllocatable: [pods, kube-reserved]\n",
      /kubeReservedCgroup: must be specified/,
    ],
    [
      "none with others",
      "enforceNodeAllocatable: [none, pods]\n",
      /may not contain additional enforcements when "none"/,
    ],
    [
      "unknown eviction signal",
      "evictionHard: {disk.available: 1Gi}\n",
      /evictionHard: unknown eviction signal "disk.available"/,
    ],
    ["eviction percentage", "evictionHard: {memory.available: 120%}\n", /must be between 0% and 100%: 120%/],
    [
      "eviction zero quantity",
      "evictionHard: {memory.available: '0'}\n",
      /eviction threshold memory.available must be positive/,
    ],
    ["port", "port: 70000\n", /port: 70000 must be between 1 and 65535/],
    ["healthz port", "healthzPort: -1\n", /healthzPort: -1 must be between 1 and 65535/],
    ["address", "address: localhost\n", /address: want an IP address, got "localhost"/],
    [
      "read-only port off loopback",
      "readOnlyPort: 10255\naddress: 0.0.0.0\n",
      /address: "0.0.0.0" is not a loopback address; berth's kubelet has no authentication/,
    ],
    [
      "healthz off loopback",
      "healthzBindAddress: 10.0.0.1\n",
      /healthzBindAddress: "10.0.0.1" is not a loopback/,
    ],
    ["cluster DNS", "clusterDNS: [10.96.0.300]\n", /clusterDNS: want an IP address, got "10.96.0.300"/],
    [
      "endpoint",
      "containerRuntimeEndpoint: tcp://localhost:1234\n",
      /containerRuntimeEndpoint: want a unix:\/\/ endpoint/,
    ],
    ["log files", "containerLogMaxFiles: 1\n", /containerLogMaxFiles: 1 must be greater than 1/],
    ["log size", "containerLogMaxSize: 0\n", /containerLogMaxSize: must be positive/],
    [
      "log monitor interval",
      "containerLogMonitorInterval: 2s\n",
      /containerLogMonitorInterval: must be a positive time duration greater than or equal to 3s/,
    ],
    [
      "pod logs dir",
      "podLogsDir: logs/pods\n",
      /podLogsDir: "logs\/pods" must be an absolute, normalized path/,
    ],
    ["cgroup root", "cgroupRoot: berth\n", /cgroupRoot: want an absolute cgroup path/],
    ["type", "maxPods: many\n", /maxPods: want an integer, got "many"/],
    ["boolean", "cgroupsPerQOS: 1\n", /cgroupsPerQOS: want true or false, got 1/],
  ];
  for (const [name, body, pattern] of bad) {
    it(`refuses ${name}, naming the file and the field`, () => rejects(body, pattern));
  }

  it("reports every bad field at once", () => {
    rejects(
      "maxPods: many\nport: x\n",
      /maxPods: want an integer, got "many"; port: want an integer, got "x"/,
    );
  });

  it("refuses another kind, a YAML error (with its position) and a non-object", () => {
    assert.throws(
      () => parseKubeletConfiguration("apiVersion: v1\nkind: Pod\n", "k.yaml"),
      /kubelet config k.yaml: want apiVersion kubelet.config.k8s.io\/v1beta1 and kind KubeletConfiguration, got apiVersion "v1" and kind "Pod"/,
    );
    assert.throws(
      () => parseKubeletConfiguration(`${header}featureGates: {a: true\n`, "k.yaml"),
      /kubelet config k.yaml: line \d+, column \d+: /,
    );
    assert.throws(
      () => parseKubeletConfiguration("", "k.yaml"),
      /want a KubeletConfiguration object, got null/,
    );
  });
});

describe("loadKubeletConfiguration", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-kubelet-config-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reads the file and applies the root dir flag", async () => {
    const path = join(dir, "kubelet.yaml");
    await writeFile(path, `${header}staticPodPath: manifests\nfoo: 1\n`);
    const loaded = await loadKubeletConfiguration(path, { rootDir: "rel/root" });
    assert.equal(loaded.path, path);
    assert.equal(loaded.config.staticPodPath, join(dir, "manifests"));
    assert.equal(loaded.config.rootDir, join(process.cwd(), "rel/root"));
    assert.deepEqual(loaded.warnings, [`kubelet config ${path}: fields berth does not read, ignored: foo`]);
  });

  it("gives the defaults without a file, and names a missing file", async () => {
    const loaded = await loadKubeletConfiguration();
    assert.deepEqual(loaded.config, defaultKubeletConfiguration());
    await assert.rejects(
      loadKubeletConfiguration(join(dir, "absent.yaml")),
      /kubelet config .*absent.yaml: no such file/,
    );
  });
});

describe("kubeRuntimeSettings", () => {
  it("hands the generators the configuration's values and the node's facts", () => {
    const node: NodeFacts = {
      nodeName: "node-1",
      cgroupVersion: "v1",
      memoryCapacityBytes: 4n << 30n,
      swapCapacityBytes: 0n,
      hugePageSizes: ["2Mi"],
      pageSizeBytes: 4096,
      swapControllerAvailable: false,
    };
    const { config } = parse(
      "featureGates: {CustomCPUCFSQuotaPeriod: true}\ncpuCFSQuotaPeriod: 1500us\ncpuCFSQuota: false\nseccompDefault: true\nmemoryThrottlingFactor: 0.7\npodLogsDir: /logs\n",
    );
    assert.deepEqual(kubeRuntimeSettings(config, node), {
      cpuCFSQuota: false,
      cpuCFSQuotaPeriodUs: 1500,
      memorySwapBehavior: "",
      memoryThrottlingFactor: 0.7,
      seccompDefault: true,
      podLogsRootDirectory: "/logs",
      featureGates: config.featureGates,
      node,
    });
  });
});
