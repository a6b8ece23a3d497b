// berth's kubelet end to end, from manifests to containers, on containerd 1.6.20 and on `berth runtime`:
// restart policies with exiting containers, init container order and failures, the crash-loop back-off,
// graceful termination with a preStop hook, and kubelet restarts (SIGTERM and kill -9) that must leave
// running containers alone. Each scenario runs its own `berth kubelet` (src/testenv/kubelet.ts) against the
// runtime; what the kubelet reports through its local API is checked against what the runtime reports
// through CRI. Every scenario takes its pods down through the kubelet and leaves nothing behind.

import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Container, Pod, PodSpec } from "kubernetes-types/core/v1.js";
import {
  ContainerState,
  type ContainerStatus as CriContainerStatus,
  PodSandboxState,
} from "../src/cri/gen/runtime/v1/api_pb.js";
import type { BerthKubeletOptions } from "../src/testenv/kubelet.js";
import { type RegistryWithTestImages, startRegistryWithTestImages } from "../src/testenv/registry.js";
import { type CriRuntime, criRuntimes, runtimeForSuite } from "./support/cri-runtimes.js";
import { shellContainer, until, withKubelet } from "./support/kubelet-scenario.js";

const ns = "default";
/** The kubelet's syncFrequency in the harness's config. */
const syncPeriodMs = 10_000;

let reg: RegistryWithTestImages;
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "berth-kubelet-e2e-"));
  reg = await startRegistryWithTestImages();
});

after(async () => {
  await reg?.registry.stop();
  await rm(dir, { recursive: true, force: true });
});

const runtimes = criRuntimes(() => reg);

for (const runtime of runtimes) kubeletScenarios(runtime.name, runtime.start);

