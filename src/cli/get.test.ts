import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ContainerState, ContainerStatus, Pod, PodCondition } from "kubernetes-types/core/v1.js";
import { parse } from "yaml";
import { formatObject, humanDuration, parsePodOutput, printPod, printPods } from "./get.js";

const now = Date.parse("2024-05-06T08:00:00Z");
const ago = (ms: number) => new Date(now - ms).toISOString();
const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

describe("humanDuration", () => {
  it("gives about two significant figures (apimachinery TestHumanDuration)", () => {
    const cases: [number, string][] = [
      [S, "1s"],
      [70 * S, "70s"],
      [190 * S, "3m10s"],
      [70 * M, "70m"],
      [47 * H, "47h"],
      [49 * H, "2d1h"],
      [(8 * 24 + 2) * H, "8d"],
      [367 * D, "367d"],
      [(365 * 2 * 24 + 25) * H, "2y1d"],
      [(365 * 8 * 24 + 2) * H, "8y"],
    ];
    for (const [ms, want] of cases) assert.equal(humanDuration(ms), want, `${ms} ms`);
  });

  it("switches units at kubectl's boundaries (TestHumanDurationBoundaries)", () => {
    const cases: [number, string][] = [
      [-2 * S, "<invalid>"],
      [-2 * S + 1, "0s"],
      [0, "0s"],
      [S - 1, "0s"],
      [2 * M - 1, "119s"],
      [2 * M, "2m"],
      [2 * M + S, "2m1s"],
      [10 * M - 1, "9m59s"],
      [10 * M, "10m"],
      [10 * M + S, "10m"],
      [3 * H - 1, "179m"],
      [3 * H, "3h"],
      [3 * H + M, "3h1m"],
      [8 * H - 1, "7h59m"],
      [8 * H, "8h"],
      [8 * H + 59 * M, "8h"],
      [2 * D - 1, "47h"],
      [2 * D, "2d"],
      [2 * D + H, "2d1h"],
      [8 * D - 1, "7d23h"],
      [8 * D, "8d"],
      [8 * D + 23 * H, "8d"],
      [2 * 365 * D - 1, "729d"],
      [2 * 365 * D, "2y"],
      [2 * 365 * D + 24 * H - 1, "2y"],
      [2 * 365 * D + 24 * H, "2y1d"],
      [7 * 365 * D, "7y"],
      [8 * 365 * D - 1, "7y364d"],
      [8 * 365 * D, "8y"],
      [8 * 365 * D + 364 * D, "8y"],
      [9 * 365 * D, "9y"],
    ];
    for (const [ms, want] of cases) assert.equal(humanDuration(ms), want, `${ms} ms`);
  });
});

/** A container status with the fields the API always has. */
function cs(s: Partial<ContainerStatus> & { state?: ContainerState } = {}): ContainerStatus {
  return { name: "", image: "", imageID: "", ready: false, restartCount: 0, ...s };
}
const terminatedAgo = (ms: number): ContainerState => ({ terminated: { exitCode: 0, finishedAt: ago(ms) } });
const containers = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `c${i}` }));
const sidecars = (...names: string[]) => names.map((name) => ({ name, restartPolicy: "Always" }));

interface Case {
  name: string;
  spec?: { containers?: { name: string }[]; initContainers?: { name: string; restartPolicy?: string }[] };
  deleting?: boolean;
  phase?: string;
  reason?: string;
  conditions?: PodCondition[];
  init?: ContainerStatus[];
  main?: ContainerStatus[];
  want: string[];
}

function pod(c: Case): Pod {
  return {
    metadata: { name: c.name, ...(c.deleting ? { deletionTimestamp: ago(10 * S) } : {}) },
    spec: { containers: containers(2), ...c.spec } as Pod["spec"],
    status: {
      phase: c.phase ?? "podPhase",
      ...(c.reason ? { reason: c.reason } : {}),
      ...(c.conditions ? { conditions: c.conditions } : {}),
      ...(c.init ? { initContainerStatuses: c.init } : {}),
      ...(c.main ? { containerStatuses: c.main } : {}),
    },
  };
}

