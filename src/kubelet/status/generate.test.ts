import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type * as v1 from "kubernetes-types/core/v1.js";
import { ContainerState, containerIDString, type PodStatus, type Status } from "../container/runtime.js";
import {
  ErrKillContainer,
  ErrRunContainer,
  PodSyncResult,
  SyncAction,
  SyncResult,
} from "../container/sync-result.js";
import type { ProbeResult, ProbeResults } from "../kuberuntime/pod-actions.js";
import {
  ContainerCreating,
  ContainersNotInitialized,
  ContainersNotReady,
  type ContainerWaitingReason,
  convertToAPIContainerStatuses,
  type GenerateDeps,
  generateAPIPodStatus,
  generateContainersReadyCondition,
  generatePodInitializedCondition,
  generatePodReadyCondition,
  getPhase,
  PodCompleted,
  PodInitializing,
  prepareStatusUpdate,
  ReadinessGatesNotReady,
  rfc3339,
  sortPodIPs,
  UnknownContainerStatuses,
  updatePodStatusFromProbes,
  updateReasonCache,
} from "./generate.js";

const noProbes: ProbeResults = { get: () => undefined };

function deps(over: Partial<GenerateDeps> = {}): GenerateDeps {
  return { reasons: new Map(), readinessManager: noProbes, startupManager: noProbes, nodeIPs: [], ...over };
}

function kstatus(name: string, state: ContainerState, extra: Partial<Status> = {}): Status {
  return {
    id: { type: "", id: "" },
    name,
    state,
    createdAt: new Date(0),
    exitCode: 0,
    image: "",
    imageID: "",
    hash: "0",
    restartCount: 0,
    reason: "",
    message: "",
    ...extra,
  };
}

function podStatusOf(pod: v1.Pod, containerStatuses: Status[], ips: string[] = []): PodStatus {
  return {
    id: pod.metadata?.uid ?? "",
    name: pod.metadata?.name ?? "",
    namespace: pod.metadata?.namespace ?? "",
    ips,
    containerStatuses,
    sandboxStatuses: [],
    timeStamp: new Date(0),
  };
}

function podWith(
  spec: Partial<v1.PodSpec>,
  status?: v1.PodStatus,
  meta: NonNullable<v1.Pod["metadata"]> = {},
): v1.Pod {
  return {
    metadata: { uid: "12345678", name: "foo", namespace: "new", annotations: {}, ...meta },
    spec: { containers: [], ...spec },
    ...(status ? { status } : {}),
  };
}

// The container status shapes kubelet_pods_test.go builds its phase tables from.
const cstatus = (
  name: string,
  state: v1.ContainerState,
  extra: Partial<v1.ContainerStatus> = {},
): v1.ContainerStatus => ({
  name,
  image: "",
  imageID: "",
  ready: false,
  restartCount: 0,
  state,
  ...extra,
});
const waitingState = (n: string) => cstatus(n, { waiting: {} });
const waitingStateWithLastTermination = (n: string) =>
  cstatus(n, { waiting: {} }, { lastState: { terminated: { exitCode: 0 } } });
const waitingStateWithNonZeroTermination = (n: string) =>
  cstatus(n, { waiting: {} }, { lastState: { terminated: { exitCode: -1 } } });
const runningState = (n: string) => cstatus(n, { running: {} });
const startedState = (n: string) => cstatus(n, { running: {} }, { started: true });
const stoppedState = (n: string) => cstatus(n, { terminated: { exitCode: 0 } });
const succeededState = (n: string) => cstatus(n, { terminated: { exitCode: 0 } });
const failedState = (n: string) => cstatus(n, { terminated: { exitCode: -1 } });

