// `berth explain` against the real kubelet: a Guaranteed, a Burstable and a BestEffort static pod are
// explained (bin/berth explain -o json, with the kubelet's own config, node name and root dir), then
// run by `berth kubelet` on containerd 1.6.20 and on `berth runtime`. What explain predicted must be
// what the node got: the cgroup files inside each running container (read through CRI ExecSync), its
// oom_score_adj and cgroup path, the pod and QoS cgroup files on the host, and the sandbox's and
// container's metadata, labels and annotations as the runtime reports them.

import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.js";
import { ContainerState, PodSandboxState } from "../src/cri/gen/runtime/v1/api_pb.js";
import type { RuntimeServiceClient } from "../src/cri/remote-runtime.js";
import { detectNodeFacts } from "../src/kubelet/cm/node-facts.js";
import { hasCapSysResource } from "../src/runtime/cri/config.js";
import { type BerthKubelet, startBerthKubelet } from "../src/testenv/kubelet.js";
import { type RegistryWithTestImages, startRegistryWithTestImages } from "../src/testenv/registry.js";
import { berthOk } from "./support/berth-cli.js";
import { type CriRuntime, criRuntimes, runtimeForSuite } from "./support/cri-runtimes.js";
import { until } from "./support/kubelet-scenario.js";

/** The parts of `berth explain -o json` this test reads. */
interface Explained {
  qosClass: string;
  podSandboxConfig: {
    metadata: { name: string; namespace: string; uid: string; attempt: number };
    labels: Record<string, string>;
    annotations: Record<string, string>;
    linux: { cgroupParent: string };
  };
  containers: {
    name: string;
    config: {
      labels: Record<string, string>;
      annotations: Record<string, string>;
      linux: { resources: { oomScoreAdj: string } };
    };
    cgroupFiles: Record<string, string>;
  }[];
  cgroups: {
    pod: { path: string; files: Record<string, string> };
    qos: { path: string; files: Record<string, string> };
  };
}

const cgroupMount = "/sys/fs/cgroup";
/** The container cgroup files the brief names: read inside the container where runc mounts them. */
const containerFiles = ["cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us", "memory.limit_in_bytes"];
/** The kubelet annotation whose value is the time its file source first saw the pod. */
const configSeen = "kubernetes.io/config.seen";

let reg: RegistryWithTestImages;
let dir: string;
let pageSize: bigint;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "berth-kubelet-explain-"));
  reg = await startRegistryWithTestImages();
  pageSize = BigInt((await detectNodeFacts()).pageSizeBytes);
});

after(async () => {
  await reg?.registry.stop();
  await rm(dir, { recursive: true, force: true });
});

const runtimes = criRuntimes(() => reg);

for (const runtime of runtimes) explainScenario(runtime.name, runtime.start);