function kubeletScenarios(name: string, start: () => Promise<CriRuntime>): void {
  describe(`berth kubelet on ${name}`, () => {
    const rt = runtimeForSuite(name, start);
    let hostDir: string;

    before(async () => {
      hostDir = join(dir, name.split(" ")[0] ?? "rt");
      await mkdir(hostDir, { recursive: true });
    });

    // Container GC (test/kubelet-gc.test.ts) would remove the dead instances scenarios count.
    const opts = (more: Partial<BerthKubeletOptions> = {}): BerthKubeletOptions => ({
      runtimeEndpoint: rt.target.endpoint,
      extraArgs: ["--container-gc-period", "1h"],
      ...more,
    });

    /** Every instance the runtime has of the pod's containers, oldest attempt first. */
    const instancesOf = async (uid: string): Promise<Instance[]> => {
      const { containers } = await rt.cri.listContainers({
        filter: { labelSelector: { "io.kubernetes.pod.uid": uid } },
      });
      const out: Instance[] = [];
      for (const c of containers) {
        const s = (await rt.cri.containerStatus({ containerId: c.id })).status;
        if (s) out.push(instance(s));
      }
      return out.sort((a, b) => a.attempt - b.attempt || a.createdAt - b.createdAt);
    };
    const sandboxesOf = async (uid: string) =>
      (await rt.cri.listPodSandbox({ filter: { labelSelector: { "io.kubernetes.pod.uid": uid } } })).items;

    it("restarts exiting containers as restartPolicy says", { timeout: 90_000 }, async () => {
      await withKubelet(rt.cri, opts(), async (k) => {
        const cases = [
          { pod: "always-ok", policy: "Always", exit: 0 },
          { pod: "always-fail", policy: "Always", exit: 1 },
          { pod: "onfailure-ok", policy: "OnFailure", exit: 0 },
          { pod: "onfailure-fail", policy: "OnFailure", exit: 1 },
          { pod: "never-fail", policy: "Never", exit: 1 },
        ] as const;
        for (const c of cases) {
          await k.apply(
            podOf(c.pod, { restartPolicy: c.policy, containers: [busybox("c", `exit ${c.exit}`)] }),
          );
        }
        const restarted = async (pod: string, reason: string, exitCode: number) => {
          const p = await k.waitFor(ns, pod, (x) => (cstatus(x)?.restartCount ?? 0) >= 1, 30_000);
          const s = cstatus(p);
          assert.equal(p?.status?.phase, "Running", `${pod}: phase`);
          assert.equal(s?.lastState?.terminated?.reason, reason, `${pod}: lastState`);
          assert.equal(s?.lastState?.terminated?.exitCode, exitCode, `${pod}: lastState exit code`);
          // The runtime has the instances the count says: attempt 0, then one per restart.
          const instances = await instancesOf(p?.metadata?.uid ?? "");
          assert.ok(instances.length >= 2, `${pod}: ${instances.length} instances in the runtime`);
          assert.deepEqual(
            instances.slice(0, 2).map((i) => i.attempt),
            [0, 1],
          );
          assert.equal(instances[0]?.exitCode, exitCode);
        };
        const finished = async (pod: string, phase: string, reason: string, exitCode: number) => {
          const p = await k.waitFor(ns, pod, (x) => x?.status?.phase === phase, 30_000);
          const uid = p?.metadata?.uid ?? "";
          const s = cstatus(p);
          assert.equal(s?.state?.terminated?.reason, reason, `${pod}: state`);
          assert.equal(s?.state?.terminated?.exitCode, exitCode, `${pod}: exit code`);
          // A pod in a terminal phase is terminated: its sandbox stops and its one container stays dead.
          await until(`${pod}: sandbox stopped`, 30_000, async () =>
            (await sandboxesOf(uid)).every((x) => x.state === PodSandboxState.SANDBOX_NOTREADY),
          );
          const final = await k.getPod(ns, pod);
          assert.equal(final?.status?.phase, phase, `${pod}: phase after termination`);
          assert.equal(cstatus(final)?.restartCount, 0, `${pod}: restartCount`);
          const instances = await instancesOf(uid);
          assert.deepEqual(
            instances.map((i) => [i.attempt, i.state, i.exitCode]),
            [[0, ContainerState.CONTAINER_EXITED, exitCode]],
            `${pod}: not restarted`,
          );
          // Deleted right after it terminated, it is gone at once: nothing of it runs any more.
          await k.delete(ns, pod);
          await k.waitFor(ns, pod, (x) => x === undefined, 5_000);
        };
        await Promise.all([
          restarted("always-ok", "Completed", 0),
          restarted("always-fail", "Error", 1),
          restarted("onfailure-fail", "Error", 1),
          finished("onfailure-ok", "Succeeded", "Completed", 0),
          finished("never-fail", "Failed", "Error", 1),
        ]);
      });
    });

    it("runs init containers one after another before the main container", { timeout: 60_000 }, async () => {
      await withKubelet(rt.cri, opts(), async (k) => {
        // Each container appends its name and the host's uptime to a file on a shared emptyDir.
        const mark = (who: string) => `echo ${who} $(cat /proc/uptime) >> /work/order`;
        await k.apply(
          podOf("init-order", {
            restartPolicy: "Always",
            volumes: [{ name: "work", emptyDir: {} }],
            initContainers: [
              busybox("init1", `${mark("init1")}; sleep 1`, work),
              busybox("init2", `${mark("init2")}; sleep 1`, work),
            ],
            containers: [busybox("main", `${mark("main")}; cat /work/order; exec sleep 3600`, work)],
          }),
        );
        const p = await k.waitFor(
          ns,
          "init-order",
          (x) => x?.status?.containerStatuses?.[0]?.state?.running !== undefined,
          30_000,
        );
        const uid = p?.metadata?.uid ?? "";
        assert.equal(p?.status?.phase, "Running");
        assert.deepEqual(
          p?.status?.initContainerStatuses?.map((s) => [s.name, s.state?.terminated?.reason, s.restartCount]),
          [
            ["init1", "Completed", 0],
            ["init2", "Completed", 0],
          ],
        );
        // What the containers wrote, read from the emptyDir on the host.
        const order = await until("main wrote its line", 10_000, async () => {
          const text = await readFile(
            join(k.rootDir, "pods", uid, "volumes", "kubernetes.io~empty-dir", "work", "order"),
            "utf8",
          ).catch(() => "");
          const lines = text.trim().split("\n").filter(Boolean);
          return lines.length === 3 ? lines.map((l) => l.split(" ")) : undefined;
        });
        assert.deepEqual(
          order.map(([who]) => who),
          ["init1", "init2", "main"],
        );
        const times = order.map(([, t]) => Number(t));
        assert.ok((times[1] ?? 0) - (times[0] ?? 0) >= 1, `init2 started ≥ 1 s after init1: ${times}`);
        assert.ok((times[2] ?? 0) - (times[1] ?? 0) >= 1, `main started ≥ 1 s after init2: ${times}`);
        // The runtime agrees: each started after the one before it finished.
        const byName = new Map((await instancesOf(uid)).map((i) => [i.name, i]));
        const [i1, i2, main] = ["init1", "init2", "main"].map((n) => byName.get(n));
        assert.ok(i1 && i2 && main, `instances: ${[...byName.keys()]}`);
        assert.ok(i1.finishedAt <= i2.startedAt, "init1 finished before init2 started");
        assert.ok(i2.finishedAt <= main.startedAt, "init2 finished before main started");
        assert.equal(main.state, ContainerState.CONTAINER_RUNNING);
      });
    });

    it("fails the pod on a failing init container under Never, retries it under Always", {
      timeout: 60_000,
    }, async () => {
      await withKubelet(rt.cri, opts(), async (k) => {
        for (const policy of ["Never", "Always"] as const) {
          await k.apply(
            podOf(`init-fail-${policy.toLowerCase()}`, {
              restartPolicy: policy,
              initContainers: [busybox("init", "exit 3")],
              containers: [busybox("main", "exec sleep 3600")],
            }),
          );
        }
        const never = await k.waitFor(ns, "init-fail-never", (x) => x?.status?.phase === "Failed", 30_000);
        assert.equal(kubectlInitStatus(never), "Init:Error");
        assert.equal(never?.status?.initContainerStatuses?.[0]?.state?.terminated?.exitCode, 3);
        assert.equal(never?.status?.initContainerStatuses?.[0]?.restartCount, 0);
        assert.equal(never?.status?.containerStatuses?.[0]?.state?.waiting?.reason, "PodInitializing");

        // Under Always: Init:Error, restarted at once, then held back: Init:CrashLoopBackOff.
        const seen = new Set<string>();
        const always = await k.waitFor(
          ns,
          "init-fail-always",
          (x) => {
            const s = kubectlInitStatus(x);
            if (s) seen.add(s);
            return s === "Init:CrashLoopBackOff";
          },
          30_000,
        );
        assert.ok(seen.has("Init:Error"), `statuses seen: ${[...seen]}`);
        assert.equal(always?.status?.phase, "Pending");
        const init = always?.status?.initContainerStatuses?.[0];
        assert.ok((init?.restartCount ?? 0) >= 1, `init restartCount ${init?.restartCount}`);
        assert.equal(init?.lastState?.terminated?.exitCode, 3);

        // Neither pod ever started its main container.
        for (const pod of [never, always]) {
          const names = (await instancesOf(pod?.metadata?.uid ?? "")).map((i) => i.name);
          assert.ok(!names.includes("main"), `${pod?.metadata?.name}: ${names}`);
        }
      });
    });

    it("backs off a crash-looping container 10 s, then 20 s", { timeout: 90_000 }, async (t) => {
      // A restart waits for the first sync after the back-off ends, so the kubelet resyncs every
      // second here: then the gaps show the back-off and not the sync period.
      await withKubelet(rt.cri, opts({ configOverrides: { syncFrequency: "1s" } }), async (k) => {
        await k.apply(podOf("crash", { restartPolicy: "Always", containers: [busybox("c", "exit 1")] }));
        const first = await k.waitFor(ns, "crash", (x) => x?.metadata?.uid !== undefined, 5_000);
        const uid = first?.metadata?.uid ?? "";
        // Polled until the fourth start, noting when the kubelet reported CrashLoopBackOff.
        const backOffSeen: number[] = [];
        let instances: Instance[] = [];
        const deadline = Date.now() + 60_000;
        while (!instances.some((i) => i.attempt === 3 && i.startedAt > 0)) {
          assert.ok(Date.now() < deadline, `no 4th start within 60 s: ${JSON.stringify(instances)}`);
          const p = await k.getPod(ns, "crash");
          if (cstatus(p)?.state?.waiting?.reason === "CrashLoopBackOff") backOffSeen.push(Date.now());
          instances = await instancesOf(uid);
          await sleep(250);
        }
        const starts = [0, 1, 2, 3].map((a) => instances.find((i) => i.attempt === a)?.startedAt ?? 0);
        const [s0, s1, s2, s3] = starts as [number, number, number, number];
        assert.ok(s1 - s0 < 5_000, `first restart at once: ${s1 - s0} ms`);
        const gap2 = s2 - s1;
        const gap3 = s3 - s2;
        t.diagnostic(`restarts after ${s1 - s0} ms, ${gap2} ms, ${gap3} ms`);
        assert.ok(Math.abs(gap2 - 10_000) <= 3_000, `2nd restart ${gap2} ms after the 1st, want 10 s ± 3 s`);
        assert.ok(Math.abs(gap3 - 20_000) <= 3_000, `3rd restart ${gap3} ms after the 2nd, want 20 s ± 3 s`);
        const waitingIn = (from: number, to: number) => backOffSeen.some((t) => t > from && t < to);
        assert.ok(waitingIn(s1, s2), "CrashLoopBackOff reported between the 1st and 2nd restart");
        assert.ok(waitingIn(s2, s3), "CrashLoopBackOff reported between the 2nd and 3rd restart");
        const p = await k.waitFor(ns, "crash", (x) => (cstatus(x)?.restartCount ?? 0) >= 3, 5_000);
        assert.equal(cstatus(p)?.lastState?.terminated?.reason, "Error");
      });
    });

    it("runs preStop, then TERM, within the grace period on delete", { timeout: 60_000 }, async (t) => {
      await withKubelet(rt.cri, opts(), async (k) => {
        const events = join(hostDir, "prestop");
        await rm(events, { recursive: true, force: true });
        const log = (what: string) => `echo ${what} $(cat /proc/uptime) >> /events/log`;
        const c = busybox(
          "c",
          // The trap runs between two short sleeps; exit 42 tells the trap's exit from any other.
          `trap '${log("term")}; exit 42' TERM; ${log("started")}; while :; do sleep 0.1; done`,
          {
            volumeMounts: [{ name: "events", mountPath: "/events" }],
            lifecycle: {
              preStop: {
                exec: { command: ["sh", "-c", `${log("prestop")}; sleep 2; ${log("prestop-done")}`] },
              },
            },
          },
        );
        await k.apply(
          podOf("graceful", {
            terminationGracePeriodSeconds: 10,
            volumes: [{ name: "events", hostPath: { path: events, type: "DirectoryOrCreate" } }],
            containers: [c],
          }),
        );
        const p = await k.waitFor(ns, "graceful", (x) => cstatus(x)?.state?.running !== undefined, 30_000);
        const uid = p?.metadata?.uid ?? "";
        await until("the container logged its start", 5_000, async () =>
          (await readFile(join(events, "log"), "utf8").catch(() => "")).includes("started"),
        );

        const deleted = Date.now();
        await k.delete(ns, "graceful");
        await k.waitFor(ns, "graceful", (x) => x === undefined, 12_000);
        const tookMs = Date.now() - deleted;
        t.diagnostic(`gone ${tookMs} ms after the delete`);
        assert.ok(tookMs < 10_000, `gone ${tookMs} ms after the delete, within the 10 s grace period`);

        const lines = (await readFile(join(events, "log"), "utf8"))
          .trim()
          .split("\n")
          .map((l) => l.split(" "));
        assert.deepEqual(
          lines.map(([what]) => what),
          ["started", "prestop", "prestop-done", "term"],
        );
        const at = Object.fromEntries(lines.map(([what, uptime]) => [what, Number(uptime)]));
        assert.ok((at["prestop-done"] ?? 0) - (at.prestop ?? 0) >= 2, "the hook ran its 2 s");
        assert.ok((at.term ?? 0) >= (at["prestop-done"] ?? 0), "TERM came after the hook finished");
        // The container ended through its trap; nothing of the pod runs any more. Its stopped
        // container and sandbox stay in the runtime until container GC, held off here, removes them.
        const instances = await instancesOf(uid);
        assert.deepEqual(
          instances.map((i) => [i.state, i.exitCode]),
          [[ContainerState.CONTAINER_EXITED, 42]],
        );
        const sandboxes = await sandboxesOf(uid);
        assert.ok(
          sandboxes.length > 0 && sandboxes.every((s) => s.state === PodSandboxState.SANDBOX_NOTREADY),
        );
        await rm(events, { recursive: true, force: true });
      });
    });

    it("restarts the kubelet (SIGTERM, then kill -9) without restarting any container", {
      timeout: 120_000,
    }, async () => {
      await withKubelet(rt.cri, opts(), async (k) => {
        await k.writeStaticPod(
          "static-web.yaml",
          podOf("static-web", { restartPolicy: "Always", containers: [busybox("web", "exec sleep 3600")] }),
        );
        await k.apply(
          podOf("api-web", { restartPolicy: "Always", containers: [busybox("web", "exec sleep 3600")] }),
        );
        const staticName = `static-web-${k.nodeName}`;
        const api = await k.waitFor(ns, "api-web", (x) => cstatus(x)?.state?.running !== undefined, 30_000);
        const apiUid = api?.metadata?.uid ?? "";
        // Static pods are not in the local API: their containers are found through CRI.
        const staticUid = await until("the static pod runs", 30_000, async () => {
          const { items } = await rt.cri.listPodSandbox({
            filter: { labelSelector: { "io.kubernetes.pod.name": staticName } },
          });
          const uid = items[0]?.metadata?.uid;
          if (!uid) return undefined;
          const running = (await instancesOf(uid)).some((i) => i.state === ContainerState.CONTAINER_RUNNING);
          return running ? uid : undefined;
        });
        const snapshot = async () => ({
          api: (await instancesOf(apiUid)).map(identity),
          static: (await instancesOf(staticUid)).map(identity),
          sandboxes: [...(await sandboxesOf(apiUid)), ...(await sandboxesOf(staticUid))].map((s) => [
            s.id,
            s.state,
          ]),
        });
        const before = await snapshot();
        assert.equal(before.api.length, 1);
        assert.equal(before.static.length, 1);

        for (const how of ["SIGTERM", "kill -9"] as const) {
          if (how === "kill -9") await k.kill9();
          await k.restart();
          // Two sync periods: the pods are synced on start and resynced at least once after.
          await sleep(2 * syncPeriodMs);
          assert.deepEqual(await snapshot(), before, `after a ${how} restart`);
          const served = await k.getPod(ns, "api-web");
          assert.equal(served?.metadata?.uid, apiUid, `after a ${how} restart: the API pod is served`);
          assert.equal(served?.status?.phase, "Running");
          assert.equal(cstatus(served)?.restartCount, 0);
          assert.equal(cstatus(served)?.containerID, cstatus(api)?.containerID);
          assert.equal(cstatus(served)?.state?.running?.startedAt, cstatus(api)?.state?.running?.startedAt);
        }
      });
    });
  });
}