describe("getPhase", () => {
  const twoContainers = [{ name: "containerA" }, { name: "containerB" }];
  type Row = [string, v1.ContainerStatus[], string, boolean?];
  const run = (spec: v1.PodSpec, rows: Row[]) => {
    for (const [name, statuses, phase, podIsTerminal] of rows) {
      test(name, () => assert.equal(getPhase({ spec }, statuses, podIsTerminal ?? false), phase));
    }
  };

  describe("restartPolicy Always (TestPodPhaseWithRestartAlways)", () =>
    run({ containers: twoContainers, restartPolicy: "Always" }, [
      ["waiting", [], "Pending"],
      ["all running", [runningState("containerA"), runningState("containerB")], "Running"],
      [
        "all stopped with restart always",
        [stoppedState("containerA"), stoppedState("containerB")],
        "Running",
      ],
      [
        "all succeeded with restart always, but the pod is terminal",
        [succeededState("containerA"), succeededState("containerB")],
        "Succeeded",
        true,
      ],
      [
        "all stopped with restart always, but the pod is terminal",
        [succeededState("containerA"), failedState("containerB")],
        "Failed",
        true,
      ],
      [
        "mixed state #1 with restart always",
        [runningState("containerA"), stoppedState("containerB")],
        "Running",
      ],
      ["mixed state #2 with restart always", [runningState("containerA")], "Pending"],
      [
        "mixed state #3 with restart always",
        [runningState("containerA"), waitingState("containerB")],
        "Pending",
      ],
      [
        "backoff crashloop container with restart always",
        [runningState("containerA"), waitingStateWithLastTermination("containerB")],
        "Running",
      ],
    ]));

  const initRows = (failedInitPhase: string): Row[] => [
    ["empty, waiting", [], "Pending"],
    ["init container running", [runningState("containerX")], "Pending"],
    ["init container terminated non-zero", [failedState("containerX")], failedInitPhase],
    ["init container waiting, terminated zero", [waitingStateWithLastTermination("containerX")], "Pending"],
    [
      "init container waiting, terminated non-zero",
      [waitingStateWithNonZeroTermination("containerX")],
      failedInitPhase,
    ],
    ["init container waiting, not terminated", [waitingState("containerX")], "Pending"],
    [
      "init container succeeded",
      [succeededState("containerX"), runningState("containerA"), runningState("containerB")],
      "Running",
    ],
  ];
  describe("restartPolicy Always, init containers (TestPodPhaseWithRestartAlwaysInitContainers)", () =>
    run(
      { initContainers: [{ name: "containerX" }], containers: twoContainers, restartPolicy: "Always" },
      initRows("Pending"),
    ));

  describe("restartPolicy Never (TestPodPhaseWithRestartNever)", () =>
    run({ containers: twoContainers, restartPolicy: "Never" }, [
      ["waiting", [], "Pending"],
      ["all running with restart never", [runningState("containerA"), runningState("containerB")], "Running"],
      [
        "all succeeded with restart never",
        [succeededState("containerA"), succeededState("containerB")],
        "Succeeded",
      ],
      ["all failed with restart never", [failedState("containerA"), failedState("containerB")], "Failed"],
      [
        "mixed state #1 with restart never",
        [runningState("containerA"), succeededState("containerB")],
        "Running",
      ],
      ["mixed state #2 with restart never", [runningState("containerA")], "Pending"],
      [
        "mixed state #3 with restart never",
        [runningState("containerA"), waitingState("containerB")],
        "Pending",
      ],
    ]));

  describe("restartPolicy Never, init containers (TestPodPhaseWithRestartNeverInitContainers)", () =>
    run(
      { initContainers: [{ name: "containerX" }], containers: twoContainers, restartPolicy: "Never" },
      initRows("Failed"),
    ));

  describe("restartPolicy OnFailure (TestPodPhaseWithRestartOnFailure)", () =>
    run({ containers: twoContainers, restartPolicy: "OnFailure" }, [
      ["waiting", [], "Pending"],
      [
        "all running with restart onfailure",
        [runningState("containerA"), runningState("containerB")],
        "Running",
      ],
      [
        "all succeeded with restart onfailure",
        [succeededState("containerA"), succeededState("containerB")],
        "Succeeded",
      ],
      ["all failed with restart never", [failedState("containerA"), failedState("containerB")], "Running"],
      [
        "mixed state #1 with restart onfailure",
        [runningState("containerA"), succeededState("containerB")],
        "Running",
      ],
      ["mixed state #2 with restart onfailure", [runningState("containerA")], "Pending"],
      [
        "mixed state #3 with restart onfailure",
        [runningState("containerA"), waitingState("containerB")],
        "Pending",
      ],
      [
        "backoff crashloop container with restart onfailure",
        [runningState("containerA"), waitingStateWithLastTermination("containerB")],
        "Running",
      ],
    ]));

  // TestPodPhaseWithRestartNeverRestartableInitContainers, the rows 1.28 shares with later releases
  // (restartable init containers need the SidecarContainers gate, alpha and off in 1.28).
  describe("restartable init containers", () =>
    run(
      {
        initContainers: [{ name: "containerX", restartPolicy: "Always" }],
        containers: twoContainers,
        restartPolicy: "Never",
      },
      [
        ["empty, waiting", [], "Pending"],
        ["restartable init container running", [runningState("containerX")], "Pending"],
        ["restartable init container stopped", [stoppedState("containerX")], "Pending"],
        [
          "restartable init container started, one main container running",
          [startedState("containerX"), runningState("containerA")],
          "Pending",
        ],
        [
          "restartable init container started, main containers succeeded",
          [startedState("containerX"), succeededState("containerA"), succeededState("containerB")],
          "Running",
        ],
        [
          "restartable init container terminated non-zero, main containers succeeded",
          [failedState("containerX"), succeededState("containerA"), succeededState("containerB")],
          "Succeeded",
        ],
      ],
    ));

  test("a static pod is not made terminal by podIsTerminal", () => {
    const pod: v1.Pod = {
      metadata: { annotations: { "kubernetes.io/config.source": "file" } },
      spec: { containers: twoContainers, restartPolicy: "Always" },
    };
    assert.equal(
      getPhase(pod, [succeededState("containerA"), succeededState("containerB")], true),
      "Running",
    );
  });
});

