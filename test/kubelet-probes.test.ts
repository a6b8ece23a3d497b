// berth kubelet's probes end to end, on containerd 1.6.20 and on `berth runtime`: liveness probes (exec,
// httpGet, tcpSocket, and an exec that times out) restart their containers after failureThreshold
// failures, with the kubelet's Unhealthy and Killing events; a readiness probe toggles the pod's Ready and
// ContainersReady conditions as a file comes and goes (made and removed through CRI ExecSync), without a
// restart; a startup probe holds liveness back until it succeeds, and restarts its container when it fails.
// The three pods run side by side under one kubelet per runtime, every probe at periodSeconds 1, and are
// taken down through the kubelet afterwards, leaving nothing behind.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Container, Event, Pod, PodCondition, Probe } from "kubernetes-types/core/v1.js";
import { KubeletClient } from "../src/cli/kubelet-client.js";
import { ContainerState } from "../src/cri/gen/runtime/v1/api_pb.js";
import { type BerthKubelet, startBerthKubelet } from "../src/testenv/kubelet.js";
import { type RegistryWithTestImages, startRegistryWithTestImages } from "../src/testenv/registry.js";
import { berthOk } from "./support/berth-cli.js";
import { type CriRuntime, criRuntimes, runtimeForSuite } from "./support/cri-runtimes.js";
import { shellContainer, withKubelet } from "./support/kubelet-scenario.js";

const ns = "default";
/** A TERM ends the container at once, so a liveness restart takes no grace period. */
const onTerm = "trap 'exit 0' TERM";
const idle = "while true; do sleep 1 & wait $!; done";
/** How long the liveness pod's containers stay healthy. */
const healthyMs = 3000;
/** Every probe's period, and the liveness probes' failureThreshold. */
const periodMs = 1000;
const failureThreshold = 3;

let reg: RegistryWithTestImages;

before(async () => {
  reg = await startRegistryWithTestImages();
});

after(async () => {
  await reg?.registry.stop();
});

for (const runtime of criRuntimes(() => reg)) probeScenarios(runtime.name, runtime.start);

