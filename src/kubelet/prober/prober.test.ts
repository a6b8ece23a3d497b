import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import type { Container, Pod, Probe } from "kubernetes-types/core/v1.js";
import { pino } from "pino";
import type { ContainerID } from "../container/runtime.js";
import { EventRecorder } from "../events/event-recorder.js";
import type { CommandResult, CommandRunner } from "./exec-probe.js";
import { resolveContainerPort } from "./probe.js";
import { Prober, ProbeType } from "./prober.js";

const log = pino({ level: "silent" });
const containerID: ContainerID = { type: "test", id: "foobar" };
const pod: Pod = {
  metadata: { name: "web", namespace: "default", uid: "pod-uid" },
  spec: { containers: [] },
};

/** Stands in for CRI ExecSync: answers as told and remembers what it was asked to run. */
class ScriptedRunner implements CommandRunner {
  calls: string[][] = [];
  constructor(private readonly answer: () => Promise<CommandResult>) {}
  runInContainer(_id: ContainerID, cmd: string[]): Promise<CommandResult> {
    this.calls.push(cmd);
    return this.answer();
  }
}

const exitWith =
  (exitCode: number, output = "") =>
  async () => ({ output: Buffer.from(output), exitCode });

function newProber(runner: CommandRunner): { prober: Prober; recorder: EventRecorder } {
  const recorder = new EventRecorder(log);
  return { prober: new Prober({ runner, recorder, log }), recorder };
}

function containerWith(
  probeType: ProbeType,
  probe: Probe | undefined,
  extra: Partial<Container> = {},
): Container {
  const key = ({ Liveness: "livenessProbe", Readiness: "readinessProbe", Startup: "startupProbe" } as const)[
    probeType
  ];
  return { name: "c", ...extra, [key]: probe };
}

// prober_test.go TestGetURLParts and TestGetTCPAddrParts: the port a probe names.
test("resolveContainerPort: a number, a port's name, or a number written as a string", () => {
  const container: Container = { name: "c", ports: [{ name: "found", containerPort: 93 }] };
  const cases: [number | string, number | undefined][] = [
    [-1, undefined],
    ["", undefined],
    ["-1", undefined],
    ["not-found", undefined],
    ["found", 93],
    [76, 76],
    ["118", 118],
    [65536, undefined],
  ];
  for (const [param, want] of cases) {
    if (want === undefined)
      assert.throws(() => resolveContainerPort(param, container), /port/, String(param));
    else assert.equal(resolveContainerPort(param, container), want, String(param));
  }
});

// prober_test.go TestProbe
test("probe: results, errors and the command run, for every kind of probe", async () => {
  const execProbe: Probe = { exec: { command: ["true"] } };
  const cases: {
    name: string;
    probe?: Probe;
    answer?: () => Promise<CommandResult>;
    env?: Container["env"];
    want: "success" | "failure";
    wantError?: boolean;
    wantCommand?: string[];
    wantCalls?: number;
  }[] = [
    { name: "no probe", want: "success", wantCalls: 0 },
    { name: "no handler", probe: {}, want: "failure", wantError: true, wantCalls: 0 },
    { name: "probe fails", probe: execProbe, answer: exitWith(1), want: "failure", wantCalls: 1 },
    { name: "probe succeeds", probe: execProbe, answer: exitWith(0), want: "success", wantCalls: 1 },
    {
      name: "prober error, retried",
      probe: execProbe,
      answer: () => Promise.reject(new Error("exec error")),
      want: "failure",
      wantError: true,
      wantCalls: 3,
    },
    {
      name: "arguments passed through",
      probe: { exec: { command: ["/bin/bash", "-c", "some script"] } },
      answer: exitWith(0),
      want: "success",
      wantCommand: ["/bin/bash", "-c", "some script"],
    },
    {
      name: "only static env values expand",
      probe: { exec: { command: ["/bin/bash", "-c", "some $(A) $(B)"] } },
      env: [{ name: "A", value: "script" }],
      answer: exitWith(0),
      want: "success",
      wantCommand: ["/bin/bash", "-c", "some script $(B)"],
    },
  ];
  for (const c of cases) {
    for (const probeType of Object.values(ProbeType)) {
      const id = `${c.name} (${probeType})`;
      const runner = new ScriptedRunner(c.answer ?? exitWith(0));
      const { prober } = newProber(runner);
      const container = containerWith(probeType, c.probe, c.env ? { env: c.env } : {});
      const { result, error } = await prober.probe(probeType, pod, {}, container, containerID);
      assert.equal(result, c.want, id);
      assert.equal(error !== undefined, c.wantError ?? false, `${id}: error ${error?.message}`);
      if (c.wantCalls !== undefined) assert.equal(runner.calls.length, c.wantCalls, id);
      if (c.wantCommand) assert.deepEqual(runner.calls[0], c.wantCommand, id);
    }
  }
});

test("probe: failures and errors are Unhealthy events on the container, named by the kind of probe", async () => {
  const { prober, recorder } = newProber(new ScriptedRunner(exitWith(1, "cat: can't open '/tmp/ready'")));
  const c: Container = { name: "app", readinessProbe: { exec: { command: ["cat", "/tmp/ready"] } } };
  await prober.probe(ProbeType.Readiness, pod, {}, c, containerID);
  await prober.probe(ProbeType.Readiness, pod, {}, c, containerID);
  const broken: Container = { name: "app", livenessProbe: { tcpSocket: { port: "nope" } } };
  await prober.probe(ProbeType.Liveness, pod, { podIP: "127.0.0.1" }, broken, containerID);
  assert.deepEqual(
    recorder.eventsFor("pod-uid").map((e) => [e.type, e.reason, e.fieldPath, e.message, e.count]),
    [
      [
        "Warning",
        "Unhealthy",
        "spec.containers{app}",
        "Readiness probe failed: cat: can't open '/tmp/ready'",
        2,
      ],
      [
        "Warning",
        "Unhealthy",
        "spec.containers{app}",
        'Liveness probe errored: port "nope" is neither a container port\'s name nor a number',
        1,
      ],
    ],
  );
});

test("probe: httpGet and tcpSocket go to the pod IP; a redirect elsewhere is a success with a warning", async () => {
  const server = createServer((req, res) => {
    if (req.url === "/away") res.writeHead(302, { location: "http://elsewhere.invalid/" }).end();
    else res.writeHead(req.url === "/healthz" ? 200 : 500).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  try {
    const { prober, recorder } = newProber(new ScriptedRunner(exitWith(0)));
    const status = { podIP: "127.0.0.1" };
    const probe = async (p: Probe) =>
      (
        await prober.probe(
          ProbeType.Liveness,
          pod,
          status,
          { name: "web", ports: [{ name: "http", containerPort: port }], livenessProbe: p },
          containerID,
        )
      ).result;
    assert.equal(await probe({ httpGet: { port: "http", path: "/healthz" }, timeoutSeconds: 1 }), "success");
    assert.equal(await probe({ httpGet: { port, path: "/broken" }, timeoutSeconds: 1 }), "failure");
    assert.equal(await probe({ httpGet: { port, path: "/away" }, timeoutSeconds: 1 }), "success");
    assert.equal(await probe({ tcpSocket: { port: "http" }, timeoutSeconds: 1 }), "success");
    assert.deepEqual(
      recorder.eventsFor("pod-uid").map((e) => [e.reason, e.message]),
      [
        ["Unhealthy", "Liveness probe failed: HTTP probe failed with statuscode: 500"],
        ["ProbeWarning", "Liveness probe warning: Probe terminated redirects, Response body: "],
      ],
    );
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});