describe("generateAPIPodStatus", () => {
  test("sorts container statuses by name (TestGenerateAPIPodStatusWithSortedContainers)", () => {
    const expectedOrder: string[] = [];
    let statuses: Status[] = [];
    for (let i = 0; i < 10; i++) {
      const name = `${i}container`;
      expectedOrder.push(name);
      const s = kstatus(name, ContainerState.Unknown, { id: { type: "test", id: `${i}` } });
      statuses = i % 2 === 0 ? [...statuses, s] : [s, ...statuses];
    }
    const pod = podWith({ containers: expectedOrder.map((name) => ({ name })) });
    for (let i = 0; i < 5; i++) {
      const api = generateAPIPodStatus(pod, podStatusOf(pod, statuses), false, deps());
      assert.deepEqual(
        api.containerStatuses?.map((c) => c.name),
        expectedOrder,
      );
    }
  });

  // TestGenerateAPIPodStatusWithReasonCache
  describe("with reasons from the last sync and old statuses", () => {
    const testTimestamp = new Date(123456789_987);
    const emptyContainerID = containerIDString({ type: "", id: "" });
    const cases: {
      name: string;
      containers: v1.Container[];
      statuses: Status[];
      reasons: Record<string, string>;
      oldStatuses: v1.ContainerStatus[];
      expectedState: Record<string, v1.ContainerState>;
      expectedInitState?: Record<string, v1.ContainerState>;
      expectedLastTerminationState: Record<string, v1.ContainerState>;
    }[] = [
      {
        name: "no historical record: waiting, last state from the old status",
        containers: [{ name: "without-old-record" }, { name: "with-old-record" }],
        statuses: [],
        reasons: {},
        oldStatuses: [cstatus("with-old-record", {}, { lastState: { terminated: { exitCode: 0 } } })],
        expectedState: {
          "without-old-record": { waiting: { reason: ContainerCreating } },
          "with-old-record": { waiting: { reason: ContainerCreating } },
        },
        expectedInitState: {
          "without-old-record": { waiting: { reason: PodInitializing } },
          "with-old-record": { waiting: { reason: PodInitializing } },
        },
        expectedLastTerminationState: { "with-old-record": { terminated: { exitCode: 0 } } },
      },
      {
        name: "running: last state from the latest terminated instance",
        containers: [{ name: "running" }],
        statuses: [
          kstatus("running", ContainerState.Running, { startedAt: testTimestamp }),
          kstatus("running", ContainerState.Exited, { exitCode: 1 }),
        ],
        reasons: {},
        oldStatuses: [],
        expectedState: { running: { running: { startedAt: rfc3339(testTimestamp) } } },
        expectedLastTerminationState: {
          running: { terminated: { exitCode: 1, containerID: emptyContainerID } },
        },
      },
      {
        name: "terminated: waiting with a recent start error, unless not to be restarted",
        containers: [{ name: "without-reason" }, { name: "with-reason" }],
        statuses: [
          kstatus("without-reason", ContainerState.Exited, { exitCode: 1 }),
          kstatus("with-reason", ContainerState.Exited, { exitCode: 2 }),
          kstatus("without-reason", ContainerState.Exited, { exitCode: 3 }),
          kstatus("with-reason", ContainerState.Exited, { exitCode: 4 }),
          kstatus("succeed", ContainerState.Exited, { exitCode: 0 }),
          kstatus("succeed", ContainerState.Exited, { exitCode: 5 }),
        ],
        reasons: { "with-reason": "test-error", succeed: "test-error" },
        oldStatuses: [],
        expectedState: {
          "without-reason": { terminated: { exitCode: 1, containerID: emptyContainerID } },
          "with-reason": { waiting: { reason: "test-error" } },
          succeed: { terminated: { exitCode: 0, containerID: emptyContainerID } },
        },
        expectedLastTerminationState: {
          "without-reason": { terminated: { exitCode: 3, containerID: emptyContainerID } },
          "with-reason": { terminated: { exitCode: 2, containerID: emptyContainerID } },
          succeed: { terminated: { exitCode: 5, containerID: emptyContainerID } },
        },
      },
      {
        name: "unknown after running: terminated, not waiting",
        containers: [{ name: "unknown" }],
        statuses: [kstatus("unknown", ContainerState.Unknown), kstatus("unknown", ContainerState.Running)],
        reasons: {},
        oldStatuses: [cstatus("unknown", { running: {} })],
        expectedState: {
          unknown: {
            terminated: {
              exitCode: 137,
              message: "The container could not be located when the pod was terminated",
              reason: "ContainerStatusUnknown",
            },
          },
        },
        expectedLastTerminationState: { unknown: { running: {} } },
      },
    ];
    for (const c of cases) {
      for (const init of [false, true]) {
        test(`${c.name}${init ? " (init containers)" : ""}`, () => {
          const reasons = new Map(Object.entries(c.reasons).map(([n, r]) => [n, { reason: r, message: "" }]));
          const pod = podWith(
            {
              restartPolicy: "OnFailure",
              ...(init ? { initContainers: c.containers } : { containers: c.containers }),
            },
            init ? { initContainerStatuses: c.oldStatuses } : { containerStatuses: c.oldStatuses },
          );
          const api = generateAPIPodStatus(pod, podStatusOf(pod, c.statuses), false, deps({ reasons }));
          const got = (init ? api.initContainerStatuses : api.containerStatuses) ?? [];
          const expectedState = (init && c.expectedInitState) || c.expectedState;
          for (const s of got) {
            assert.deepEqual(s.state, expectedState[s.name], `${s.name}: state`);
            assert.deepEqual(
              s.lastState,
              c.expectedLastTerminationState[s.name] ?? {},
              `${s.name}: last state`,
            );
          }
        });
      }
    }
  });

  // TestGenerateAPIPodStatusWithDifferentRestartPolicies
  describe("with different restart policies", () => {
    const emptyContainerID = "://";
    const term = (exitCode: number): v1.ContainerState => ({
      terminated: { exitCode, containerID: emptyContainerID },
    });
    const testError: v1.ContainerState = { waiting: { reason: "test-error" } };
    const cases: {
      restartPolicy: string;
      expectedState: Record<string, v1.ContainerState>;
      expectedLast: Record<string, v1.ContainerState>;
      expectedInitState?: Record<string, v1.ContainerState>;
      expectedInitLast?: Record<string, v1.ContainerState>;
    }[] = [
      {
        restartPolicy: "Never",
        expectedState: { succeed: term(0), failed: term(1) },
        expectedLast: { succeed: term(2), failed: term(3) },
      },
      {
        restartPolicy: "OnFailure",
        expectedState: { succeed: term(0), failed: testError },
        expectedLast: { succeed: term(2), failed: term(1) },
      },
      {
        restartPolicy: "Always",
        expectedState: { succeed: testError, failed: testError },
        expectedLast: { succeed: term(0), failed: term(1) },
        // An init container that exited 0 is not restarted even with restartPolicy Always.
        expectedInitState: { succeed: term(0), failed: testError },
        expectedInitLast: { succeed: term(2), failed: term(1) },
      },
    ];
    const statuses = [
      kstatus("succeed", ContainerState.Exited, { exitCode: 0 }),
      kstatus("failed", ContainerState.Exited, { exitCode: 1 }),
      kstatus("succeed", ContainerState.Exited, { exitCode: 2 }),
      kstatus("failed", ContainerState.Exited, { exitCode: 3 }),
    ];
    const reasons = new Map<string, ContainerWaitingReason>([
      ["succeed", { reason: "test-error", message: "" }],
      ["failed", { reason: "test-error", message: "" }],
    ]);
    const containers = [{ name: "succeed" }, { name: "failed" }];
    for (const c of cases) {
      test(`restartPolicy ${c.restartPolicy}`, () => {
        for (const init of [false, true]) {
          const pod = podWith({
            restartPolicy: c.restartPolicy,
            ...(init ? { initContainers: containers } : { containers }),
          });
          const api = generateAPIPodStatus(pod, podStatusOf(pod, statuses), false, deps({ reasons }));
          const want = init ? (c.expectedInitState ?? c.expectedState) : c.expectedState;
          const wantLast = init ? (c.expectedInitLast ?? c.expectedLast) : c.expectedLast;
          for (const s of (init ? api.initContainerStatuses : api.containerStatuses) ?? []) {
            assert.deepEqual(s.state, want[s.name], `${init ? "init " : ""}${s.name}: state`);
            assert.deepEqual(s.lastState, wantLast[s.name], `${init ? "init " : ""}${s.name}: last state`);
          }
        }
      });
    }
  });

  // Test_generateAPIPodStatus. Upstream's fake prober marks every container ready; the real rules
  // apply here, under which a waiting container is neither started nor ready.
  describe("phase, conditions and host IP", () => {
    const spec: v1.PodSpec = {
      containers: [{ name: "containerA" }, { name: "containerB" }],
      restartPolicy: "Always",
    };
    const now = "2024-05-06T07:08:09Z";
    const running = [runningState("containerA"), runningState("containerB")];
    const lastUnknown = (name: string, restartCount: number): v1.ContainerStatus => ({
      name,
      image: "",
      imageID: "",
      ready: false,
      started: false,
      restartCount,
      state: { waiting: { reason: ContainerCreating } },
      lastState: {
        terminated: {
          reason: "ContainerStatusUnknown",
          message:
            "The container could not be located when the pod was deleted.  The container used to be Running",
          exitCode: 137,
        },
      },
    });
    const notReady = {
      reason: ContainersNotReady,
      message: "containers with unready status: [containerA containerB]",
    };
    const cases: {
      name: string;
      pod: v1.Pod;
      previousStatus: v1.PodStatus;
      isPodTerminal?: boolean;
      expected: v1.PodStatus;
    }[] = [
      {
        name: "pod disruption condition is copied over and the phase is set to failed when deleted",
        pod: podWith(
          spec,
          {
            containerStatuses: running,
            conditions: [{ type: "DisruptionTarget", status: "True", lastTransitionTime: now }],
          },
          { deletionTimestamp: now },
        ),
        previousStatus: {
          containerStatuses: running,
          conditions: [{ type: "DisruptionTarget", status: "True", lastTransitionTime: now }],
        },
        isPodTerminal: true,
        expected: {
          phase: "Failed",
          hostIP: "127.0.0.1",
          qosClass: "BestEffort",
          conditions: [
            { type: "DisruptionTarget", status: "True", lastTransitionTime: now },
            { type: "Initialized", status: "True" },
            { type: "Ready", status: "False", reason: "PodFailed" },
            { type: "ContainersReady", status: "False", reason: "PodFailed" },
            { type: "PodScheduled", status: "True" },
          ],
          containerStatuses: [lastUnknown("containerA", 0), lastUnknown("containerB", 0)],
        },
      },
      {
        name: "current status ready, with previous statuses and deletion",
        pod: podWith(spec, { containerStatuses: running }, { deletionTimestamp: now }),
        previousStatus: { containerStatuses: running },
        expected: {
          phase: "Running",
          hostIP: "127.0.0.1",
          qosClass: "BestEffort",
          conditions: [
            { type: "Initialized", status: "True" },
            { type: "Ready", status: "False", ...notReady },
            { type: "ContainersReady", status: "False", ...notReady },
            { type: "PodScheduled", status: "True" },
          ],
          containerStatuses: [lastUnknown("containerA", 0), lastUnknown("containerB", 0)],
        },
      },
      {
        name: "current status ready, with previous statuses and no deletion",
        pod: podWith(spec, { containerStatuses: running }),
        previousStatus: { containerStatuses: running },
        expected: {
          phase: "Running",
          hostIP: "127.0.0.1",
          qosClass: "BestEffort",
          conditions: [
            { type: "Initialized", status: "True" },
            { type: "Ready", status: "False", ...notReady },
            { type: "ContainersReady", status: "False", ...notReady },
            { type: "PodScheduled", status: "True" },
          ],
          containerStatuses: [lastUnknown("containerA", 1), lastUnknown("containerB", 1)],
        },
      },
      {
        name: "terminal phase cannot be changed (apiserver previous is succeeded)",
        pod: podWith(spec, { phase: "Succeeded", containerStatuses: running }),
        previousStatus: { containerStatuses: running },
        expected: {
          phase: "Succeeded",
          hostIP: "127.0.0.1",
          qosClass: "BestEffort",
          conditions: [
            { type: "Initialized", status: "True", reason: PodCompleted },
            { type: "Ready", status: "False", reason: PodCompleted },
            { type: "ContainersReady", status: "False", reason: PodCompleted },
            { type: "PodScheduled", status: "True" },
          ],
          containerStatuses: [lastUnknown("containerA", 1), lastUnknown("containerB", 1)],
        },
      },
      {
        name: "terminal phase from previous status must remain terminal, restartAlways",
        pod: podWith(spec, { phase: "Running", containerStatuses: running }),
        previousStatus: { phase: "Succeeded", containerStatuses: running, reason: "Test", message: "test" },
        expected: {
          phase: "Succeeded",
          reason: "Test",
          message: "test",
          hostIP: "127.0.0.1",
          qosClass: "BestEffort",
          conditions: [
            { type: "Initialized", status: "True", reason: PodCompleted },
            { type: "Ready", status: "False", reason: PodCompleted },
            { type: "ContainersReady", status: "False", reason: PodCompleted },
            { type: "PodScheduled", status: "True" },
          ],
          containerStatuses: [lastUnknown("containerA", 1), lastUnknown("containerB", 1)],
        },
      },
    ];
    for (const c of cases) {
      test(c.name, () => {
        const got = generateAPIPodStatus(
          c.pod,
          podStatusOf(c.pod, []),
          c.isPodTerminal ?? false,
          deps({ oldPodStatus: c.previousStatus, nodeIPs: ["127.0.0.1"] }),
        );
        assert.deepEqual(got, c.expected);
      });
    }
  });

  test("running containers: ready without probes, pod IPs in the node's family order, host network", () => {
    const pod = podWith({ containers: [{ name: "a", image: "busybox" }] });
    const status = podStatusOf(
      pod,
      [
        kstatus("a", ContainerState.Running, {
          id: { type: "containerd", id: "abc" },
          startedAt: new Date(1_700_000_000_000),
        }),
      ],
      ["fd00::5", "10.1.2.3"],
    );
    const got = generateAPIPodStatus(pod, status, false, deps({ nodeIPs: ["192.168.0.2"] }));
    assert.equal(got.phase, "Running");
    assert.equal(got.podIP, "10.1.2.3");
    assert.deepEqual(got.podIPs, [{ ip: "10.1.2.3" }, { ip: "fd00::5" }]);
    assert.deepEqual(got.containerStatuses, [
      {
        name: "a",
        state: { running: { startedAt: "2023-11-14T22:13:20Z" } },
        lastState: {},
        ready: true,
        started: true,
        restartCount: 0,
        image: "",
        imageID: "",
        containerID: "containerd://abc",
      },
    ]);
    assert.deepEqual(
      got.conditions?.map((c) => [c.type, c.status]),
      [
        ["Initialized", "True"],
        ["Ready", "True"],
        ["ContainersReady", "True"],
        ["PodScheduled", "True"],
      ],
    );

    const hostPod = podWith({ containers: [{ name: "a" }], hostNetwork: true });
    const hostStatus = generateAPIPodStatus(
      hostPod,
      podStatusOf(hostPod, []),
      false,
      deps({ nodeIPs: ["192.168.0.2", "fd00::2"] }),
    );
    assert.equal(hostStatus.podIP, "192.168.0.2");
    assert.deepEqual(hostStatus.podIPs, [{ ip: "192.168.0.2" }, { ip: "fd00::2" }]);
  });

  test("a pod sync handler can fail the pod", () => {
    const pod = podWith({ containers: [{ name: "a" }] });
    const got = generateAPIPodStatus(pod, podStatusOf(pod, []), false, {
      ...deps(),
      podSyncHandlers: [
        () => ({ evict: false }),
        () => ({
          evict: true,
          reason: "DeadlineExceeded",
          message: "Pod was active on the node longer than the specified deadline",
        }),
      ],
    });
    assert.equal(got.phase, "Failed");
    assert.equal(got.reason, "DeadlineExceeded");
  });
});