const running: ContainerState = { running: {} };
const ready = (type: string, status = "True"): PodCondition => ({ type, status });

// printers_test.go TestPrintPod, TestPrintPodWithRestartableInitContainer (cells: name, ready, status, restarts, age).
const cases: Case[] = [
  {
    name: "test1",
    main: [cs({ ready: true, restartCount: 3, state: running }), cs({ restartCount: 3 })],
    want: ["test1", "1/2", "podPhase", "6", "<unknown>"],
  },
  {
    name: "test2: a waiting container's reason overrides the phase",
    main: [
      cs({ ready: true, restartCount: 3, state: running }),
      cs({ restartCount: 3, state: { waiting: { reason: "ContainerWaitingReason" } } }),
    ],
    want: [
      "test2: a waiting container's reason overrides the phase",
      "1/2",
      "ContainerWaitingReason",
      "6",
      "<unknown>",
    ],
  },
  {
    name: "test3",
    main: [
      cs({ restartCount: 3, state: { waiting: { reason: "ContainerWaitingReason" } } }),
      cs({ restartCount: 3, state: { terminated: { exitCode: 0, reason: "ContainerTerminatedReason" } } }),
    ],
    want: ["test3", "0/2", "ContainerWaitingReason", "6", "<unknown>"],
  },
  {
    name: "test4",
    main: [cs({ ready: true, restartCount: 3, state: running }), cs({ ready: true, restartCount: 3 })],
    want: ["test4", "1/2", "podPhase", "6", "<unknown>"],
  },
  {
    name: "test5",
    reason: "podReason",
    main: [cs({ ready: true, restartCount: 3, state: running }), cs({ ready: true, restartCount: 3 })],
    want: ["test5", "1/2", "podReason", "6", "<unknown>"],
  },
  {
    name: "test6",
    phase: "Running",
    main: [
      cs({ ready: true, restartCount: 3, state: { terminated: { reason: "Completed", exitCode: 0 } } }),
      cs({ ready: true, restartCount: 3, state: running }),
    ],
    want: ["test6", "1/2", "NotReady", "6", "<unknown>"],
  },
  {
    name: "test6",
    phase: "Running",
    conditions: [ready("Ready")],
    main: [
      cs({ ready: true, restartCount: 3, state: { terminated: { reason: "Completed", exitCode: 0 } } }),
      cs({ ready: true, restartCount: 3, state: running }),
    ],
    want: ["test6", "1/2", "Running", "6", "<unknown>"],
  },
  {
    name: "test7",
    spec: { initContainers: containers(1), containers: containers(1) },
    init: [cs({ restartCount: 3, state: running, lastState: terminatedAgo(10 * S) })],
    main: [cs({ state: { waiting: {} } })],
    want: ["test7", "0/1", "Init:0/1", "3 (10s ago)", "<unknown>"],
  },
  {
    name: "test8",
    spec: { initContainers: containers(2), containers: containers(1) },
    init: [
      cs({ restartCount: 3, state: running, lastState: terminatedAgo(10 * S) }),
      cs({ state: { waiting: {} } }),
    ],
    main: [cs({ state: { waiting: {} } })],
    want: ["test8", "0/1", "Init:0/2", "3 (10s ago)", "<unknown>"],
  },
  {
    name: "test9",
    spec: { initContainers: containers(2), containers: containers(1) },
    init: [
      cs({ state: { terminated: { exitCode: 0 } } }),
      cs({ restartCount: 3, state: running, lastState: terminatedAgo(10 * S) }),
    ],
    main: [cs({ state: { waiting: {} } })],
    want: ["test9", "0/1", "Init:1/2", "3 (10s ago)", "<unknown>"],
  },
  {
    name: "test10",
    spec: { initContainers: containers(2), containers: containers(1) },
    init: [
      cs({ restartCount: 2, state: { terminated: { exitCode: 0 } }, lastState: terminatedAgo(2 * M) }),
      cs({ restartCount: 3, state: running, lastState: terminatedAgo(10 * S) }),
    ],
    main: [cs({ state: { waiting: {} } })],
    want: ["test10", "0/1", "Init:1/2", "5 (10s ago)", "<unknown>"],
  },
  {
    name: "test11",
    phase: "Running",
    spec: { initContainers: containers(1), containers: containers(1) },
    init: [cs({ restartCount: 2, state: { terminated: { exitCode: 0 } }, lastState: terminatedAgo(2 * M) })],
    main: [cs({ restartCount: 4, state: running, lastState: terminatedAgo(20 * S) })],
    want: ["test11", "0/1", "Running", "4 (20s ago)", "<unknown>"],
  },
  {
    name: "test12",
    phase: "Running",
    spec: { containers: containers(1) },
    main: [cs({ ready: true, restartCount: 3, state: running, lastState: terminatedAgo(5 * D) })],
    want: ["test12", "1/1", "Running", "3 (5d ago)", "<unknown>"],
  },
  {
    name: "test13",
    phase: "Running",
    main: [
      cs({ ready: true, state: running }),
      cs({ ready: true, restartCount: 3, state: running, lastState: terminatedAgo(10 * D) }),
    ],
    want: ["test13", "2/2", "Running", "3 (10d ago)", "<unknown>"],
  },
  {
    name: "test14",
    phase: "Running",
    main: [
      cs({ ready: true, restartCount: 6, state: running, lastState: terminatedAgo(5 * D) }),
      cs({ ready: true, restartCount: 3, state: running, lastState: terminatedAgo(20 * D) }),
    ],
    want: ["test14", "2/2", "Running", "9 (5d ago)", "<unknown>"],
  },
  {
    name: "test15",
    conditions: [{ type: "PodScheduled", status: "False", reason: "SchedulingGated" }],
    want: ["test15", "0/2", "SchedulingGated", "0", "<unknown>"],
  },
  {
    name: "test16",
    phase: "Succeeded",
    spec: { containers: containers(1) },
    main: [cs({ state: { terminated: { reason: "Completed", exitCode: 0 } } })],
    want: ["test16", "0/1", "Completed", "0", "<unknown>"],
  },
  {
    name: "test17",
    phase: "Failed",
    spec: { containers: containers(1) },
    main: [cs({ state: { terminated: { reason: "Error", exitCode: 1 } } })],
    want: ["test17", "0/1", "Error", "0", "<unknown>"],
  },
  {
    name: "test18: a finished pod being deleted keeps its status",
    phase: "Succeeded",
    deleting: true,
    spec: { containers: containers(1) },
    main: [cs({ state: { terminated: { reason: "Completed", exitCode: 0 } } })],
    want: ["test18: a finished pod being deleted keeps its status", "0/1", "Completed", "0", "<unknown>"],
  },
  {
    name: "test19",
    phase: "Running",
    deleting: true,
    spec: { containers: containers(1) },
    main: [cs({ state: running })],
    want: ["test19", "0/1", "Terminating", "0", "<unknown>"],
  },
  {
    name: "test20",
    phase: "Pending",
    deleting: true,
    spec: { containers: containers(1) },
    want: ["test20", "0/1", "Terminating", "0", "<unknown>"],
  },
  // Not in the upstream table: the reasons a terminated container without one gets.
  {
    name: "exit code",
    spec: { containers: containers(1) },
    main: [cs({ state: { terminated: { exitCode: 3 } } })],
    want: ["exit code", "0/1", "ExitCode:3", "0", "<unknown>"],
  },
  {
    name: "init signal",
    spec: { initContainers: containers(1), containers: containers(1) },
    init: [cs({ state: { terminated: { exitCode: 137, signal: 9 } } })],
    want: ["init signal", "0/1", "Init:Signal:9", "0", "<unknown>"],
  },
  {
    name: "init crash loop",
    spec: { initContainers: containers(1), containers: containers(1) },
    init: [cs({ restartCount: 4, state: { waiting: { reason: "CrashLoopBackOff" } } })],
    want: ["init crash loop", "0/1", "Init:CrashLoopBackOff", "4", "<unknown>"],
  },
  {
    name: "pull error",
    phase: "Pending",
    spec: { containers: containers(1) },
    main: [cs({ state: { waiting: { reason: "ErrImagePull" } } })],
    want: ["pull error", "0/1", "ErrImagePull", "0", "<unknown>"],
  },
  // TestPrintPodWithRestartableInitContainer
  {
    name: "sidecar running, not started",
    phase: "Pending",
    spec: { initContainers: sidecars("r1", "r2"), containers: containers(1) },
    conditions: [ready("Initialized", "False")],
    init: [
      cs({ name: "r1", restartCount: 3, state: running, started: false, lastState: terminatedAgo(10 * S) }),
      cs({ name: "r2", state: { waiting: {} }, started: false }),
    ],
    main: [cs({ state: { waiting: {} } })],
    want: ["sidecar running, not started", "0/3", "Init:0/2", "3 (10s ago)", "<unknown>"],
  },
  {
    name: "first sidecar started",
    phase: "Pending",
    spec: { initContainers: sidecars("r1", "r2"), containers: containers(1) },
    conditions: [ready("Initialized", "False")],
    init: [
      cs({ name: "r1", restartCount: 3, state: running, started: true, lastState: terminatedAgo(10 * S) }),
      cs({ name: "r2", state: running, started: false }),
    ],
    main: [cs({ state: { waiting: {} } })],
    want: ["first sidecar started", "0/3", "Init:1/2", "3 (10s ago)", "<unknown>"],
  },
  {
    name: "sidecars started",
    phase: "Running",
    spec: { initContainers: sidecars("r1", "r2"), containers: containers(1) },
    conditions: [ready("Initialized")],
    init: [
      cs({ name: "r1", restartCount: 3, state: running, started: true, lastState: terminatedAgo(10 * S) }),
      cs({ name: "r2", state: running, started: true }),
    ],
    main: [cs({ ready: true, restartCount: 4, state: running, lastState: terminatedAgo(20 * S) })],
    want: ["sidecars started", "1/3", "Running", "7 (10s ago)", "<unknown>"],
  },
  {
    name: "sidecars failed, container completed",
    phase: "Succeeded",
    spec: { initContainers: sidecars("r1", "r2"), containers: containers(1) },
    conditions: [ready("Initialized")],
    init: [
      cs({
        name: "r1",
        restartCount: 3,
        state: { terminated: { reason: "Error", exitCode: 137 } },
        started: false,
        lastState: terminatedAgo(10 * S),
      }),
      cs({ name: "r2", state: { terminated: { reason: "Error", exitCode: 137 } }, started: false }),
    ],
    main: [
      cs({
        restartCount: 4,
        state: { terminated: { reason: "Completed", exitCode: 0 } },
        lastState: terminatedAgo(20 * S),
      }),
    ],
    want: ["sidecars failed, container completed", "0/3", "Completed", "7 (10s ago)", "<unknown>"],
  },
];