function explainScenario(name: string, start: () => Promise<CriRuntime>): void {
  describe(`berth explain predicts berth kubelet on ${name}`, () => {
    let kubelet: BerthKubelet | undefined;
    const rt = runtimeForSuite(name, start, {
      beforeStop: async () => {
        if (!kubelet) return;
        await takeDown(kubelet, rt.cri).catch(() => undefined);
        await kubelet.stop().catch(() => undefined);
      },
    });

    before(async () => {
      kubelet = await startBerthKubelet({ runtimeEndpoint: rt.target.endpoint, nodeName: "explain-node" });
    });

    it("the container, pod and QoS cgroups are what explain said", { timeout: 120_000 }, async () => {
      const k = kubelet as BerthKubelet;
      const pods = {
        guaranteed: podOf("guaranteed", { cpu: "500m", memory: "128Mi" }, { cpu: "500m", memory: "128Mi" }),
        burstable: podOf("burstable", { cpu: "250m", memory: "64Mi" }, { cpu: "1", memory: "256Mi" }),
        besteffort: podOf("besteffort", {}, {}),
      };
      const explained: Record<string, Explained> = {};
      for (const [file, pod] of Object.entries(pods)) {
        await k.writeStaticPod(`${file}.yaml`, pod);
        const out = await berthOk([
          "explain",
          "-f",
          join(k.staticPodDir, `${file}.yaml`),
          "--config",
          k.configPath,
          "--node-name",
          k.nodeName,
          "--root-dir",
          k.rootDir,
          "-o",
          "json",
        ]);
        explained[file] = JSON.parse(out) as Explained;
      }
      assert.deepEqual(
        Object.values(explained).map((e) => e.qosClass),
        ["Guaranteed", "Burstable", "BestEffort"],
      );
      // A cgroup nobody limited: what an unset memory limit reads as.
      const unlimited = await readHost("memory", k.cgroupRoot, "memory.limit_in_bytes");

      try {
        for (const [file, e] of Object.entries(explained)) {
          const uid = e.podSandboxConfig.metadata.uid;
          const containerId = await until(`${file}: container running`, 60_000, async () => {
            const { containers } = await rt.cri.listContainers({
              filter: { labelSelector: { "io.kubernetes.pod.uid": uid } },
            });
            // The first instance, which explain describes (restart count 0).
            return containers.find(
              (c) => c.state === ContainerState.CONTAINER_RUNNING && c.metadata?.attempt === 0,
            )?.id;
          });

          // The sandbox and container the runtime holds are the ones explain described.
          const [sandbox] = (
            await rt.cri.listPodSandbox({ filter: { labelSelector: { "io.kubernetes.pod.uid": uid } } })
          ).items;
          assert.deepEqual(
            {
              name: sandbox?.metadata?.name,
              namespace: sandbox?.metadata?.namespace,
              uid: sandbox?.metadata?.uid,
              attempt: sandbox?.metadata?.attempt,
            },
            e.podSandboxConfig.metadata,
            `${file}: sandbox metadata`,
          );
          assert.deepEqual(sandbox?.labels, e.podSandboxConfig.labels, `${file}: sandbox labels`);
          assert.deepEqual(
            withoutSeen(sandbox?.annotations ?? {}),
            withoutSeen(e.podSandboxConfig.annotations),
            `${file}: sandbox annotations`,
          );
          const predicted = e.containers[0];
          assert.ok(predicted, `${file}: explain gave no container`);
          const status = (await rt.cri.containerStatus({ containerId })).status;
          assert.deepEqual(status?.labels, predicted.config.labels, `${file}: container labels`);
          assert.deepEqual(
            status?.annotations,
            predicted.config.annotations,
            `${file}: container annotations`,
          );

          // Inside the container: its own cgroup files, its OOM score, and its cgroup under the pod's.
          const exec = async (cmd: string[]) => {
            const r = await rt.cri.execSync({ containerId, cmd, timeout: 10n });
            assert.equal(r.exitCode, 0, `${file}: ${cmd.join(" ")}: ${Buffer.from(r.stderr).toString()}`);
            return Buffer.from(r.stdout).toString().trim();
          };
          for (const f of containerFiles) {
            const want: string | undefined =
              predicted.cgroupFiles[f] ??
              (f === "cpu.cfs_quota_us" ? "-1" : f === "memory.limit_in_bytes" ? unlimited : undefined);
            assert.ok(want !== undefined, `${file}: explain predicts nothing for ${f}`);
            const got = await exec(["cat", join(cgroupMount, subsystemOf(f), f)]);
            assert.equal(got, readBack(f, want), `${file}: ${f} inside the container`);
          }
          const floor = await oomScoreAdjFloor(rt.target);
          const asked = Number(predicted.config.linux.resources.oomScoreAdj);
          assert.equal(
            Number(await exec(["cat", "/proc/1/oom_score_adj"])),
            floor === undefined ? asked : Math.max(asked, floor),
            `${file}: oom_score_adj (explain: ${asked}, runtime floor: ${floor})`,
          );
          const memoryCgroup = (await exec(["cat", "/proc/self/cgroup"]))
            .split("\n")
            .find((l) => l.split(":")[1]?.split(",").includes("memory"));
          assert.ok(
            memoryCgroup?.split(":")[2]?.startsWith(`${e.cgroups.pod.path}/`),
            `${file}: container cgroup ${memoryCgroup} under the pod's ${e.cgroups.pod.path}`,
          );
          assert.equal(e.podSandboxConfig.linux.cgroupParent, e.cgroups.pod.path);

          // On the host: the pod cgroup and its QoS tier, file by file.
          for (const which of ["pod", "qos"] as const) {
            const cgroup = e.cgroups[which];
            assert.ok(Object.keys(cgroup.files).length > 0, `${file}: no ${which} cgroup files predicted`);
            for (const [f, want] of Object.entries(cgroup.files)) {
              const got = await readHost(subsystemOf(f), cgroup.path, f);
              assert.equal(got, readBack(f, want), `${file}: ${which} cgroup ${cgroup.path} ${f}`);
            }
          }
        }
      } catch (err) {
        throw new Error(`${(err as Error).message}\n--- kubelet log ---\n${k.logTail(20)}`, { cause: err });
      }

      await takeDown(k, rt.cri);
      // The kubelet removes a terminated pod's cgroup in its own time (syncTerminatedPod runs
      // after the runtime has stopped everything): wait for it, then nothing may be left.
      const left = await until("the kubelet's cleanup", 15_000, async () => {
        const l = await k.leftovers();
        return l.length === 0 ? l : undefined;
      }).catch(() => k.leftovers());
      assert.deepEqual(left, [], "pods of the kubelet left behind");
      await k.stop();
      assert.deepEqual(await k.leftovers(), [], "kubelet left behind");
      kubelet = undefined;
    });
  });
}