// TestConvertToAPIContainerStatuses
describe("convertToAPIContainerStatuses", () => {
  const spec: v1.PodSpec = {
    containers: [{ name: "containerA" }, { name: "containerB" }],
    restartPolicy: "Always",
  };
  const waitingWithLastTerminationUnknown = (name: string, restartCount: number): v1.ContainerStatus => ({
    name,
    image: "",
    imageID: "",
    ready: false,
    restartCount,
    state: { waiting: { reason: "ContainerCreating" } },
    lastState: {
      terminated: {
        reason: "ContainerStatusUnknown",
        message:
          "The container could not be located when the pod was deleted.  The container used to be Running",
        exitCode: 137,
      },
    },
  });
  for (const [name, deletionTimestamp, restartCount] of [
    ["no current status, with previous statuses and deletion", "2024-01-01T00:00:00Z", 0],
    ["no current status, with previous statuses and no deletion", undefined, 1],
  ] as const) {
    test(name, () => {
      const pod = podWith(spec, undefined, deletionTimestamp ? { deletionTimestamp } : {});
      const previous = [runningState("containerA"), runningState("containerB")];
      const got = convertToAPIContainerStatuses(
        pod,
        podStatusOf(pod, []),
        previous,
        spec.containers,
        false,
        false,
        new Map(),
      );
      assert.deepEqual(got, [
        waitingWithLastTerminationUnknown("containerA", restartCount),
        waitingWithLastTerminationUnknown("containerB", restartCount),
      ]);
      // The previous statuses are not touched.
      assert.deepEqual(previous, [runningState("containerA"), runningState("containerB")]);
    });
  }
});