describe("printPod", () => {
  for (const c of cases) {
    it(`${c.want[0]}: ${c.want.slice(1).join(" ")}`, () => {
      assert.deepEqual(printPod(pod(c), { wide: false, now }), c.want);
    });
  }

  it("adds IP, node, nominated node and readiness gates when wide (TestPrintPodwide)", () => {
    const p: Pod = {
      metadata: { name: "test1", creationTimestamp: ago(5 * M) },
      spec: {
        containers: containers(2),
        nodeName: "test1",
        readinessGates: [
          { conditionType: "condition1" },
          { conditionType: "condition2" },
          { conditionType: "condition3" },
        ],
      } as Pod["spec"],
      status: {
        phase: "podPhase",
        conditions: [ready("condition1", "False"), ready("condition2")],
        podIPs: [{ ip: "1.1.1.1" }, { ip: "2001:db8::" }],
        containerStatuses: [cs({ ready: true, restartCount: 3, state: running }), cs({ restartCount: 3 })],
        nominatedNodeName: "node1",
      },
    };
    assert.deepEqual(printPod(p, { wide: true, now }), [
      "test1",
      "1/2",
      "podPhase",
      "6",
      "5m",
      "1.1.1.1",
      "test1",
      "node1",
      "1/3",
    ]);
    const bare: Pod = { metadata: { name: "test2" }, spec: { containers: containers(1) } as Pod["spec"] };
    assert.deepEqual(printPod(bare, { wide: true, now }).slice(5), ["<none>", "<none>", "<none>", "<none>"]);
  });
});

