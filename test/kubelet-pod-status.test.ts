// The kubelet's view of a pod, read through CRI from the real runtimes: containerd 1.6.20 and
// `berth runtime`. A pod sandbox and three containers are made as the kubelet makes them (its
// labels and annotations, a termination message file mounted per container, restart counts in
// annotations); then getPodStatus, getPods, the generic PLEG's events and cache, and the API
// status generated from them are checked while the containers run, exit and are removed.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Container, Pod } from "kubernetes-types/core/v1.js";
import { pino } from "pino";
import {
  ContainerState as CriContainerState,
  type PodSandboxConfigSchema,
} from "../src/cri/gen/runtime/v1/api_pb.js";
import { newRemoteImageService } from "../src/cri/remote-image.js";
import { newRemoteRuntimeService, type RuntimeServiceClient } from "../src/cri/remote-runtime.js";
import { type CriConnection, dialCri } from "../src/cri/transport.js";
import { Cache } from "../src/kubelet/container/cache.js";
import { ContainerState } from "../src/kubelet/container/runtime.js";
import { featureGates } from "../src/kubelet/features/features.js";
import {
  newContainerAnnotations,
  newContainerLabels,
  newPodAnnotations,
  newPodLabels,
} from "../src/kubelet/kuberuntime/labels.js";
import {
  getPodStatus,
  getPods,
  podRuntime,
  type RuntimeView,
} from "../src/kubelet/kuberuntime/pod-status.js";
import { GenericPLEG } from "../src/kubelet/pleg/generic.js";
import {
  type EventChannel,
  PodLifeCycleEventType,
  type PodLifecycleEvent,
} from "../src/kubelet/pleg/pleg.js";
import { generateAPIPodStatus, prepareStatusUpdate } from "../src/kubelet/status/generate.js";
import { existingCgroups, removeCgroup } from "../src/testenv/cgroups.js";
import { type RegistryWithTestImages, startRegistryWithTestImages } from "../src/testenv/registry.js";
import { type CriRuntime, criRuntimes } from "./support/cri-runtimes.js";

const log = pino({ level: "silent" });
const gates = featureGates();
const { ContainerStarted, ContainerDied, ContainerRemoved } = PodLifeCycleEventType;
const noProbes = { get: () => undefined };

let reg: RegistryWithTestImages;
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "berth-kubelet-status-"));
  reg = await startRegistryWithTestImages();
});

after(async () => {
  await reg?.registry.stop();
  await rm(dir, { recursive: true, force: true });
});

for (const runtime of criRuntimes(() => reg)) podStatusScenario(runtime.name, runtime.start);