describe("conditions (status/generate_test.go)", () => {
  const ready = (name: string) => cstatus(name, {}, { ready: true });
  const notReady = (name: string) => cstatus(name, {}, { ready: false });
  const cond = (type: string, status: string, reason = "", message = ""): v1.PodCondition => ({
    type,
    status,
    ...(reason ? { reason } : {}),
    ...(message ? { message } : {}),
  });
  const restartable = (name: string): v1.Container => ({ name, restartPolicy: "Always" });

  test("ContainersReady (TestGenerateContainersReadyCondition)", () => {
    const rows: [v1.PodSpec, v1.ContainerStatus[] | undefined, string, v1.PodCondition][] = [
      [{ containers: [] }, undefined, "Running", cond("ContainersReady", "False", UnknownContainerStatuses)],
      [{ containers: [] }, [], "Running", cond("ContainersReady", "True")],
      [
        { containers: [{ name: "1234" }] },
        [],
        "Running",
        cond("ContainersReady", "False", ContainersNotReady, "containers with unknown status: [1234]"),
      ],
      [
        { containers: [{ name: "1234" }, { name: "5678" }] },
        [ready("1234"), ready("5678")],
        "Running",
        cond("ContainersReady", "True"),
      ],
      [
        { containers: [{ name: "1234" }, { name: "5678" }] },
        [ready("1234")],
        "Running",
        cond("ContainersReady", "False", ContainersNotReady, "containers with unknown status: [5678]"),
      ],
      [
        { containers: [{ name: "1234" }, { name: "5678" }] },
        [ready("1234"), notReady("5678")],
        "Running",
        cond("ContainersReady", "False", ContainersNotReady, "containers with unready status: [5678]"),
      ],
      [
        { containers: [{ name: "1234" }] },
        [notReady("1234")],
        "Succeeded",
        cond("ContainersReady", "False", PodCompleted),
      ],
      [
        { initContainers: [restartable("restartable-init-1")], containers: [{ name: "regular-1" }] },
        [ready("regular-1")],
        "Running",
        cond(
          "ContainersReady",
          "False",
          ContainersNotReady,
          "containers with unknown status: [restartable-init-1]",
        ),
      ],
      [
        {
          initContainers: [restartable("restartable-init-1"), restartable("restartable-init-2")],
          containers: [{ name: "regular-1" }],
        },
        [ready("restartable-init-1"), ready("restartable-init-2"), ready("regular-1")],
        "Running",
        cond("ContainersReady", "True"),
      ],
      [
        {
          initContainers: [restartable("restartable-init-1"), restartable("restartable-init-2")],
          containers: [{ name: "regular-1" }],
        },
        [ready("restartable-init-1"), notReady("restartable-init-2"), ready("regular-1")],
        "Running",
        cond(
          "ContainersReady",
          "False",
          ContainersNotReady,
          "containers with unready status: [restartable-init-2]",
        ),
      ],
      [
        { containers: [{ name: "1234" }] },
        [ready("1234")],
        "Failed",
        cond("ContainersReady", "False", "PodFailed"),
      ],
    ];
    for (const [i, [spec, statuses, phase, expected]] of rows.entries()) {
      assert.deepEqual(generateContainersReadyCondition(spec, statuses, phase), expected, `case ${i}`);
    }
  });

  test("Ready (TestGeneratePodReadyCondition)", () => {
    const gates = (...names: string[]) => names.map((conditionType) => ({ conditionType }));
    const rows: [v1.PodSpec, v1.PodCondition[], v1.ContainerStatus[] | undefined, string, v1.PodCondition][] =
      [
        [{ containers: [] }, [], undefined, "Running", cond("Ready", "False", UnknownContainerStatuses)],
        [{ containers: [] }, [], [], "Running", cond("Ready", "True")],
        [
          { containers: [{ name: "1234" }] },
          [],
          [],
          "Running",
          cond("Ready", "False", ContainersNotReady, "containers with unknown status: [1234]"),
        ],
        [
          { containers: [{ name: "1234" }, { name: "5678" }] },
          [],
          [ready("1234"), ready("5678")],
          "Running",
          cond("Ready", "True"),
        ],
        [
          { containers: [{ name: "1234" }, { name: "5678" }] },
          [],
          [ready("1234")],
          "Running",
          cond("Ready", "False", ContainersNotReady, "containers with unknown status: [5678]"),
        ],
        [
          { containers: [{ name: "1234" }, { name: "5678" }] },
          [],
          [ready("1234"), notReady("5678")],
          "Running",
          cond("Ready", "False", ContainersNotReady, "containers with unready status: [5678]"),
        ],
        [
          { containers: [{ name: "1234" }] },
          [],
          [notReady("1234")],
          "Succeeded",
          cond("Ready", "False", PodCompleted),
        ],
        [
          { containers: [], readinessGates: gates("gate1") },
          [],
          [],
          "Running",
          cond(
            "Ready",
            "False",
            ReadinessGatesNotReady,
            'corresponding condition of pod readiness gate "gate1" does not exist.',
          ),
        ],
        [
          { containers: [], readinessGates: gates("gate1") },
          [cond("gate1", "False")],
          [],
          "Running",
          cond(
            "Ready",
            "False",
            ReadinessGatesNotReady,
            'the status of pod readiness gate "gate1" is not "True", but False',
          ),
        ],
        [
          { containers: [], readinessGates: gates("gate1") },
          [cond("gate1", "True")],
          [],
          "Running",
          cond("Ready", "True"),
        ],
        [
          { containers: [], readinessGates: gates("gate1", "gate2") },
          [cond("gate1", "True")],
          [],
          "Running",
          cond(
            "Ready",
            "False",
            ReadinessGatesNotReady,
            'corresponding condition of pod readiness gate "gate2" does not exist.',
          ),
        ],
        [
          { containers: [], readinessGates: gates("gate1", "gate2") },
          [cond("gate1", "True"), cond("gate2", "False")],
          [],
          "Running",
          cond(
            "Ready",
            "False",
            ReadinessGatesNotReady,
            'the status of pod readiness gate "gate2" is not "True", but False',
          ),
        ],
        [
          { containers: [], readinessGates: gates("gate1", "gate2") },
          [cond("gate1", "True"), cond("gate2", "True")],
          [],
          "Running",
          cond("Ready", "True"),
        ],
        [
          { containers: [{ name: "1234" }], readinessGates: gates("gate1") },
          [cond("gate1", "True")],
          [notReady("1234")],
          "Running",
          cond("Ready", "False", ContainersNotReady, "containers with unready status: [1234]"),
        ],
      ];
    for (const [i, [spec, conditions, statuses, phase, expected]] of rows.entries()) {
      assert.deepEqual(generatePodReadyCondition(spec, conditions, statuses, phase), expected, `case ${i}`);
    }
  });

  test("Initialized (TestGeneratePodInitializedCondition)", () => {
    const noInit: v1.PodSpec = { containers: [] };
    const oneInit: v1.PodSpec = { initContainers: [{ name: "1234" }], containers: [{ name: "regular" }] };
    const twoInit: v1.PodSpec = {
      initContainers: [{ name: "1234" }, { name: "5678" }],
      containers: [{ name: "regular" }],
    };
    const oneRestartable: v1.PodSpec = {
      initContainers: [restartable("1234")],
      containers: [{ name: "regular" }],
    };
    const started = (name: string) => cstatus(name, {}, { started: true });
    const notStarted = (name: string) => cstatus(name, {}, { started: false });
    const rows: [v1.PodSpec, v1.ContainerStatus[] | undefined, string, string, string?][] = [
      [twoInit, undefined, "Running", "False", UnknownContainerStatuses],
      [noInit, [], "Running", "True"],
      [oneInit, [], "Running", "False", ContainersNotInitialized],
      [twoInit, [ready("1234"), ready("5678")], "Running", "True"],
      [twoInit, [ready("1234")], "Running", "False", ContainersNotInitialized],
      [twoInit, [ready("1234"), notReady("5678")], "Running", "False", ContainersNotInitialized],
      [oneInit, [ready("1234")], "Succeeded", "True", PodCompleted],
      [oneRestartable, [notStarted("1234")], "Pending", "False", ContainersNotInitialized],
      [oneRestartable, [started("1234")], "Running", "True"],
    ];
    for (const [i, [spec, statuses, phase, status, reason]] of rows.entries()) {
      const got = generatePodInitializedCondition(spec, statuses, phase);
      assert.deepEqual({ status: got.status, reason: got.reason }, { status, reason }, `case ${i}`);
    }
    assert.equal(
      generatePodInitializedCondition(twoInit, [ready("1234")], "Pending").message,
      "containers with unknown status: [5678]",
    );
    assert.equal(
      generatePodInitializedCondition(twoInit, [notReady("1234"), notReady("5678")], "Pending").message,
      "containers with incomplete status: [1234 5678]",
    );
  });
});