describe("printPods", () => {
  const web: Pod = {
    metadata: { name: "web", namespace: "default", creationTimestamp: ago(3 * M + 12 * S), uid: "u1" },
    spec: { containers: containers(1), nodeName: "node-1" } as Pod["spec"],
    status: {
      phase: "Running",
      podIPs: [{ ip: "10.89.0.2" }],
      containerStatuses: [cs({ ready: true, state: running })],
    },
  };
  const db: Pod = {
    metadata: { name: "database", namespace: "kube-system", creationTimestamp: ago(26 * H) },
    spec: { containers: containers(1) } as Pod["spec"],
    status: {
      phase: "Pending",
      containerStatuses: [cs({ state: { waiting: { reason: "ContainerCreating" } } })],
    },
  };
  const opts = { withNamespace: false, single: false, now };

  it("aligns the table as kubectl's tabwriter does, with NAMESPACE first for -A", () => {
    assert.equal(
      printPods([web, db], "table", opts),
      [
        "NAME       READY   STATUS              RESTARTS   AGE",
        "web        1/1     Running             0          3m12s",
        "database   0/1     ContainerCreating   0          26h",
        "",
      ].join("\n"),
    );
    assert.equal(
      printPods([web, db], "wide", { ...opts, withNamespace: true }),
      [
        "NAMESPACE     NAME       READY   STATUS              RESTARTS   AGE     IP          NODE     NOMINATED NODE   READINESS GATES",
        "default       web        1/1     Running             0          3m12s   10.89.0.2   node-1   <none>           <none>",
        "kube-system   database   0/1     ContainerCreating   0          26h     <none>      <none>   <none>           <none>",
        "",
      ].join("\n"),
    );
    assert.equal(printPods([], "table", opts), "");
  });

  it("prints names, and objects with sorted keys: one asked for by name alone, others in a List", () => {
    assert.equal(printPods([web, db], "name", opts), "pod/web\npod/database\n");
    const one = printPods([web], "json", { ...opts, single: true });
    assert.ok(one.startsWith('{\n    "apiVersion": "v1",\n    "kind": "Pod",\n    "metadata": {\n'));
    assert.deepEqual(Object.keys(JSON.parse(one)), ["apiVersion", "kind", "metadata", "spec", "status"]);
    const list = JSON.parse(printPods([web, db], "json", opts));
    assert.deepEqual(Object.keys(list), ["apiVersion", "items", "kind", "metadata"]);
    assert.equal(list.kind, "List");
    assert.deepEqual(list.metadata, { resourceVersion: "" });
    assert.deepEqual(
      list.items.map((p: Pod) => `${p.kind}/${p.metadata?.name}`),
      ["Pod/web", "Pod/database"],
    );
    assert.deepEqual(JSON.parse(printPods([], "json", opts)).items, []);
    const yaml = printPods([web], "yaml", { ...opts, single: true });
    assert.deepEqual(parse(yaml), JSON.parse(one));
    assert.match(yaml, /^ {2}containers:\n {2}- name: c0\n/m, "sequences sit at their key's indentation");
  });

  it("writes YAML as kubectl does: single quotes where needed, long strings unfolded", () => {
    const text = formatObject({ b: "1", a: "x ".repeat(60).trim(), c: "it's" }, "yaml");
    assert.equal(text, `a: ${"x ".repeat(60).trim()}\nb: '1'\nc: it's\n`);
  });

  it("refuses an output format it has no printer for", () => {
    assert.equal(parsePodOutput(undefined), "table");
    assert.equal(parsePodOutput("wide"), "wide");
    assert.throws(
      () => parsePodOutput("jsonpath"),
      /unable to match a printer suitable for the output format "jsonpath"/,
    );
  });
});
