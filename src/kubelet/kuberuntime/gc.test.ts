import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import {
  ContainerSchema,
  type Container as CriContainer,
  ContainerState as CriContainerState,
  type PodSandbox,
  PodSandboxSchema,
  PodSandboxState,
} from "../../cri/gen/runtime/v1/api_pb.js";
import { nowNs } from "../../lib/clock.js";
import type { GCPolicy } from "../container/container-gc.js";
import {
  evictableContainers,
  type PodStateProvider,
  parsePodUIDFromLogsDirectory,
  planContainerEvictions,
  planPodLogsDirectoryEvictions,
  planSandboxEvictions,
} from "./gc.js";
import { KubernetesContainerNameLabel, KubernetesPodUIDLabel } from "./labels.js";

const {
  CONTAINER_EXITED: EXITED,
  CONTAINER_RUNNING: RUNNING,
  CONTAINER_UNKNOWN: UNKNOWN,
} = CriContainerState;
const { SANDBOX_READY: READY, SANDBOX_NOTREADY: NOTREADY } = PodSandboxState;

/** Upstream's fakePodStateProvider: `removed` pods are deleted, `terminated` pods have stopped. */
function podState(removed: Iterable<string>, terminated: Iterable<string>): PodStateProvider {
  const r = new Set(removed);
  const t = new Set(terminated);
  return {
    shouldPodContentBeRemoved: (uid) => r.has(uid),
    shouldPodRuntimeBeRemoved: (uid) => t.has(uid),
  };
}

/** makeGCContainer: the pod's UID is its name, as makeTestPod(podName, "test-ns", podName, …) makes it. */
function makeGCContainer(
  pod: string,
  name: string,
  attempt: number,
  createdAt: bigint,
  state: CriContainerState,
  sandboxAttempt = 0,
): CriContainer {
  return create(ContainerSchema, {
    id: `${pod}_${name}_${attempt}`,
    podSandboxId: `${pod}_sandbox_${sandboxAttempt}`,
    metadata: { name, attempt },
    state,
    createdAt,
    labels: { [KubernetesPodUIDLabel]: pod, [KubernetesContainerNameLabel]: name },
  });
}

function makeGCSandbox(pod: string, attempt: number, state: PodSandboxState, createdAt: bigint): PodSandbox {
  return create(PodSandboxSchema, {
    id: `${pod}_sandbox_${attempt}`,
    metadata: { name: pod, namespace: "new", uid: pod, attempt },
    state,
    createdAt,
  });
}

function remaining<T extends { id: string }>(all: T[], removedIds: string[]): number[] {
  const gone = new Set(removedIds);
  return all.flatMap((x, i) => (gone.has(x.id) ? [] : [i]));
}