test("updatePodStatusFromProbes: started and ready from probe results (prober_manager_test.go TestUpdatePodStatus)", () => {
  const id = (n: string) => `test://${n}`;
  const results = (m: Record<string, ProbeResult>): ProbeResults => ({
    get: (cid) => m[containerIDString(cid)],
  });
  const probe: v1.Probe = { exec: { command: ["true"] } };
  const pod: v1.Pod = {
    spec: {
      containers: [
        { name: "unprobed" },
        { name: "probedReady", readinessProbe: probe },
        { name: "probedNotReady", readinessProbe: probe },
        { name: "probedUnknown", readinessProbe: probe },
        { name: "probedNotStarted", startupProbe: probe, readinessProbe: probe },
        { name: "terminated", readinessProbe: probe },
      ],
      initContainers: [{ name: "initDone" }, { name: "initFailed" }],
    },
  };
  const running = (name: string) => cstatus(name, { running: {} }, { containerID: id(name) });
  const status: v1.PodStatus = {
    containerStatuses: [
      running("unprobed"),
      running("probedReady"),
      running("probedNotReady"),
      running("probedUnknown"),
      running("probedNotStarted"),
      cstatus("terminated", { terminated: { exitCode: 0 } }, { containerID: id("terminated") }),
    ],
    initContainerStatuses: [
      cstatus("initDone", { terminated: { exitCode: 0 } }),
      cstatus("initFailed", { terminated: { exitCode: 1 } }),
    ],
  };
  updatePodStatusFromProbes(pod, status, {
    readinessManager: results({
      [id("probedReady")]: "success",
      [id("probedNotReady")]: "failure",
      [id("terminated")]: "success",
    }),
    startupManager: noProbes,
  });
  const got = Object.fromEntries(
    [...(status.containerStatuses ?? []), ...(status.initContainerStatuses ?? [])].map((s) => [
      s.name,
      [s.started, s.ready],
    ]),
  );
  assert.deepEqual(got, {
    unprobed: [true, true],
    probedReady: [true, true],
    probedNotReady: [true, false],
    probedUnknown: [true, false],
    probedNotStarted: [false, false],
    terminated: [false, false],
    initDone: [false, true],
    initFailed: [false, false],
  });
});