function probeScenarios(name: string, start: () => Promise<CriRuntime>): void {
  describe(`probes on ${name}`, () => {
    let k: BerthKubelet | undefined;
    // The tests are the scenario: what is left afterwards is taking it down and checking for leftovers.
    const rt = runtimeForSuite(name, start, {
      beforeStop: async () => {
        if (k) await withKubelet(rt.cri, k, async () => {}, { takeDownMs: 60_000 });
      },
    });

    const kubelet = (): BerthKubelet => {
      assert.ok(k, "the kubelet is running");
      return k;
    };
    const events = async (pod: string): Promise<Event[]> => {
      const client = new KubeletClient(kubelet().socket, 10_000);
      const selector = encodeURIComponent(`involvedObject.name=${pod}`);
      const r = await client.request("GET", `/api/v1/namespaces/${ns}/events?fieldSelector=${selector}`);
      return (r.body as { items: Event[] }).items;
    };
    // A command's output ends in a newline, which the event keeps as upstream's does.
    const eventLines = async (pod: string) =>
      (await events(pod)).map(
        (e) => `${e.type} ${e.reason} ${e.involvedObject.fieldPath ?? ""}: ${e.message?.trimEnd()}`,
      );
    /** The runtime's instances of one container of the pod, first attempt first. */
    const instances = async (pod: Pod | undefined, container: string) => {
      const { containers } = await rt.cri.listContainers({
        filter: {
          labelSelector: {
            "io.kubernetes.pod.uid": pod?.metadata?.uid ?? "",
            "io.kubernetes.container.name": container,
          },
        },
      });
      const out = [];
      for (const c of containers) {
        const s = (await rt.cri.containerStatus({ containerId: c.id })).status;
        if (s) out.push(s);
      }
      return out.sort((a, b) => (a.metadata?.attempt ?? 0) - (b.metadata?.attempt ?? 0));
    };
    const msOf = (ns: bigint) => Number(ns / 1_000_000n);
    /** The "held" container's `started` as seen while it ran, until it had started. */
    let heldStarted: Promise<{ started: boolean; ready: boolean }[]>;

    before(async () => {
      k = await startBerthKubelet({ runtimeEndpoint: rt.target.endpoint });
      // All three at once: their probes run side by side.
      for (const pod of [livenessPod(), readinessPod(), startupPod()]) await k.apply(pod);
      heldStarted = watchStarted(k, "startup", "held");
    });

    it("restarts a container whose liveness probe fails: exec, httpGet, tcpSocket, exec timeout", {
      timeout: 60_000,
    }, async () => {
      const k = kubelet();
      const cases = [
        {
          container: "exec",
          failed: "cat: can't open '/tmp/healthy': No such file or directory",
          healthy: true,
        },
        { container: "http", failed: "HTTP probe failed with statuscode: 404", healthy: true },
        { container: "tcp", failed: "dial tcp {podIP}:8081: connect: connection refused", healthy: true },
        { container: "exec-timeout", failed: 'command "sh -c sleep 3" timed out', healthy: false },
      ];
      const pod = await k.waitFor(
        ns,
        "liveness",
        (p) => cases.every((c) => (cstatus(p, c.container)?.restartCount ?? 0) >= 1),
        45_000,
      );
      const podIP = pod?.status?.podIP ?? "";
      assert.ok(podIP, "the pod has an IP");
      const lines = await eventLines("liveness");
      for (const c of cases) {
        const s = cstatus(pod, c.container);
        assert.ok(s?.lastState?.terminated, `${c.container}: lastState terminated`);
        const field = `spec.containers{${c.container}}`;
        const unhealthy = `Warning Unhealthy ${field}: Liveness probe failed: ${c.failed.replace("{podIP}", podIP)}`;
        assert.ok(lines.includes(unhealthy), `${c.container}: no "${unhealthy}" in\n${lines.join("\n")}`);
        const killing = `Normal Killing ${field}: Container ${c.container} failed liveness probe, will be restarted`;
        assert.ok(lines.includes(killing), `${c.container}: no "${killing}" in\n${lines.join("\n")}`);
        // The first instance lived until failureThreshold probes a period apart had failed. A probe that
        // hangs (a dropped SYN) leaves a tick pending, as Go's ticker does, so two of the failures may
        // come back to back: at least failureThreshold - 2 periods pass after the container turned bad.
        const [first] = await instances(pod, c.container);
        const lived = msOf((first?.finishedAt ?? 0n) - (first?.startedAt ?? 0n));
        const failingFrom = c.healthy ? healthyMs : 0;
        const periods = (n: number) => n * periodMs;
        assert.ok(
          lived >= failingFrom + periods(failureThreshold - 2) - 100,
          `${c.container}: killed after ${lived} ms, before ${failureThreshold} failures`,
        );
        assert.ok(
          lived <= failingFrom + periods(failureThreshold) + 8000,
          `${c.container}: killed only after ${lived} ms`,
        );
      }
      // berth describe pod shows them, as kubectl would.
      const text = await berthOk(["describe", "pod", "liveness"], {
        env: { BERTH_KUBELET_SOCKET: k.socket },
      });
      assert.match(
        text,
        /Warning\s+Unhealthy\s+.*Liveness probe failed: HTTP probe failed with statuscode: 404/,
      );
      assert.match(text, /Normal\s+Killing\s+.*Container tcp failed liveness probe, will be restarted/);
    });

    it("toggles Ready and ContainersReady with the readiness probe, without a restart", {
      timeout: 60_000,
    }, async () => {
      const k = kubelet();
      const ready = (p: Pod | undefined) =>
        ["Ready", "ContainersReady"].map((t) => condition(p, t)?.status).join(",");
      let pod = await k.waitFor(
        ns,
        "readiness",
        (p) => cstatus(p, "app")?.state?.running !== undefined,
        30_000,
      );
      // Running and started, but not ready while /tmp/ready is missing.
      pod = await k.waitFor(ns, "readiness", (p) => ready(p) === "False,False", 15_000);
      assert.equal(condition(pod, "Ready")?.reason, "ContainersNotReady");
      assert.equal(condition(pod, "ContainersReady")?.message, "containers with unready status: [app]");
      assert.equal(cstatus(pod, "app")?.started, true);
      const [app] = await instances(pod, "app");
      assert.ok(app, "the app container in the runtime");
      const exec = async (...cmd: string[]) => {
        const r = await rt.cri.execSync({ containerId: app.id, cmd, timeout: 10n });
        assert.equal(r.exitCode, 0, `${cmd.join(" ")}: ${Buffer.from(r.stderr).toString()}`);
      };
      for (let round = 0; round < 2; round++) {
        await exec("touch", "/tmp/ready");
        pod = await k.waitFor(ns, "readiness", (p) => ready(p) === "True,True", 15_000);
        assert.equal(cstatus(pod, "app")?.ready, true);
        await exec("rm", "/tmp/ready");
        pod = await k.waitFor(ns, "readiness", (p) => ready(p) === "False,False", 15_000);
        assert.equal(cstatus(pod, "app")?.ready, false);
      }
      assert.equal(cstatus(pod, "app")?.restartCount, 0, "readiness never restarts");
      assert.equal((await instances(pod, "app")).length, 1);
      const lines = await eventLines("readiness");
      assert.ok(
        lines.includes(
          "Warning Unhealthy spec.containers{app}: Readiness probe failed: cat: can't open '/tmp/ready': No such file or directory",
        ),
        lines.join("\n"),
      );
      assert.ok(!lines.some((l) => l.includes("Killing")), lines.join("\n"));
    });

    it("holds liveness back until the startup probe succeeds; a failing startup probe restarts", {
      timeout: 60_000,
    }, async () => {
      const k = kubelet();
      // "held": liveness fails until the startup probe succeeds, 4 s in; both files come together.
      const seen = await heldStarted;
      assert.deepEqual(seen[0], { started: false, ready: false }, "neither started nor ready while starting");
      assert.deepEqual(seen.at(-1), { started: true, ready: true }, "both once the startup probe succeeded");
      // Live and ready, and never restarted: liveness did not run while it was starting.
      await sleep(3000);
      let pod = await k.getPod(ns, "startup");
      const held = cstatus(pod, "held");
      assert.equal(held?.restartCount, 0);
      assert.equal(held?.ready, true);
      const [first] = await instances(pod, "held");
      assert.equal(first?.state, ContainerState.CONTAINER_RUNNING);

      // "never": its startup probe fails 3 times, a period apart; then it is restarted, never started.
      pod = await k.waitFor(ns, "startup", (p) => (cstatus(p, "never")?.restartCount ?? 0) >= 1, 30_000);
      assert.equal(cstatus(pod, "never")?.started, false);
      const [never] = await instances(pod, "never");
      const lived = msOf((never?.finishedAt ?? 0n) - (never?.startedAt ?? 0n));
      assert.ok(lived >= 2000 - 100 && lived <= 12_000, `never: killed after ${lived} ms`);

      const lines = await eventLines("startup");
      const has = (line: string) => assert.ok(lines.includes(line), `no "${line}" in\n${lines.join("\n")}`);
      has(
        "Warning Unhealthy spec.containers{never}: Startup probe failed: cat: can't open '/tmp/nope': No such file or directory",
      );
      has("Normal Killing spec.containers{never}: Container never failed startup probe, will be restarted");
      has(
        "Warning Unhealthy spec.containers{held}: Startup probe failed: cat: can't open '/tmp/started': No such file or directory",
      );
      assert.ok(
        !lines.some((l) => l.includes("{held}") && (l.includes("Liveness") || l.includes("Killing"))),
        `held was probed for liveness or killed:\n${lines.join("\n")}`,
      );
    });
  });
}