describe("planSandboxEvictions (kuberuntime_gc_test.go TestSandboxGC)", () => {
  // Pods foo1 and foo2 exist; "deleted" is gone (removed unless its sandbox has running containers).
  const cases: {
    description: string;
    sandboxes: {
      pod: string;
      attempt: number;
      state: PodSandboxState;
      running: boolean;
      terminating: boolean;
      createdAt: bigint;
    }[];
    containers: CriContainer[];
    remain: number[];
    evictTerminatingPods: boolean;
  }[] = [
    {
      description: "notready sandboxes without containers for deleted pods should be garbage collected.",
      sandboxes: [
        { pod: "deleted", attempt: 0, state: NOTREADY, running: false, terminating: false, createdAt: 0n },
      ],
      containers: [],
      remain: [],
      evictTerminatingPods: false,
    },
    {
      description: "ready sandboxes without containers for deleted pods should not be garbage collected.",
      sandboxes: [
        { pod: "deleted", attempt: 0, state: READY, running: false, terminating: false, createdAt: 0n },
      ],
      containers: [],
      remain: [0],
      evictTerminatingPods: false,
    },
    {
      description: "sandboxes for existing pods should not be garbage collected.",
      sandboxes: [
        { pod: "foo1", attempt: 0, state: READY, running: true, terminating: false, createdAt: 0n },
        { pod: "foo2", attempt: 0, state: NOTREADY, running: true, terminating: false, createdAt: 0n },
      ],
      containers: [],
      remain: [0, 1],
      evictTerminatingPods: false,
    },
    {
      description:
        "older exited sandboxes without containers for existing pods should be garbage collected if there are more than one exited sandboxes.",
      sandboxes: [
        { pod: "foo1", attempt: 1, state: NOTREADY, running: true, terminating: false, createdAt: 1n },
        { pod: "foo1", attempt: 0, state: NOTREADY, running: true, terminating: false, createdAt: 0n },
      ],
      containers: [],
      remain: [0],
      evictTerminatingPods: false,
    },
    {
      description:
        "older exited sandboxes with containers for existing pods should not be garbage collected even if there are more than one exited sandboxes.",
      sandboxes: [
        { pod: "foo1", attempt: 1, state: NOTREADY, running: true, terminating: false, createdAt: 1n },
        { pod: "foo1", attempt: 0, state: NOTREADY, running: true, terminating: false, createdAt: 0n },
      ],
      containers: [makeGCContainer("foo1", "bar1", 0, 0n, EXITED, 0)],
      remain: [0, 1],
      evictTerminatingPods: false,
    },
    {
      description:
        "non-running sandboxes for existing pods should be garbage collected if evictTerminatingPods is set.",
      sandboxes: [
        { pod: "foo1", attempt: 0, state: READY, running: true, terminating: true, createdAt: 0n },
        { pod: "foo2", attempt: 0, state: NOTREADY, running: true, terminating: true, createdAt: 0n },
      ],
      containers: [],
      remain: [0],
      evictTerminatingPods: true,
    },
    {
      description: "sandbox with containers should not be garbage collected.",
      sandboxes: [
        { pod: "foo1", attempt: 0, state: NOTREADY, running: false, terminating: false, createdAt: 0n },
      ],
      containers: [makeGCContainer("foo1", "bar1", 0, 0n, EXITED, 0)],
      remain: [0],
      evictTerminatingPods: false,
    },
    {
      description: "multiple sandboxes should be handled properly.",
      sandboxes: [
        // running sandbox.
        { pod: "foo1", attempt: 1, state: READY, running: true, terminating: false, createdAt: 1n },
        // exited sandbox without containers.
        { pod: "foo1", attempt: 0, state: NOTREADY, running: true, terminating: false, createdAt: 0n },
        // exited sandbox with containers.
        { pod: "foo2", attempt: 1, state: NOTREADY, running: true, terminating: false, createdAt: 1n },
        // exited sandbox without containers.
        { pod: "foo2", attempt: 0, state: NOTREADY, running: true, terminating: false, createdAt: 0n },
        // exited sandbox without containers for deleted pods.
        { pod: "deleted", attempt: 0, state: NOTREADY, running: false, terminating: true, createdAt: 0n },
      ],
      containers: [makeGCContainer("foo2", "bar3", 0, 0n, EXITED, 1)],
      remain: [0, 2],
      evictTerminatingPods: false,
    },
  ];
  for (const c of cases) {
    test(c.description, () => {
      const removed = c.sandboxes.filter((s) => !s.running && s.pod === "deleted").map((s) => s.pod);
      const terminated = c.sandboxes.filter((s) => s.terminating).map((s) => s.pod);
      const sandboxes = c.sandboxes.map((s) => makeGCSandbox(s.pod, s.attempt, s.state, s.createdAt));
      const plan = planSandboxEvictions(
        c.containers,
        sandboxes,
        c.evictTerminatingPods,
        podState(removed, terminated),
      );
      assert.deepEqual(remaining(sandboxes, plan), c.remain);
    });
  }
});