describe("prepareStatusUpdate (status_manager_test.go)", () => {
  const pod = podWith({ containers: [{ name: "a" }], restartPolicy: "Never" });
  const t0 = new Date("2024-01-01T00:00:00.750Z");
  const t1 = new Date("2024-01-01T00:05:00Z");

  test("sets transition times when a condition changes and keeps them otherwise (TestNewStatusSetsReadyTransitionTime)", () => {
    const first = prepareStatusUpdate(
      pod,
      { conditions: [cond("Ready", "False"), cond("PodScheduled", "True"), cond("gate", "True")] },
      undefined,
      t0,
    );
    assert.deepEqual(first.conditions, [
      { type: "Ready", status: "False", lastTransitionTime: "2024-01-01T00:00:00Z" },
      { type: "PodScheduled", status: "True", lastTransitionTime: "2024-01-01T00:00:00Z" },
      // Not the kubelet's: left as it came.
      { type: "gate", status: "True" },
    ]);
    const second = prepareStatusUpdate(
      pod,
      { conditions: [cond("Ready", "True"), cond("PodScheduled", "True")] },
      first,
      t1,
    );
    assert.deepEqual(second.conditions, [
      { type: "Ready", status: "True", lastTransitionTime: "2024-01-01T00:05:00Z" },
      { type: "PodScheduled", status: "True", lastTransitionTime: "2024-01-01T00:00:00Z" },
    ]);
    // The first start time stays (TestNewStatusPreservesPodStartTime).
    assert.equal(first.startTime, "2024-01-01T00:00:00Z");
    assert.equal(second.startTime, "2024-01-01T00:00:00Z");
  });

  test("refuses a terminated container coming back with restartPolicy Never", () => {
    const old: v1.PodStatus = { containerStatuses: [cstatus("a", { terminated: { exitCode: 0 } })] };
    assert.throws(
      () => prepareStatusUpdate(pod, { containerStatuses: [runningState("a")] }, old, t1),
      /terminated container a attempted illegal transition to non-terminated state/,
    );
    const always = podWith({ containers: [{ name: "a" }] });
    assert.doesNotThrow(() =>
      prepareStatusUpdate(always, { containerStatuses: [runningState("a")] }, old, t1),
    );
  });

  test("keeps termination messages within 12 KiB per pod (TestStatusNormalizationEnforcesMaxBytes)", () => {
    const many = podWith({ containers: Array.from({ length: 4 }, (_, i) => ({ name: `c${i}` })) });
    const big = "x".repeat(5000);
    const got = prepareStatusUpdate(
      many,
      {
        containerStatuses: [3, 1, 2, 0].map((i) =>
          cstatus(`c${i}`, {
            terminated: { exitCode: 1, message: big, finishedAt: "2024-01-01T00:00:00.5Z" },
          }),
        ),
      },
      undefined,
      t0,
    );
    assert.deepEqual(
      got.containerStatuses?.map((c) => [
        c.name,
        c.state?.terminated?.message?.length,
        c.state?.terminated?.finishedAt,
      ]),
      [0, 1, 2, 3].map((i) => [`c${i}`, 3072, "2024-01-01T00:00:00Z"]),
    );
  });

  function cond(type: string, status: string): v1.PodCondition {
    return { type, status };
  }
});