/** Polls a container's started and ready while it runs, until it has started (at most 30 s); each pair seen. */
async function watchStarted(
  k: BerthKubelet,
  pod: string,
  container: string,
): Promise<{ started: boolean; ready: boolean }[]> {
  const seen: { started: boolean; ready: boolean }[] = [];
  const deadline = Date.now() + 30_000;
  while (seen.at(-1)?.started !== true && Date.now() < deadline) {
    const s = cstatus(await k.getPod(ns, pod), container);
    if (s?.state?.running && s.started !== undefined) seen.push({ started: s.started, ready: s.ready });
    await sleep(200);
  }
  return seen;
}

function busybox(name: string, script: string, extra: Partial<Container> = {}): Container {
  return shellContainer(reg.busybox.ref, name, script, extra);
}

function exec(...command: string[]): Probe {
  return { exec: { command }, periodSeconds: periodMs / 1000 };
}

function podOf(name: string, containers: Container[]): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: ns },
    spec: { terminationGracePeriodSeconds: 2, containers },
  };
}

/** Containers that turn unhealthy `healthyMs` after they start, each in its own way. */
function livenessPod(): Pod {
  const after = `sleep ${healthyMs / 1000} & wait $!`;
  return podOf("liveness", [
    busybox("exec", `${onTerm}; touch /tmp/healthy; ${after}; rm /tmp/healthy; ${idle}`, {
      livenessProbe: { ...exec("cat", "/tmp/healthy"), failureThreshold },
    }),
    busybox(
      "http",
      `${onTerm}; mkdir /www; echo ok > /www/index.html; httpd -p 8080 -h /www; ${after}; rm /www/index.html; ${idle}`,
      {
        ports: [{ name: "web", containerPort: 8080 }],
        livenessProbe: {
          httpGet: { port: "web", path: "/" },
          periodSeconds: periodMs / 1000,
          failureThreshold,
        },
      },
    ),
    busybox("tcp", `${onTerm}; httpd -f -p 8081 & pid=$!; ${after}; kill $pid; ${idle}`, {
      livenessProbe: { tcpSocket: { port: 8081 }, periodSeconds: periodMs / 1000, failureThreshold },
    }),
    // Never healthy: every probe outlives its 1 s timeout.
    busybox("exec-timeout", `${onTerm}; ${idle}`, {
      livenessProbe: { ...exec("sh", "-c", "sleep 3"), timeoutSeconds: 1, failureThreshold },
    }),
  ]);
}

function readinessPod(): Pod {
  return podOf("readiness", [
    busybox("app", `${onTerm}; ${idle}`, {
      readinessProbe: { ...exec("cat", "/tmp/ready"), failureThreshold: 1 },
    }),
  ]);
}

function startupPod(): Pod {
  return podOf("startup", [
    busybox("held", `${onTerm}; sleep 4 & wait $!; touch /tmp/started /tmp/alive; ${idle}`, {
      startupProbe: { ...exec("cat", "/tmp/started"), failureThreshold: 30 },
      livenessProbe: { ...exec("cat", "/tmp/alive"), failureThreshold: 1 },
    }),
    busybox("never", `${onTerm}; ${idle}`, {
      startupProbe: { ...exec("cat", "/tmp/nope"), failureThreshold: 3 },
    }),
  ]);
}

function cstatus(pod: Pod | undefined, container: string) {
  return pod?.status?.containerStatuses?.find((s) => s.name === container);
}

function condition(pod: Pod | undefined, type: string): PodCondition | undefined {
  return pod?.status?.conditions?.find((c) => c.type === type);
}