/** Static pods removed, the runtime left running nothing, then its stopped sandboxes removed through CRI. */
async function takeDown(k: BerthKubelet, cri: RuntimeServiceClient): Promise<void> {
  for (const f of await readdir(k.staticPodDir)) await k.removeStaticPod(f);
  await until("the runtime runs nothing", 30_000, async () => {
    const sandboxes = (await cri.listPodSandbox({})).items;
    const containers = (await cri.listContainers({})).containers;
    return (
      sandboxes.every((s) => s.state === PodSandboxState.SANDBOX_NOTREADY) &&
      containers.every((c) => c.state !== ContainerState.CONTAINER_RUNNING)
    );
  });
  for (const s of (await cri.listPodSandbox({})).items) {
    await cri.stopPodSandbox({ podSandboxId: s.id });
    await cri.removePodSandbox({ podSandboxId: s.id });
  }
}

/** A static pod with one busybox container sleeping; a short grace period, as sleep ignores TERM. */
function podOf(name: string, requests: Record<string, string>, limits: Record<string, string>): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name },
    spec: {
      terminationGracePeriodSeconds: 2,
      containers: [
        {
          name: "app",
          image: reg.busybox.ref,
          command: ["sleep", "3600"],
          resources: { requests, limits },
        },
      ],
    },
  };
}

/** The v1 hierarchy of a cgroup file: its name's first part ("memory.limit_in_bytes" → memory). */
function subsystemOf(file: string): string {
  return file.split(".")[0] ?? "";
}

/** What the kernel shows for a written value: a v1 memory limit is kept in whole pages. */
function readBack(file: string, value: string): string {
  if (!file.startsWith("memory.") || !/^[0-9]+$/.test(value)) return value;
  return `${(BigInt(value) / pageSize) * pageSize}`;
}

async function readHost(subsystem: string, cgroup: string, file: string): Promise<string> {
  return (await readFile(join(cgroupMount, subsystem, cgroup, file), "utf8")).trim();
}

/**
 * The least oom_score_adj the runtime gives a container: its own when it restricts them (containerd's
 * restrict_oom_score_adj, set by the harness; berth's without CAP_SYS_RESOURCE), else undefined.
 */
async function oomScoreAdjFloor(rt: CriRuntime): Promise<number | undefined> {
  if (rt.kind === "berth" && hasCapSysResource(await readFile(`/proc/${rt.pid}/status`, "utf8")))
    return undefined;
  return ownOomScoreAdj(rt.pid);
}

async function ownOomScoreAdj(pid: number): Promise<number> {
  return Number((await readFile(`/proc/${pid}/oom_score_adj`, "utf8")).trim());
}

function withoutSeen(annotations: Record<string, string>): Record<string, string> {
  const { [configSeen]: _, ...rest } = annotations;
  return rest;
}