test("sortPodIPs takes one IP per family, the node's family first", () => {
  assert.deepEqual(sortPodIPs(["fd00::1", "10.0.0.1", "10.0.0.2"], []), ["10.0.0.1", "fd00::1"]);
  assert.deepEqual(sortPodIPs(["10.0.0.1", "fd00::1"], ["fd00::9"]), ["fd00::1", "10.0.0.1"]);
  assert.deepEqual(sortPodIPs(["192.168.1.5/24"], []), []);
});

test("updateReasonCache keeps failed starts only (reason_cache_test.go TestReasonCache)", () => {
  const result = new PodSyncResult();
  const failedStart = new SyncResult(SyncAction.StartContainer, "container_1");
  failedStart.fail(ErrRunContainer, "message_1");
  const okStart = new SyncResult(SyncAction.StartContainer, "container_2");
  const failedKill = new SyncResult(SyncAction.KillContainer, "container_3");
  failedKill.fail(ErrKillContainer, "message_3");
  result.addSyncResult(failedStart, okStart, failedKill);
  const reasons = new Map<string, ContainerWaitingReason>([["container_2", { reason: "old", message: "" }]]);
  updateReasonCache(reasons, result);
  assert.deepEqual([...reasons], [["container_1", { reason: ErrRunContainer, message: "message_1" }]]);
});