function podStatusScenario(name: string, start: () => Promise<CriRuntime>): void {
  describe(name, () => {
    let target: CriRuntime | undefined;
    let conn: CriConnection | undefined;
    let rt: RuntimeServiceClient;
    let view: RuntimeView;
    let pleg: GenericPLEG;
    let cache: Cache;
    let events: EventChannel<PodLifecycleEvent>;
    let shutDown = false;
    const cgroupParent = `/berth-test-kps-${process.pid}-${name.split(" ")[0]}`;
    const uid = randomUUID();
    const podDir = () => join(dir, name.split(" ")[0] ?? "", uid);
    const mainContainers: Container[] = [
      {
        name: "done",
        image: "busybox",
        command: ["sh", "-c", "printf bye > /dev/termination-log"],
        terminationMessagePath: "/dev/termination-log",
        terminationMessagePolicy: "File",
      },
      {
        name: "fails",
        image: "busybox",
        command: ["sh", "-c", "echo line1; sleep 0.2; echo boom >&2; exit 3"],
        terminationMessagePath: "/dev/termination-log",
        terminationMessagePolicy: "FallbackToLogsOnError",
      },
      {
        name: "sleeper",
        image: "busybox",
        command: ["sleep", "3600"],
        terminationMessagePath: "/dev/termination-log",
        terminationMessagePolicy: "File",
      },
    ];
    const pod: Pod = {
      metadata: { name: "status-demo", namespace: "default", uid, labels: { app: "status-demo" } },
      spec: { restartPolicy: "Never", containers: mainContainers, terminationGracePeriodSeconds: 30 },
    };
    // The restart counts the kubelet would have written for these instances.
    const restartCounts: Record<string, number> = { done: 0, fails: 2, sleeper: 0 };
    const ids: Record<string, string> = {};
    let sandboxId = "";
    let podIP = "";
    let sandboxConfig: MessageInitShape<typeof PodSandboxConfigSchema>;

    before(async () => {
      target = await start();
      conn = dialCri(target.endpoint, { timeoutMs: 60_000 });
      rt = newRemoteRuntimeService(conn);
      await newRemoteImageService(conn).pullImage({ image: { image: reg.busybox.ref } });
      const { runtimeName } = await rt.version({ version: "0.1.0" });
      view = { runtimeService: rt, runtimeName, featureGates: gates, log };
      cache = new Cache();
      pleg = new GenericPLEG(podRuntime(view), cache, { log });
      events = pleg.watch();
    });

    after(async () => {
      await pleg?.stop();
      // A failed step may have left the pod: removed through the runtime, which tears down its network and cgroups.
      if (conn && !shutDown) {
        for (const p of (await rt.listPodSandbox({})).items) {
          await rt.stopPodSandbox({ podSandboxId: p.id }).catch(() => undefined);
          await rt.removePodSandbox({ podSandboxId: p.id }).catch(() => undefined);
        }
      }
      conn?.close();
      await target?.dispose();
      await removeCgroup(cgroupParent).catch(() => undefined);
    });

    test("an empty runtime: no pods, no events, PLEG healthy after its first relist", async () => {
      assert.equal(pleg.healthy().ok, false);
      await pleg.relist();
      assert.deepEqual(drain(events), []);
      assert.deepEqual(await getPods(view, true), []);
      assert.equal(pleg.healthy().ok, true);
    });

    test("a sandbox made as the kubelet makes it: its IP, and a ContainerStarted for it", async () => {
      sandboxConfig = {
        metadata: { name: "status-demo", namespace: "default", uid, attempt: 0 },
        hostname: "status-demo",
        logDirectory: join(podDir(), "logs"),
        labels: newPodLabels(pod),
        annotations: newPodAnnotations(pod),
        linux: { cgroupParent },
      };
      await mkdir(join(podDir(), "logs"), { recursive: true });
      sandboxId = (await rt.runPodSandbox({ config: sandboxConfig })).podSandboxId;

      const status = await getPodStatus(view, uid, "status-demo", "default");
      assert.equal(status.sandboxStatuses.length, 1);
      assert.equal(status.sandboxStatuses[0]?.id, sandboxId);
      assert.equal(status.ips.length, 1);
      podIP = status.ips[0] ?? "";
      assert.match(podIP, /^\d+\.\d+\.\d+\.\d+$/);
      assert.deepEqual(status.containerStatuses, []);

      await pleg.relist();
      assert.deepEqual(drain(events), [{ id: uid, type: ContainerStarted, data: sandboxId }]);
      const [listed] = await getPods(view, false);
      assert.deepEqual(
        {
          id: listed?.id,
          name: listed?.name,
          namespace: listed?.namespace,
          sandboxes: listed?.sandboxes.map((s) => [s.id.id, s.state]),
        },
        {
          id: uid,
          name: "status-demo",
          namespace: "default",
          sandboxes: [[sandboxId, ContainerState.Running]],
        },
      );
    });

    test("containers that run and exit: events from the running PLEG, statuses with termination messages", async () => {
      for (const c of mainContainers) {
        const restartCount = restartCounts[c.name] ?? 0;
        // The kubelet mounts a file of its own at the termination message path (<pod dir>/containers/<name>/<id>).
        const messageFile = join(podDir(), "containers", c.name, randomUUID().slice(0, 8));
        await mkdir(join(podDir(), "containers", c.name), { recursive: true });
        await writeFile(messageFile, "");
        await mkdir(join(podDir(), "logs", c.name), { recursive: true });
        const { containerId } = await rt.createContainer({
          podSandboxId: sandboxId,
          config: {
            metadata: { name: c.name, attempt: restartCount },
            image: { image: reg.busybox.imageId },
            command: c.command ?? [],
            logPath: `${c.name}/${restartCount}.log`,
            labels: newContainerLabels(c, pod),
            annotations: newContainerAnnotations(c, pod, restartCount, gates),
            mounts: [{ containerPath: "/dev/termination-log", hostPath: messageFile }],
            linux: {},
          },
          sandboxConfig,
        });
        ids[c.name] = containerId;
        await rt.startContainer({ containerId });
      }
      await waitExited(rt, [ids.done, ids.fails]);

      // The PLEG's own loop sees the changes; a container may be seen running before it exits.
      pleg.start();
      const seen: PodLifecycleEvent[] = [];
      const want = [
        ev(ContainerStarted, ids.sleeper),
        ev(ContainerDied, ids.done),
        ev(ContainerDied, ids.fails),
      ];
      const deadline = AbortSignal.timeout(15_000);
      while (!want.every((w) => seen.some((e) => same(e, w)))) seen.push(await events.receive(deadline));
      await pleg.stop();
      const allowed = [...want, ev(ContainerStarted, ids.done), ev(ContainerStarted, ids.fails)];
      for (const e of seen)
        assert.ok(
          allowed.some((a) => same(a, e)),
          `unexpected event ${JSON.stringify(e)}`,
        );

      const status = cache.get(uid).status;
      assert.ok(status);
      assert.deepEqual(status.ips, [podIP]);
      // Newest first: the containers were created in spec order.
      assert.deepEqual(
        status.containerStatuses.map((s) => [
          s.name,
          s.state,
          s.exitCode,
          s.reason,
          s.message,
          s.restartCount,
        ]),
        [
          ["sleeper", ContainerState.Running, 0, "", "", 0],
          ["fails", ContainerState.Exited, 3, "Error", "line1\nboom\n", 2],
          ["done", ContainerState.Exited, 0, "Completed", "bye", 0],
        ],
      );
      for (const s of status.containerStatuses) {
        assert.deepEqual(s.id, { type: view.runtimeName, id: ids[s.name] });
        assert.equal(s.image, reg.busybox.ref);
        assert.match(s.hash, /^[0-9a-f]+$/);
      }

      const api = generateAPIPodStatus(pod, status, false, {
        reasons: new Map(),
        readinessManager: noProbes,
        startupManager: noProbes,
        nodeIPs: ["127.0.0.1"],
      });
      assert.equal(api.phase, "Running");
      assert.deepEqual(api.podIPs, [{ ip: podIP }]);
      assert.equal(api.qosClass, "BestEffort");
      const byName = Object.fromEntries((api.containerStatuses ?? []).map((c) => [c.name, c]));
      const containerID = (n: string) => `${view.runtimeName}://${ids[n]}`;
      const time = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
      assert.deepEqual(
        {
          ...byName.fails,
          state: { terminated: { ...byName.fails?.state?.terminated, startedAt: "t", finishedAt: "t" } },
        },
        {
          name: "fails",
          state: {
            terminated: {
              exitCode: 3,
              reason: "Error",
              message: "line1\nboom\n",
              startedAt: "t",
              finishedAt: "t",
              containerID: containerID("fails"),
            },
          },
          lastState: {},
          ready: false,
          started: false,
          restartCount: 2,
          image: reg.busybox.ref,
          imageID: byName.fails?.imageID,
          containerID: containerID("fails"),
        },
      );
      assert.match(byName.fails?.state?.terminated?.finishedAt ?? "", time);
      assert.match(byName.fails?.imageID ?? "", /@sha256:[0-9a-f]{64}$|^sha256:[0-9a-f]{64}$/);
      assert.deepEqual(byName.done?.state?.terminated?.reason, "Completed");
      assert.deepEqual(byName.done?.state?.terminated?.message, "bye");
      assert.match(byName.sleeper?.state?.running?.startedAt ?? "", time);
      assert.deepEqual([byName.sleeper?.ready, byName.sleeper?.started], [true, true]);
      assert.deepEqual(
        api.conditions?.map((c) => [c.type, c.status, c.reason, c.message]),
        [
          ["Initialized", "True", undefined, undefined],
          ["Ready", "False", "ContainersNotReady", "containers with unready status: [done fails]"],
          ["ContainersReady", "False", "ContainersNotReady", "containers with unready status: [done fails]"],
          ["PodScheduled", "True", undefined, undefined],
        ],
      );
      const kept = prepareStatusUpdate(pod, api, undefined, new Date());
      assert.match(kept.startTime ?? "", time);
      for (const c of kept.conditions ?? []) assert.match(c.lastTransitionTime ?? "", time);
    });

    test("the last container killed: ContainerDied, and the pod Failed under restartPolicy Never", async () => {
      const syncedAt = new Date();
      await sleep(5);
      // A pod worker waits for a status newer than its last sync; the next relist brings it.
      const waiting = cache.getNewerThan(uid, syncedAt);
      await rt.stopContainer({ containerId: ids.sleeper, timeout: 0n });
      await pleg.relist();
      assert.deepEqual(drain(events), [ev(ContainerDied, ids.sleeper)]);
      const { status } = await waiting;
      assert.ok(status);
      const sleeper = status.containerStatuses.find((s) => s.name === "sleeper");
      assert.deepEqual(
        [sleeper?.state, sleeper?.exitCode, sleeper?.reason],
        [ContainerState.Exited, 137, "Error"],
      );

      const api = generateAPIPodStatus(pod, status, false, {
        reasons: new Map(),
        readinessManager: noProbes,
        startupManager: noProbes,
        nodeIPs: [],
      });
      assert.equal(api.phase, "Failed");
      assert.deepEqual(
        api.conditions
          ?.filter((c) => c.type === "Ready" || c.type === "ContainersReady")
          .map((c) => c.reason),
        ["PodFailed", "PodFailed"],
      );
      // Only the sandbox still runs; listing all shows every container.
      const [running] = await getPods(view, false);
      assert.deepEqual(running?.containers, []);
      const [all] = await getPods(view, true);
      assert.deepEqual(all?.containers.map((c) => [c.name, c.state, c.id.id]).sort(), [
        ["done", ContainerState.Exited, ids.done],
        ["fails", ContainerState.Exited, ids.fails],
        ["sleeper", ContainerState.Exited, ids.sleeper],
      ]);
    });

    test("a stopped sandbox: ContainerDied for it, and the pod keeps its IP in the cache", async () => {
      await rt.stopPodSandbox({ podSandboxId: sandboxId });
      assert.deepEqual((await getPodStatus(view, uid, "status-demo", "default")).ips, []);
      await pleg.relist();
      assert.deepEqual(drain(events), [ev(ContainerDied, sandboxId)]);
      assert.deepEqual(cache.get(uid).status?.ips, [podIP]);
    });

    test("everything removed: ContainerRemoved for each, the cache forgets the pod, nothing is left", async () => {
      for (const id of Object.values(ids)) await rt.removeContainer({ containerId: id });
      await rt.removePodSandbox({ podSandboxId: sandboxId });
      await pleg.relist();
      assert.deepEqual(
        sortEvents(drain(events)),
        sortEvents([...Object.values(ids), sandboxId].map((id) => ev(ContainerRemoved, id))),
      );
      assert.deepEqual(cache.get(uid).status?.containerStatuses, []);
      assert.deepEqual(await getPods(view, true), []);
      const { containers } = await rt.listContainers({});
      assert.deepEqual(containers, []);

      conn?.close();
      conn = undefined;
      shutDown = true;
      const left = await target?.shutdown();
      await removeCgroup(cgroupParent);
      assert.deepEqual(await existingCgroups(cgroupParent), []);
      assert.deepEqual(left, []);
    });

    const ev = (type: PodLifecycleEvent["type"], data: string | undefined): PodLifecycleEvent => ({
      id: uid,
      type,
      data: data ?? "",
    });
  });
}

function drain(ch: EventChannel<PodLifecycleEvent>): PodLifecycleEvent[] {
  const out: PodLifecycleEvent[] = [];
  for (let e = ch.tryReceive(); e !== undefined; e = ch.tryReceive()) out.push(e);
  return out;
}

const same = (a: PodLifecycleEvent, b: PodLifecycleEvent) =>
  a.id === b.id && a.type === b.type && a.data === b.data;
const sortEvents = (es: PodLifecycleEvent[]) => [...es].sort((a, b) => a.data.localeCompare(b.data));

async function waitExited(rt: RuntimeServiceClient, ids: (string | undefined)[]): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (const id of ids) {
    while (
      (await rt.containerStatus({ containerId: id ?? "" })).status?.state !==
      CriContainerState.CONTAINER_EXITED
    ) {
      assert.ok(Date.now() < deadline, `container ${id} did not exit in time`);
      await sleep(100);
    }
  }
}