describe("planContainerEvictions (kuberuntime_gc_test.go TestContainerGC)", () => {
  const defaultGCPolicy: GCPolicy = { minAgeMs: 3_600_000, maxPerPodContainer: 2, maxContainers: 6 };
  const minute = 60_000;
  const g = makeGCContainer;
  const cases: {
    description: string;
    containers: CriContainer[];
    policy?: GCPolicy;
    remain: number[];
    evictTerminatingPods: boolean;
    allSourcesReady: boolean;
  }[] = [
    {
      description: "all containers should be removed when max container limit is 0",
      containers: [g("foo", "bar", 0, 0n, EXITED)],
      policy: { minAgeMs: minute, maxPerPodContainer: 1, maxContainers: 0 },
      remain: [],
      evictTerminatingPods: false,
      allSourcesReady: true,
    },
    {
      description: "max containers should be complied when no max per pod container limit is set",
      containers: [
        g("foo", "bar", 4, 4n, EXITED),
        g("foo", "bar", 3, 3n, EXITED),
        g("foo", "bar", 2, 2n, EXITED),
        g("foo", "bar", 1, 1n, EXITED),
        g("foo", "bar", 0, 0n, EXITED),
      ],
      policy: { minAgeMs: minute, maxPerPodContainer: -1, maxContainers: 4 },
      remain: [0, 1, 2, 3],
      evictTerminatingPods: false,
      allSourcesReady: true,
    },
    {
      description:
        "no containers should be removed if both max container and per pod container limits are not set",
      containers: [
        g("foo", "bar", 2, 2n, EXITED),
        g("foo", "bar", 1, 1n, EXITED),
        g("foo", "bar", 0, 0n, EXITED),
      ],
      policy: { minAgeMs: minute, maxPerPodContainer: -1, maxContainers: -1 },
      remain: [0, 1, 2],
      evictTerminatingPods: false,
      allSourcesReady: true,
    },
    {
      description: "recently started containers should not be removed",
      containers: [
        g("foo", "bar", 2, nowNs(), EXITED),
        g("foo", "bar", 1, nowNs(), EXITED),
        g("foo", "bar", 0, nowNs(), EXITED),
      ],
      remain: [0, 1, 2],
      evictTerminatingPods: false,
      allSourcesReady: true,
    },
    {
      description: "oldest containers should be removed when per pod container limit exceeded",
      containers: [
        g("foo", "bar", 2, 2n, EXITED),
        g("foo", "bar", 1, 1n, EXITED),
        g("foo", "bar", 0, 0n, EXITED),
      ],
      remain: [0, 1],
      evictTerminatingPods: false,
      allSourcesReady: true,
    },
    {
      description: "running containers should not be removed",
      containers: [
        g("foo", "bar", 2, 2n, EXITED),
        g("foo", "bar", 1, 1n, EXITED),
        g("foo", "bar", 0, 0n, RUNNING),
      ],
      remain: [0, 1, 2],
      evictTerminatingPods: false,
      allSourcesReady: true,
    },
    {
      description: "no containers should be removed when limits are not exceeded",
      containers: [g("foo", "bar", 1, 1n, EXITED), g("foo", "bar", 0, 0n, EXITED)],
      remain: [0, 1],
      evictTerminatingPods: false,
      allSourcesReady: true,
    },
    {
      description: "max container count should apply per (UID, container) pair",
      containers: [
        g("foo", "bar", 2, 2n, EXITED),
        g("foo", "bar", 1, 1n, EXITED),
        g("foo", "bar", 0, 0n, EXITED),
        g("foo1", "baz", 2, 2n, EXITED),
        g("foo1", "baz", 1, 1n, EXITED),
        g("foo1", "baz", 0, 0n, EXITED),
        g("foo2", "bar", 2, 2n, EXITED),
        g("foo2", "bar", 1, 1n, EXITED),
        g("foo2", "bar", 0, 0n, EXITED),
      ],
      remain: [0, 1, 3, 4, 6, 7],
      evictTerminatingPods: false,
      allSourcesReady: true,
    },
    {
      description: "max limit should apply and try to keep from every pod",
      containers: [
        g("foo", "bar", 1, 1n, EXITED),
        g("foo", "bar", 0, 0n, EXITED),
        g("foo1", "bar1", 1, 1n, EXITED),
        g("foo1", "bar1", 0, 0n, EXITED),
        g("foo2", "bar2", 1, 1n, EXITED),
        g("foo2", "bar2", 0, 0n, EXITED),
        g("foo3", "bar3", 1, 1n, EXITED),
        g("foo3", "bar3", 0, 0n, EXITED),
        g("foo4", "bar4", 1, 1n, EXITED),
        g("foo4", "bar4", 0, 0n, EXITED),
      ],
      remain: [0, 2, 4, 6, 8],
      evictTerminatingPods: false,
      allSourcesReady: true,
    },
    {
      description: "oldest pods should be removed if limit exceeded",
      containers: [
        g("foo", "bar", 2, 2n, EXITED),
        g("foo", "bar", 1, 1n, EXITED),
        g("foo1", "bar1", 2, 2n, EXITED),
        g("foo1", "bar1", 1, 1n, EXITED),
        g("foo2", "bar2", 1, 1n, EXITED),
        g("foo3", "bar3", 0, 0n, EXITED),
        g("foo4", "bar4", 1, 1n, EXITED),
        g("foo5", "bar5", 0, 0n, EXITED),
        g("foo6", "bar6", 2, 2n, EXITED),
        g("foo7", "bar7", 1, 1n, EXITED),
      ],
      remain: [0, 2, 4, 6, 8, 9],
      evictTerminatingPods: false,
      allSourcesReady: true,
    },
    {
      description: "all non-running containers should be removed when evictTerminatingPods is set",
      containers: [
        g("foo", "bar", 2, 2n, EXITED),
        g("foo", "bar", 1, 1n, EXITED),
        g("foo1", "bar1", 2, 2n, EXITED),
        g("foo1", "bar1", 1, 1n, EXITED),
        g("running", "bar2", 1, 1n, EXITED),
        g("foo3", "bar3", 0, 0n, RUNNING),
      ],
      remain: [4, 5],
      evictTerminatingPods: true,
      allSourcesReady: true,
    },
    {
      description: "containers for deleted pods should be removed",
      containers: [
        g("foo", "bar", 1, 1n, EXITED),
        g("foo", "bar", 0, 0n, EXITED),
        // deleted pods still respect MinAge.
        g("deleted", "bar1", 2, nowNs(), EXITED),
        g("deleted", "bar1", 1, 1n, EXITED),
        g("deleted", "bar1", 0, 0n, EXITED),
      ],
      remain: [0, 1, 2],
      evictTerminatingPods: false,
      allSourcesReady: true,
    },
    {
      description: "containers for deleted pods may not be removed if allSourcesReady is set false ",
      containers: [g("deleted", "bar1", 0, 0n, EXITED)],
      remain: [0],
      evictTerminatingPods: true,
      allSourcesReady: false,
    },
  ];
  for (const c of cases) {
    test(c.description, () => {
      const pods = c.containers.map((x) => x.labels[KubernetesPodUIDLabel] ?? "");
      const state = podState(
        pods.filter((p) => p === "deleted"),
        pods.filter((p) => p !== "running"),
      );
      const policy = c.policy ?? defaultGCPolicy;
      const units = evictableContainers(c.containers, policy.minAgeMs, nowNs());
      const plan = planContainerEvictions(units, policy, c.allSourcesReady, c.evictTerminatingPods, state);
      assert.deepEqual(
        remaining(
          c.containers,
          plan.map((x) => x.id),
        ),
        c.remain,
      );
    });
  }

  test("the oldest go first and the newest stays (removeOldestN)", () => {
    const containers = [
      g("foo", "bar", 1, 1n, EXITED),
      g("foo", "bar", 3, 3n, EXITED),
      g("foo", "bar", 2, 2n, EXITED),
    ];
    const units = evictableContainers(containers, 0, nowNs());
    const policy: GCPolicy = { minAgeMs: 0, maxPerPodContainer: 1, maxContainers: -1 };
    const plan = planContainerEvictions(units, policy, true, false, podState([], []));
    assert.deepEqual(
      plan.map((x) => x.id),
      ["foo_bar_1", "foo_bar_2"],
    );
  });
});

