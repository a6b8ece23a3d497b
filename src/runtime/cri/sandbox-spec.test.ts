import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  NamespaceMode,
  type PodSandboxConfig,
  PodSandboxConfigSchema,
} from "../../cri/gen/runtime/v1/api_pb.js";
import { kindOf } from "../../lib/errdefs.js";
import { oomScoreAdj as ownOomScoreAdj } from "../../shim/oom-score-adj.js";
import type { SandboxFiles } from "./sandbox-files.js";
import { type SandboxSpecInput, sandboxSpec } from "./sandbox-spec.js";

let root: string;
const files: SandboxFiles = {
  hostname: "/sb/hostname",
  hosts: "/sb/hosts",
  resolvConf: "/sb/resolv.conf",
  shm: "/sb/shm",
};
const pause = { Entrypoint: ["/pause"], Env: ["PATH=/bin", "X=1"], User: "65535:65535", WorkingDir: "/" };

before(async () => {
  root = await mkdtemp(join(tmpdir(), "berth-sandbox-spec-"));
});
after(() => rm(root, { recursive: true, force: true }));

function input(
  config: Exclude<MessageInitShape<typeof PodSandboxConfigSchema>, PodSandboxConfig>,
  over: Partial<SandboxSpecInput> = {},
) {
  return {
    id: "sb1",
    config: create(PodSandboxConfigSchema, { metadata: { name: "p", namespace: "ns", uid: "u" }, ...config }),
    imageConfig: pause,
    netnsPath: "/run/netns/x",
    files,
    cgroupsPath: "",
    restrictOomScoreAdj: false,
    withRootfs: <T>(fn: (r: string) => Promise<T>) => fn(root),
    ...over,
  };
}

test("the pause process runs read-only, as the image's user, with its env and the pod's files", async () => {
  const s = await sandboxSpec(input({ hostname: "h", logDirectory: "/logs" }));
  assert.deepEqual(s.process?.args, ["/pause"]);
  assert.deepEqual(s.process?.env, ["PATH=/bin", "X=1"]);
  assert.deepEqual(s.process?.user, { uid: 65535, gid: 65535, additionalGids: [65535] });
  assert.equal(s.process?.noNewPrivileges, true);
  assert.equal(s.process?.oomScoreAdj, -998);
  assert.deepEqual(s.root, { path: "rootfs", readonly: true });
  assert.equal(s.hostname, "h");
  assert.deepEqual(s.mounts?.slice(-2), [
    { destination: "/dev/shm", type: "bind", source: "/sb/shm", options: ["rbind", "ro"] },
    { destination: "/etc/resolv.conf", type: "bind", source: "/sb/resolv.conf", options: ["rbind", "ro"] },
  ]);
  assert.deepEqual(s.linux?.resources?.cpu, { shares: 2 });
  assert.equal(s.linux?.cgroupsPath, "/k8s.io/sb1");
  assert.deepEqual(
    s.linux?.namespaces?.find((n) => n.type === "network"),
    { type: "network", path: "/run/netns/x" },
  );
  assert.deepEqual(s.annotations, {
    "io.kubernetes.cri.container-type": "sandbox",
    "io.kubernetes.cri.sandbox-id": "sb1",
    "io.kubernetes.cri.sandbox-namespace": "ns",
    "io.kubernetes.cri.sandbox-uid": "u",
    "io.kubernetes.cri.sandbox-name": "p",
    "io.kubernetes.cri.sandbox-log-directory": "/logs",
  });
});

test("host network, pid and ipc leave those namespaces (and uts) to the host", async () => {
  const nodeNs = { network: NamespaceMode.NODE, pid: NamespaceMode.NODE, ipc: NamespaceMode.NODE };
  const s = await sandboxSpec(
    input(
      { linux: { securityContext: { namespaceOptions: nodeNs } } },
      { netnsPath: "", files: { ...files, shm: "" } },
    ),
  );
  assert.deepEqual(s.linux?.namespaces, [{ type: "mount" }]);
  assert.equal(s.mounts?.find((m) => m.type === "bind" && m.destination === "/dev/shm")?.source, "/dev/shm");
});

test("the oom_score_adj is raised to the runtime's own when restricted", async () => {
  const s = await sandboxSpec(input({}, { restrictOomScoreAdj: true }));
  assert.equal(s.process?.oomScoreAdj, Math.max(-998, await ownOomScoreAdj()));
});

test("sysctls, resource annotations, pod user and a lost supplemental group, as containerd", async () => {
  const s = await sandboxSpec(
    input({
      linux: {
        sysctls: { "kernel.shm_rmid_forced": "1" },
        resources: { cpuPeriod: 100000n, cpuQuota: 5000n, cpuShares: 10n, memoryLimitInBytes: 1024n },
        securityContext: { runAsUser: { value: 7n }, runAsGroup: { value: 8n }, supplementalGroups: [9n] },
      },
    }),
  );
  assert.deepEqual(s.linux?.sysctl, { "kernel.shm_rmid_forced": "1" });
  assert.equal(s.annotations?.["io.kubernetes.cri.sandbox-cpu-quota"], "5000");
  assert.equal(s.annotations?.["io.kubernetes.cri.sandbox-memory"], "1024");
  // containerd 1.6 applies the user after the supplemental groups, which it thereby drops.
  assert.deepEqual(s.process?.user, { uid: 7, gid: 8, additionalGids: [8] });
});

test("an image without entrypoint and cmd cannot be a pause image", async () => {
  const err = await sandboxSpec(input({}, { imageConfig: { Env: [] } })).catch((e) => e);
  assert.match(err.message, /invalid empty entrypoint and cmd in image config/);
  assert.equal(kindOf(err), "Unknown");
});