/** One instance of a container as the runtime reports it. */
interface Instance {
  id: string;
  name: string;
  attempt: number;
  state: ContainerState;
  exitCode: number;
  /** Milliseconds since the epoch; 0 when not started or finished yet. */
  createdAt: number;
  startedAt: number;
  finishedAt: number;
  /** The restart count the kubelet wrote into the container's annotations. */
  restartCount: string | undefined;
}

function instance(s: CriContainerStatus): Instance {
  const ms = (ns: bigint) => Number(ns / 1_000_000n);
  return {
    id: s.id,
    name: s.metadata?.name ?? "",
    attempt: s.metadata?.attempt ?? 0,
    state: s.state,
    exitCode: s.exitCode,
    createdAt: ms(s.createdAt),
    startedAt: ms(s.startedAt),
    finishedAt: ms(s.finishedAt),
    restartCount: s.annotations["io.kubernetes.container.restartCount"],
  };
}

/** What must not change across a kubelet restart. */
function identity(i: Instance): unknown[] {
  return [i.name, i.id, i.attempt, i.state, i.startedAt, i.restartCount];
}

const work = { volumeMounts: [{ name: "work", mountPath: "/work" }] };

function busybox(name: string, script: string, extra: Partial<Container> = {}): Container {
  return shellContainer(reg.busybox.ref, name, script, extra);
}

function podOf(name: string, spec: PodSpec): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: ns },
    // A short grace period: a `sleep` as PID 1 ignores TERM, so taking the pod down waits it out.
    spec: { terminationGracePeriodSeconds: 2, ...spec },
  };
}

/** The pod's first container's status. */
function cstatus(pod: Pod | undefined) {
  return pod?.status?.containerStatuses?.[0];
}

/** The STATUS kubectl prints for a pod whose init containers have not all succeeded (printPod). */
function kubectlInitStatus(pod: Pod | undefined): string | undefined {
  const statuses = pod?.status?.initContainerStatuses ?? [];
  const count = pod?.spec?.initContainers?.length ?? 0;
  for (const [i, s] of statuses.entries()) {
    const t = s.state?.terminated;
    if (t?.exitCode === 0) continue;
    if (t) return t.reason ? `Init:${t.reason}` : `Init:ExitCode:${t.exitCode}`;
    const w = s.state?.waiting;
    if (w?.reason && w.reason !== "PodInitializing") return `Init:${w.reason}`;
    return `Init:${i}/${count}`;
  }
  return undefined;
}