describe("evictContainers with an unknown-state container (kuberuntime_gc_test.go TestUnknownStateContainerGC)", () => {
  test("a container in an unknown state is planned for removal and marked to be stopped first", () => {
    const containers = [makeGCContainer("foo", "bar", 0, 0n, UNKNOWN)];
    const units = evictableContainers(containers, 3_600_000, nowNs());
    const plan = planContainerEvictions(
      units,
      { minAgeMs: 3_600_000, maxPerPodContainer: 0, maxContainers: 0 },
      true,
      false,
      podState([], []),
    );
    assert.deepEqual(plan, [{ id: "foo_bar_0", name: "bar", createTime: 0n, unknown: true }]);
  });
});

describe("planPodLogsDirectoryEvictions (kuberuntime_gc_test.go TestPodLogDirectoryGC)", () => {
  const files = ["123", "456", "789", "012", "name_namespace_321", "name_namespace_654"];
  const state = podState(["012", "789", "654"], []);

  test("with all sources ready, directories of pods that are gone are removed", () => {
    assert.deepEqual(planPodLogsDirectoryEvictions(files, true, state), ["789", "012", "name_namespace_654"]);
  });

  test("before all sources are ready, nothing is removed", () => {
    assert.deepEqual(planPodLogsDirectoryEvictions(files, false, state), []);
  });

  test("the UID is the last part of <namespace>_<name>_<uid>", () => {
    assert.equal(parsePodUIDFromLogsDirectory("default_web_0b6e-11"), "0b6e-11");
    assert.equal(parsePodUIDFromLogsDirectory("123"), "123");
  });
});
