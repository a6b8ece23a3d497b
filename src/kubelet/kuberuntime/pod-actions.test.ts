import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import type { Container, Pod } from "kubernetes-types/core/v1.js";
import { NamespaceMode, PodSandboxState, PodSandboxStatusSchema } from "../../cri/gen/runtime/v1/api_pb.js";
import { hashContainer } from "../container/hash.js";
import {
  type ContainerID,
  ContainerState,
  containerIDString,
  type PodStatus,
  type Status,
} from "../container/runtime.js";
import { featureGates } from "../features/features.js";
import { computePodActions, type PodActions, type ProbeResult, podSandboxChanged } from "./pod-actions.js";

// The prober's results as upstream's tests drive them (proberesults.Manager Set/Remove/Get).
class ProbeResultsTable {
  private readonly results = new Map<string, ProbeResult>();
  set(id: ContainerID, result: ProbeResult) {
    this.results.set(containerIDString(id), result);
  }
  remove(id: ContainerID) {
    this.results.delete(containerIDString(id));
  }
  get(id: ContainerID) {
    return this.results.get(containerIDString(id));
  }
}

interface Env {
  liveness: ProbeResultsTable;
  startup: ProbeResultsTable;
}

function containerStatus(id: string, name: string, state: ContainerState, hash: string): Status {
  return {
    id: { type: "", id },
    name,
    state,
    hash,
    exitCode: 0,
    createdAt: new Date(0),
    image: "",
    imageID: "",
    restartCount: 0,
    reason: "",
    message: "",
  };
}

// makeBasePodAndStatus: a pod whose sandbox and three containers all run as specified.
function makeBasePodAndStatus(): { pod: Pod; status: PodStatus } {
  const pod: Pod = {
    metadata: { uid: "12345678", name: "foo", namespace: "foo-ns" },
    spec: {
      containers: [
        { name: "foo1", image: "busybox" },
        { name: "foo2", image: "busybox" },
        { name: "foo3", image: "busybox" },
      ],
    },
  };
  const containers = pod.spec?.containers ?? [];
  const status: PodStatus = {
    id: "12345678",
    name: "foo",
    namespace: "foo-ns",
    ips: [],
    timeStamp: new Date(0),
    sandboxStatuses: [
      create(PodSandboxStatusSchema, {
        id: "sandboxID",
        state: PodSandboxState.SANDBOX_READY,
        metadata: { name: "foo", namespace: "foo-ns", uid: "sandboxuid", attempt: 0 },
        network: { ip: "10.0.0.1" },
      }),
    ],
    containerStatuses: containers.map((c, i) =>
      containerStatus(`id${i + 1}`, c.name, ContainerState.Running, hashContainer(c)),
    ),
  };
  return { pod, status };
}

// makeBasePodAndStatusWithInitContainers: three init containers that all completed, no regular
// container has run yet.
function makeBasePodAndStatusWithInitContainers(): { pod: Pod; status: PodStatus } {
  const { pod, status } = makeBasePodAndStatus();
  const init: Container[] = [1, 2, 3].map((i) => ({ name: `init${i}`, image: "bar-image" }));
  (pod.spec ?? { containers: [] }).initContainers = init;
  status.containerStatuses = init.map((c, i) =>
    containerStatus(`initid${i + 1}`, c.name, ContainerState.Exited, hashContainer(init[0] as Container)),
  );
  return { pod, status };
}

// makeBasePodAndStatusWithRestartableInitContainers: three running sidecars, two of them probed.
function makeBasePodAndStatusWithRestartableInitContainers(): { pod: Pod; status: PodStatus } {
  const { pod, status } = makeBasePodAndStatus();
  const init: Container[] = [
    { name: "restartable-init-1", image: "bar-image", restartPolicy: "Always" },
    {
      name: "restartable-init-2",
      image: "bar-image",
      restartPolicy: "Always",
      livenessProbe: {},
      startupProbe: {},
    },
    {
      name: "restartable-init-3",
      image: "bar-image",
      restartPolicy: "Always",
      livenessProbe: {},
      startupProbe: {},
    },
  ];
  (pod.spec ?? { containers: [] }).initContainers = init;
  status.containerStatuses = init.map((c, i) =>
    containerStatus(`initid${i + 1}`, c.name, ContainerState.Running, hashContainer(init[0] as Container)),
  );
  return { pod, status };
}

// makeBasePodAndStatusWithInitAndEphemeralContainers: initialized, running, with a running debug container.
function makeBasePodAndStatusWithInitAndEphemeralContainers(): { pod: Pod; status: PodStatus } {
  const { pod, status } = makeBasePodAndStatus();
  const spec = pod.spec ?? { containers: [] };
  spec.initContainers = [{ name: "init1", image: "bar-image" }];
  spec.ephemeralContainers = [{ name: "debug", image: "busybox" }];
  status.containerStatuses.push(
    containerStatus(
      "initid1",
      "init1",
      ContainerState.Exited,
      hashContainer(spec.initContainers[0] as Container),
    ),
    containerStatus(
      "debug1",
      "debug",
      ContainerState.Running,
      hashContainer(spec.ephemeralContainers[0] as Container),
    ),
  );
  return { pod, status };
}

type KillEntry = [string, { id: ContainerID; container: Container; name: string }];

/** Expected podActions, with upstream's zero values for what a case leaves out. */
interface Expected {
  killPod?: boolean;
  createSandbox?: boolean;
  sandboxID?: string;
  attempt?: number;
  nextInitContainerToStart?: Container;
  initContainersToStart?: number[];
  containersToStart?: number[];
  containersToKill?: KillEntry[];
  ephemeralContainersToStart?: number[];
}

// getKillMap / getKillMapWithInitContainers: status i is killed, with spec i of the given list.
function killMap(pod: Pod, status: PodStatus, indexes: number[], list: "containers" | "initContainers") {
  return indexes.map((i): KillEntry => {
    const s = status.containerStatuses[i] as Status;
    const c = (pod.spec?.[list] ?? [])[i] as Container;
    return [containerIDString(s.id), { id: s.id, container: c, name: c.name }];
  });
}

// verifyActions: message and reason are not compared.
function verifyActions(actual: PodActions, expected: Expected) {
  const kills = [...actual.containersToKill].map(
    ([key, info]): KillEntry => [key, { id: info.id, container: info.container, name: info.name }],
  );
  assert.deepEqual(
    {
      killPod: actual.killPod,
      createSandbox: actual.createSandbox,
      sandboxID: actual.sandboxID,
      attempt: actual.attempt,
      nextInitContainerToStart: actual.nextInitContainerToStart,
      initContainersToStart: actual.initContainersToStart,
      containersToStart: actual.containersToStart,
      containersToKill: kills.sort(([a], [b]) => a.localeCompare(b)),
      ephemeralContainersToStart: actual.ephemeralContainersToStart,
    },
    {
      killPod: expected.killPod ?? false,
      createSandbox: expected.createSandbox ?? false,
      sandboxID: expected.sandboxID ?? "",
      attempt: expected.attempt ?? 0,
      nextInitContainerToStart: expected.nextInitContainerToStart,
      initContainersToStart: expected.initContainersToStart ?? [],
      containersToStart: expected.containersToStart ?? [],
      containersToKill: expected.containersToKill ?? [],
      ephemeralContainersToStart: expected.ephemeralContainersToStart ?? [],
    },
  );
}

interface Case {
  mutatePod?: (pod: Pod) => void;
  mutateStatus?: (status: PodStatus, env: Env, pod: Pod) => void;
  actions: Expected;
}

function run(
  make: () => { pod: Pod; status: PodStatus },
  tc: Case,
  opts: { sidecars: boolean; prime?: (status: PodStatus, env: Env) => void },
) {
  const { pod, status } = make();
  const env: Env = { liveness: new ProbeResultsTable(), startup: new ProbeResultsTable() };
  opts.prime?.(status, env);
  tc.mutatePod?.(pod);
  tc.mutateStatus?.(status, env, pod);
  return computePodActions(pod, status, {
    featureGates: featureGates({ SidecarContainers: opts.sidecars }),
    livenessManager: env.liveness,
    startupManager: env.startup,
  });
}

const setPolicy = (policy: string) => (pod: Pod) => {
  (pod.spec ?? { containers: [] }).restartPolicy = policy;
};
const nth = (status: PodStatus, i: number) => status.containerStatuses[i] as Status;
const sandbox0 = (status: PodStatus) => status.sandboxStatuses[0] as (typeof status.sandboxStatuses)[number];

describe("TestComputePodActions (kuberuntime_manager_test.go)", () => {
  const { pod: basePod, status: baseStatus } = makeBasePodAndStatus();
  const noAction: Expected = { sandboxID: "sandboxID" };
  const cases: Record<string, Case> = {
    "everything is good; do nothing": { actions: noAction },
    "start pod sandbox and all containers for a new pod": {
      mutateStatus: (s) => {
        s.sandboxStatuses = [];
        s.containerStatuses = [];
      },
      actions: { killPod: true, createSandbox: true, attempt: 0, containersToStart: [0, 1, 2] },
    },
    "restart exited containers if RestartPolicy == Always": {
      mutatePod: setPolicy("Always"),
      mutateStatus: (s) => {
        nth(s, 0).state = ContainerState.Exited;
        nth(s, 0).exitCode = 0;
        nth(s, 1).state = ContainerState.Exited;
        nth(s, 1).exitCode = 111;
      },
      actions: { sandboxID: "sandboxID", containersToStart: [0, 1] },
    },
    "restart failed containers if RestartPolicy == OnFailure": {
      mutatePod: setPolicy("OnFailure"),
      mutateStatus: (s) => {
        nth(s, 0).state = ContainerState.Exited;
        nth(s, 0).exitCode = 0;
        nth(s, 1).state = ContainerState.Exited;
        nth(s, 1).exitCode = 111;
      },
      actions: { sandboxID: "sandboxID", containersToStart: [1] },
    },
    "don't restart containers if RestartPolicy == Never": {
      mutatePod: setPolicy("Never"),
      mutateStatus: (s) => {
        nth(s, 0).state = ContainerState.Exited;
        nth(s, 0).exitCode = 0;
        nth(s, 1).state = ContainerState.Exited;
        nth(s, 1).exitCode = 111;
      },
      actions: noAction,
    },
    "Kill pod and recreate everything if the pod sandbox is dead, and RestartPolicy == Always": {
      mutatePod: setPolicy("Always"),
      mutateStatus: (s) => {
        sandbox0(s).state = PodSandboxState.SANDBOX_NOTREADY;
      },
      actions: {
        killPod: true,
        createSandbox: true,
        sandboxID: "sandboxID",
        attempt: 1,
        containersToStart: [0, 1, 2],
      },
    },
    "Kill pod and recreate all containers (except for the succeeded one) if the pod sandbox is dead, and RestartPolicy == OnFailure":
      {
        mutatePod: setPolicy("OnFailure"),
        mutateStatus: (s) => {
          sandbox0(s).state = PodSandboxState.SANDBOX_NOTREADY;
          nth(s, 1).state = ContainerState.Exited;
          nth(s, 1).exitCode = 0;
        },
        actions: {
          killPod: true,
          createSandbox: true,
          sandboxID: "sandboxID",
          attempt: 1,
          containersToStart: [0, 2],
        },
      },
    "Kill pod and recreate all containers if the PodSandbox does not have an IP": {
      mutateStatus: (s) => {
        const network = sandbox0(s).network;
        if (network) network.ip = "";
      },
      actions: {
        killPod: true,
        createSandbox: true,
        sandboxID: "sandboxID",
        attempt: 1,
        containersToStart: [0, 1, 2],
      },
    },
    "Kill and recreate the container if the container's spec changed": {
      mutatePod: setPolicy("Always"),
      mutateStatus: (s) => {
        nth(s, 1).hash = (432423432).toString(16);
      },
      actions: {
        sandboxID: "sandboxID",
        containersToKill: killMap(basePod, baseStatus, [1], "containers"),
        containersToStart: [1],
      },
    },
    "Kill and recreate the container if the liveness check has failed": {
      mutatePod: setPolicy("Always"),
      mutateStatus: (s, env) => env.liveness.set(nth(s, 1).id, "failure"),
      actions: {
        sandboxID: "sandboxID",
        containersToKill: killMap(basePod, baseStatus, [1], "containers"),
        containersToStart: [1],
      },
    },
    "Kill and recreate the container if the startup check has failed": {
      mutatePod: setPolicy("Always"),
      mutateStatus: (s, env) => env.startup.set(nth(s, 1).id, "failure"),
      actions: {
        sandboxID: "sandboxID",
        containersToKill: killMap(basePod, baseStatus, [1], "containers"),
        containersToStart: [1],
      },
    },
    "Verify we do not create a pod sandbox if no ready sandbox for pod with RestartPolicy=Never and all containers exited":
      {
        mutatePod: setPolicy("Never"),
        mutateStatus: (s) => {
          sandbox0(s).state = PodSandboxState.SANDBOX_NOTREADY;
          (sandbox0(s).metadata ?? { attempt: 0 }).attempt = 1;
          for (const c of s.containerStatuses) {
            c.state = ContainerState.Exited;
            c.exitCode = 0;
          }
        },
        actions: { sandboxID: "sandboxID", attempt: 2, createSandbox: false, killPod: true },
      },
    "Verify we do not create a pod sandbox if no ready sandbox for pod with RestartPolicy=OnFailure and all containers succeeded":
      {
        mutatePod: setPolicy("OnFailure"),
        mutateStatus: (s) => {
          sandbox0(s).state = PodSandboxState.SANDBOX_NOTREADY;
          (sandbox0(s).metadata ?? { attempt: 0 }).attempt = 1;
          for (const c of s.containerStatuses) {
            c.state = ContainerState.Exited;
            c.exitCode = 0;
          }
        },
        actions: { sandboxID: "sandboxID", attempt: 2, createSandbox: false, killPod: true },
      },
    "Verify we create a pod sandbox if no ready sandbox for pod with RestartPolicy=Never and no containers have ever been created":
      {
        mutatePod: setPolicy("Never"),
        mutateStatus: (s) => {
          sandbox0(s).state = PodSandboxState.SANDBOX_NOTREADY;
          (sandbox0(s).metadata ?? { attempt: 0 }).attempt = 2;
          s.containerStatuses = [];
        },
        actions: {
          sandboxID: "sandboxID",
          attempt: 3,
          createSandbox: true,
          killPod: true,
          containersToStart: [0, 1, 2],
        },
      },
    "Kill and recreate the container if the container is in unknown state": {
      mutatePod: setPolicy("Never"),
      mutateStatus: (s) => {
        nth(s, 1).state = ContainerState.Unknown;
      },
      actions: {
        sandboxID: "sandboxID",
        containersToKill: killMap(basePod, baseStatus, [1], "containers"),
        containersToStart: [1],
      },
    },
  };
  for (const [desc, tc] of Object.entries(cases)) {
    test(desc, () => verifyActions(run(makeBasePodAndStatus, tc, { sidecars: false }), tc.actions));
  }
});

// With the gate off upstream expects no InitContainersToStart, with it on no NextInitContainerToStart.
function forGate(expected: Expected, sidecars: boolean): Expected {
  return sidecars
    ? { ...expected, nextInitContainerToStart: undefined }
    : { ...expected, initContainersToStart: undefined };
}

describe("TestComputePodActionsWithInitContainers (kuberuntime_manager_test.go)", () => {
  const { pod: basePod, status: baseStatus } = makeBasePodAndStatusWithInitContainers();
  const init0 = basePod.spec?.initContainers?.[0];
  const init2 = basePod.spec?.initContainers?.[2];
  const noAction: Expected = { sandboxID: "sandboxID" };
  const cases: Record<string, Case> = {
    "initialization completed; start all containers": {
      actions: { sandboxID: "sandboxID", containersToStart: [0, 1, 2] },
    },
    "no init containers have been started; start the first one": {
      mutateStatus: (s) => {
        s.containerStatuses = [];
      },
      actions: { sandboxID: "sandboxID", nextInitContainerToStart: init0, initContainersToStart: [0] },
    },
    "initialization in progress; do nothing": {
      mutatePod: setPolicy("Always"),
      mutateStatus: (s) => {
        nth(s, 2).state = ContainerState.Running;
      },
      actions: noAction,
    },
    "Kill pod and restart the first init container if the pod sandbox is dead": {
      mutatePod: setPolicy("Always"),
      mutateStatus: (s) => {
        sandbox0(s).state = PodSandboxState.SANDBOX_NOTREADY;
      },
      actions: {
        killPod: true,
        createSandbox: true,
        sandboxID: "sandboxID",
        attempt: 1,
        nextInitContainerToStart: init0,
        initContainersToStart: [0],
      },
    },
    "initialization failed; restart the last init container if RestartPolicy == Always": {
      mutatePod: setPolicy("Always"),
      mutateStatus: (s) => {
        nth(s, 2).exitCode = 137;
      },
      actions: { sandboxID: "sandboxID", nextInitContainerToStart: init2, initContainersToStart: [2] },
    },
    "initialization failed; restart the last init container if RestartPolicy == OnFailure": {
      mutatePod: setPolicy("OnFailure"),
      mutateStatus: (s) => {
        nth(s, 2).exitCode = 137;
      },
      actions: { sandboxID: "sandboxID", nextInitContainerToStart: init2, initContainersToStart: [2] },
    },
    "initialization failed; kill pod if RestartPolicy == Never": {
      mutatePod: setPolicy("Never"),
      mutateStatus: (s) => {
        nth(s, 2).exitCode = 137;
      },
      actions: { killPod: true, sandboxID: "sandboxID" },
    },
    "init container state unknown; kill and recreate the last init container if RestartPolicy == Always": {
      mutatePod: setPolicy("Always"),
      mutateStatus: (s) => {
        nth(s, 2).state = ContainerState.Unknown;
      },
      actions: {
        sandboxID: "sandboxID",
        nextInitContainerToStart: init2,
        initContainersToStart: [2],
        containersToKill: killMap(basePod, baseStatus, [2], "initContainers"),
      },
    },
    "init container state unknown; kill and recreate the last init container if RestartPolicy == OnFailure": {
      mutatePod: setPolicy("OnFailure"),
      mutateStatus: (s) => {
        nth(s, 2).state = ContainerState.Unknown;
      },
      actions: {
        sandboxID: "sandboxID",
        nextInitContainerToStart: init2,
        initContainersToStart: [2],
        containersToKill: killMap(basePod, baseStatus, [2], "initContainers"),
      },
    },
    "init container state unknown; kill pod if RestartPolicy == Never": {
      mutatePod: setPolicy("Never"),
      mutateStatus: (s) => {
        nth(s, 2).state = ContainerState.Unknown;
      },
      actions: { killPod: true, sandboxID: "sandboxID" },
    },
    "Pod sandbox not ready, init container failed, but RestartPolicy == Never; kill pod only": {
      mutatePod: setPolicy("Never"),
      mutateStatus: (s) => {
        sandbox0(s).state = PodSandboxState.SANDBOX_NOTREADY;
      },
      actions: { killPod: true, createSandbox: false, sandboxID: "sandboxID", attempt: 1 },
    },
    "Pod sandbox not ready, and RestartPolicy == Never, but no visible init containers;  create a new pod sandbox":
      {
        mutatePod: setPolicy("Never"),
        mutateStatus: (s) => {
          sandbox0(s).state = PodSandboxState.SANDBOX_NOTREADY;
          s.containerStatuses = [];
        },
        actions: {
          killPod: true,
          createSandbox: true,
          sandboxID: "sandboxID",
          attempt: 1,
          nextInitContainerToStart: init0,
          initContainersToStart: [0],
        },
      },
    "Pod sandbox not ready, init container failed, and RestartPolicy == OnFailure; create a new pod sandbox":
      {
        mutatePod: setPolicy("OnFailure"),
        mutateStatus: (s) => {
          sandbox0(s).state = PodSandboxState.SANDBOX_NOTREADY;
          nth(s, 2).exitCode = 137;
        },
        actions: {
          killPod: true,
          createSandbox: true,
          sandboxID: "sandboxID",
          attempt: 1,
          nextInitContainerToStart: init0,
          initContainersToStart: [0],
        },
      },
    "some of the init container statuses are missing but the last init container is running, don't restart preceding ones":
      {
        mutatePod: setPolicy("Always"),
        mutateStatus: (s) => {
          nth(s, 2).state = ContainerState.Running;
          s.containerStatuses = s.containerStatuses.slice(2);
        },
        actions: { killPod: false, sandboxID: "sandboxID" },
      },
  };
  for (const sidecars of [false, true]) {
    describe(sidecars ? "sidecar containers enabled" : "sidecar containers disabled", () => {
      for (const [desc, tc] of Object.entries(cases)) {
        test(desc, () =>
          verifyActions(
            run(makeBasePodAndStatusWithInitContainers, tc, { sidecars }),
            forGate(tc.actions, sidecars),
          ),
        );
      }
    });
  }
});

describe("TestComputePodActionsWithRestartableInitContainers (kuberuntime_manager_test.go)", () => {
  const { pod: basePod, status: baseStatus } = makeBasePodAndStatusWithRestartableInitContainers();
  const noAction: Expected = { sandboxID: "sandboxID" };
  // Every case starts with both probes of sidecars 2 and 3 succeeded.
  const prime = (s: PodStatus, env: Env) => {
    for (const i of [1, 2]) {
      env.liveness.set(nth(s, i).id, "success");
      env.startup.set(nth(s, i).id, "success");
    }
  };
  // The regular containers foo1..foo3, all with the given state and exit code.
  const withRegular = (s: PodStatus, pod: Pod, state: ContainerState) => {
    (pod.spec?.containers ?? []).forEach((c, i) => {
      s.containerStatuses.push(containerStatus(`id${i + 1}`, c.name, state, hashContainer(c)));
    });
  };
  const cases: Record<string, Case> = {
    "initialization completed; start all containers": {
      actions: { sandboxID: "sandboxID", containersToStart: [0, 1, 2] },
    },
    "no init containers have been started; start the first one": {
      mutateStatus: (s) => {
        s.containerStatuses = [];
      },
      actions: { sandboxID: "sandboxID", initContainersToStart: [0] },
    },
    "initialization in progress; do nothing": {
      mutatePod: setPolicy("Always"),
      mutateStatus: (s) => {
        nth(s, 2).state = ContainerState.Created;
      },
      actions: noAction,
    },
    "restartable init container has started; start the next": {
      mutatePod: setPolicy("Always"),
      mutateStatus: (s) => {
        s.containerStatuses = s.containerStatuses.slice(0, 1);
      },
      actions: { sandboxID: "sandboxID", initContainersToStart: [1] },
    },
    "livenessProbe has not been run; start the nothing": {
      mutatePod: setPolicy("Always"),
      mutateStatus: (s, env) => {
        env.liveness.remove(nth(s, 1).id);
        s.containerStatuses = s.containerStatuses.slice(0, 2);
      },
      actions: { sandboxID: "sandboxID", initContainersToStart: [2] },
    },
    "livenessProbe in progress; start the next": {
      mutatePod: setPolicy("Always"),
      mutateStatus: (s, env) => {
        env.liveness.set(nth(s, 1).id, "unknown");
        s.containerStatuses = s.containerStatuses.slice(0, 2);
      },
      actions: { sandboxID: "sandboxID", initContainersToStart: [2] },
    },
    "livenessProbe has completed; start the next": {
      mutatePod: setPolicy("Always"),
      mutateStatus: (s) => {
        s.containerStatuses = s.containerStatuses.slice(0, 2);
      },
      actions: { sandboxID: "sandboxID", initContainersToStart: [2] },
    },
    "kill and recreate the restartable init container if the liveness check has failed": {
      mutatePod: setPolicy("Always"),
      mutateStatus: (s, env) => env.liveness.set(nth(s, 2).id, "failure"),
      actions: {
        sandboxID: "sandboxID",
        initContainersToStart: [2],
        containersToKill: killMap(basePod, baseStatus, [2], "initContainers"),
        containersToStart: [0, 1, 2],
      },
    },
    "startupProbe has not been run; do nothing": {
      mutatePod: setPolicy("Always"),
      mutateStatus: (s, env) => {
        env.startup.remove(nth(s, 1).id);
        s.containerStatuses = s.containerStatuses.slice(0, 2);
      },
      actions: noAction,
    },
    "startupProbe in progress; do nothing": {
      mutatePod: setPolicy("Always"),
      mutateStatus: (s, env) => {
        env.startup.set(nth(s, 1).id, "unknown");
        s.containerStatuses = s.containerStatuses.slice(0, 2);
      },
      actions: noAction,
    },
    "startupProbe has completed; start the next": {
      mutatePod: setPolicy("Always"),
      mutateStatus: (s) => {
        s.containerStatuses = s.containerStatuses.slice(0, 2);
      },
      actions: { sandboxID: "sandboxID", initContainersToStart: [2] },
    },
    "kill and recreate the restartable init container if the startup check has failed": {
      mutatePod: (pod) => {
        setPolicy("Always")(pod);
        const init = pod.spec?.initContainers?.[2];
        if (init) init.startupProbe = {};
      },
      mutateStatus: (s, env) => env.startup.set(nth(s, 2).id, "failure"),
      actions: {
        sandboxID: "sandboxID",
        initContainersToStart: [2],
        containersToKill: killMap(basePod, baseStatus, [2], "initContainers"),
      },
    },
    "restart terminated restartable init container and next init container": {
      mutatePod: setPolicy("Always"),
      mutateStatus: (s) => {
        nth(s, 0).state = ContainerState.Exited;
        nth(s, 2).state = ContainerState.Exited;
      },
      actions: { sandboxID: "sandboxID", initContainersToStart: [0, 2] },
    },
    "restart terminated restartable init container and regular containers": {
      mutatePod: setPolicy("Always"),
      mutateStatus: (s) => {
        nth(s, 0).state = ContainerState.Exited;
      },
      actions: { sandboxID: "sandboxID", initContainersToStart: [0], containersToStart: [0, 1, 2] },
    },
    "Pod sandbox not ready, restartable init container failed, but RestartPolicy == Never; kill pod only": {
      mutatePod: setPolicy("Never"),
      mutateStatus: (s) => {
        sandbox0(s).state = PodSandboxState.SANDBOX_NOTREADY;
        nth(s, 2).state = ContainerState.Exited;
        nth(s, 2).exitCode = 137;
      },
      actions: { killPod: true, createSandbox: false, sandboxID: "sandboxID", attempt: 1 },
    },
    "Pod sandbox not ready, and RestartPolicy == Never, but no visible restartable init containers;  create a new pod sandbox":
      {
        mutatePod: setPolicy("Never"),
        mutateStatus: (s) => {
          sandbox0(s).state = PodSandboxState.SANDBOX_NOTREADY;
          s.containerStatuses = [];
        },
        actions: {
          killPod: true,
          createSandbox: true,
          sandboxID: "sandboxID",
          attempt: 1,
          initContainersToStart: [0],
        },
      },
    "Pod sandbox not ready, restartable init container failed, and RestartPolicy == OnFailure; create a new pod sandbox":
      {
        mutatePod: setPolicy("OnFailure"),
        mutateStatus: (s) => {
          sandbox0(s).state = PodSandboxState.SANDBOX_NOTREADY;
          nth(s, 2).state = ContainerState.Exited;
          nth(s, 2).exitCode = 137;
        },
        actions: {
          killPod: true,
          createSandbox: true,
          sandboxID: "sandboxID",
          attempt: 1,
          initContainersToStart: [0],
        },
      },
    "Pod sandbox not ready, restartable init container failed, and RestartPolicy == Always; create a new pod sandbox":
      {
        mutatePod: setPolicy("Always"),
        mutateStatus: (s) => {
          sandbox0(s).state = PodSandboxState.SANDBOX_NOTREADY;
          nth(s, 2).state = ContainerState.Exited;
          nth(s, 2).exitCode = 137;
        },
        actions: {
          killPod: true,
          createSandbox: true,
          sandboxID: "sandboxID",
          attempt: 1,
          initContainersToStart: [0],
        },
      },
    "initialization failed; restart the last restartable init container even if pod's RestartPolicy == Never":
      {
        mutatePod: setPolicy("Never"),
        mutateStatus: (s) => {
          nth(s, 2).state = ContainerState.Exited;
          nth(s, 2).exitCode = 137;
        },
        actions: { sandboxID: "sandboxID", initContainersToStart: [2] },
      },
    "restartable init container state unknown; kill and recreate the last restartable init container even if pod's RestartPolicy == Never":
      {
        mutatePod: setPolicy("Never"),
        mutateStatus: (s) => {
          nth(s, 2).state = ContainerState.Unknown;
        },
        actions: {
          sandboxID: "sandboxID",
          initContainersToStart: [2],
          containersToKill: killMap(basePod, baseStatus, [2], "initContainers"),
        },
      },
    "restart restartable init container if regular containers are running even if pod's RestartPolicy == Never":
      {
        mutatePod: setPolicy("Never"),
        mutateStatus: (s, _env, pod) => {
          nth(s, 2).state = ContainerState.Exited;
          nth(s, 2).exitCode = 137;
          withRegular(s, pod, ContainerState.Running);
        },
        actions: { sandboxID: "sandboxID", initContainersToStart: [2] },
      },
    "kill the pod if all main containers succeeded if pod's RestartPolicy == Never": {
      mutatePod: setPolicy("Never"),
      mutateStatus: (s, _env, pod) => withRegular(s, pod, ContainerState.Exited),
      actions: { killPod: true, sandboxID: "sandboxID" },
    },
    "some of the init container statuses are missing but the last init container is running, restart restartable init and regular containers":
      {
        mutatePod: setPolicy("Always"),
        mutateStatus: (s) => {
          s.containerStatuses = s.containerStatuses.slice(2);
        },
        actions: { sandboxID: "sandboxID", initContainersToStart: [0, 1], containersToStart: [0, 1, 2] },
      },
  };
  for (const [desc, tc] of Object.entries(cases)) {
    test(desc, () =>
      verifyActions(
        run(makeBasePodAndStatusWithRestartableInitContainers, tc, { sidecars: true, prime }),
        tc.actions,
      ),
    );
  }
});

describe("TestComputePodActionsWithInitAndEphemeralContainers (kuberuntime_manager_test.go)", () => {
  const { pod: basePod } = makeBasePodAndStatusWithInitAndEphemeralContainers();
  const init0 = basePod.spec?.initContainers?.[0];
  const noAction: Expected = { sandboxID: "sandboxID" };
  const cases: Record<string, Case> = {
    "steady state; do nothing; ignore ephemeral container": { actions: noAction },
    "No ephemeral containers running; start one": {
      mutateStatus: (s) => {
        s.containerStatuses = s.containerStatuses.slice(0, 4);
      },
      actions: { sandboxID: "sandboxID", ephemeralContainersToStart: [0] },
    },
    "Start second ephemeral container": {
      mutatePod: (pod) => {
        pod.spec?.ephemeralContainers?.push({ name: "debug2", image: "busybox" });
      },
      actions: { sandboxID: "sandboxID", ephemeralContainersToStart: [1] },
    },
    "Ephemeral container exited; do not restart": {
      mutatePod: setPolicy("Always"),
      mutateStatus: (s) => {
        nth(s, 4).state = ContainerState.Exited;
      },
      actions: { sandboxID: "sandboxID" },
    },
    "initialization in progress; start ephemeral container": {
      mutateStatus: (s) => {
        nth(s, 3).state = ContainerState.Running;
        s.containerStatuses = s.containerStatuses.slice(0, 4);
      },
      actions: { sandboxID: "sandboxID", ephemeralContainersToStart: [0] },
    },
    "Create a new pod sandbox if the pod sandbox is dead, init container failed and RestartPolicy == OnFailure":
      {
        mutatePod: setPolicy("OnFailure"),
        mutateStatus: (s) => {
          sandbox0(s).state = PodSandboxState.SANDBOX_NOTREADY;
          s.containerStatuses = s.containerStatuses.slice(3);
          nth(s, 0).exitCode = 137;
        },
        actions: {
          killPod: true,
          createSandbox: true,
          sandboxID: "sandboxID",
          attempt: 1,
          nextInitContainerToStart: init0,
          initContainersToStart: [0],
        },
      },
    "Kill pod and do not restart ephemeral container if the pod sandbox is dead": {
      mutatePod: setPolicy("Always"),
      mutateStatus: (s) => {
        sandbox0(s).state = PodSandboxState.SANDBOX_NOTREADY;
      },
      actions: {
        killPod: true,
        createSandbox: true,
        sandboxID: "sandboxID",
        attempt: 1,
        nextInitContainerToStart: init0,
        initContainersToStart: [0],
      },
    },
    "Kill pod if all containers exited except ephemeral container": {
      mutatePod: setPolicy("Never"),
      mutateStatus: (s) => {
        for (const i of [0, 1, 2]) {
          nth(s, i).state = ContainerState.Exited;
          nth(s, i).exitCode = 0;
        }
      },
      actions: { sandboxID: "sandboxID", createSandbox: false, killPod: true },
    },
    "Ephemeral container is in unknown state; leave it alone": {
      mutatePod: setPolicy("Never"),
      mutateStatus: (s) => {
        nth(s, 4).state = ContainerState.Unknown;
      },
      actions: noAction,
    },
  };
  for (const sidecars of [false, true]) {
    describe(sidecars ? "sidecar containers enabled" : "sidecar containers disabled", () => {
      for (const [desc, tc] of Object.entries(cases)) {
        test(desc, () =>
          verifyActions(
            run(makeBasePodAndStatusWithInitAndEphemeralContainers, tc, { sidecars }),
            forGate(tc.actions, sidecars),
          ),
        );
      }
    });
  }
});

describe("computePodActions says why it kills (berth)", () => {
  test("a failed liveness probe kills with reason LivenessProbe and restarts under Always", () => {
    const actions = run(
      makeBasePodAndStatus,
      { mutateStatus: (s, env) => env.liveness.set(nth(s, 1).id, "failure"), actions: {} },
      { sidecars: false },
    );
    assert.deepEqual(
      [...actions.containersToKill.values()].map(({ message, reason }) => ({ message, reason })),
      [{ message: "Container foo2 failed liveness probe, will be restarted", reason: "LivenessProbe" }],
    );
  });

  test("a failed liveness probe under Never kills without restarting, which ends the pod's last container", () => {
    const actions = run(
      makeBasePodAndStatus,
      {
        mutatePod: setPolicy("Never"),
        mutateStatus: (s, env) => {
          nth(s, 0).state = ContainerState.Exited;
          nth(s, 2).state = ContainerState.Exited;
          env.liveness.set(nth(s, 1).id, "failure");
        },
        actions: {},
      },
      { sidecars: false },
    );
    assert.deepEqual(actions.containersToStart, []);
    assert.equal(actions.killPod, true);
    assert.equal([...actions.containersToKill.values()][0]?.message, "Container foo2 failed liveness probe");
  });

  test("an unknown container is killed before it is started again", () => {
    const actions = run(
      makeBasePodAndStatus,
      { mutateStatus: (s) => (nth(s, 0).state = ContainerState.Unknown), actions: {} },
      { sidecars: false },
    );
    assert.deepEqual(
      [...actions.containersToKill.entries()].map(([k, v]) => [k, v.message, v.reason]),
      [["://id1", 'Container is in "unknown" state, try killing it before restart', "Unknown"]],
    );
  });

  test("a finished pod does not restart an exited sidecar", () => {
    const { pod, status } = makeBasePodAndStatusWithRestartableInitContainers();
    setPolicy("Never")(pod);
    nth(status, 0).state = ContainerState.Exited;
    for (const [i, c] of (pod.spec?.containers ?? []).entries()) {
      status.containerStatuses.push(
        containerStatus(`id${i + 1}`, c.name, ContainerState.Exited, hashContainer(c)),
      );
    }
    const succeeded = new ProbeResultsTable();
    for (const i of [1, 2]) succeeded.set(nth(status, i).id, "success");
    const actions = computePodActions(pod, status, {
      featureGates: featureGates({ SidecarContainers: true }),
      livenessManager: succeeded,
      startupManager: succeeded,
    });
    assert.equal(actions.killPod, true);
    assert.deepEqual(actions.initContainersToStart, []);
  });

  test("a spec change restarts the container even under RestartPolicy Never", () => {
    const actions = run(
      makeBasePodAndStatus,
      {
        mutatePod: (pod) => {
          setPolicy("Never")(pod);
          const c = pod.spec?.containers[2];
          if (c) c.image = "busybox:1.36";
        },
        actions: {},
      },
      { sidecars: false },
    );
    assert.deepEqual(actions.containersToStart, [2]);
    assert.equal(
      actions.containersToKill.get("://id3")?.message,
      "Container foo3 definition changed, will be restarted",
    );
  });
});

describe("TestPodSandboxChanged (kuberuntime/util/util_test.go)", () => {
  const sandbox = (id: string, attempt: number, state: PodSandboxState, extra: object = {}) =>
    create(PodSandboxStatusSchema, { id, metadata: { attempt }, state, ...extra });
  const podStatus = (sandboxStatuses: PodStatus["sandboxStatuses"]): PodStatus => ({
    ...makeBasePodAndStatus().status,
    containerStatuses: [],
    sandboxStatuses,
  });
  const cases: Record<
    string,
    { pod: Pod; status: PodStatus; changed: boolean; attempt: number; sandboxID: string }
  > = {
    "Pod with no existing sandboxes": {
      pod: {},
      status: podStatus([]),
      changed: true,
      attempt: 0,
      sandboxID: "",
    },
    "Pod with multiple ready sandbox statuses": {
      pod: {},
      status: podStatus([
        sandbox("sandboxID2", 1, PodSandboxState.SANDBOX_READY),
        sandbox("sandboxID1", 0, PodSandboxState.SANDBOX_READY),
      ]),
      changed: true,
      attempt: 2,
      sandboxID: "sandboxID2",
    },
    "Pod with no ready sandbox statuses": {
      pod: {},
      status: podStatus([
        sandbox("sandboxID2", 1, PodSandboxState.SANDBOX_NOTREADY),
        sandbox("sandboxID1", 0, PodSandboxState.SANDBOX_NOTREADY),
      ]),
      changed: true,
      attempt: 2,
      sandboxID: "sandboxID2",
    },
    "Pod with ready sandbox status but network namespace mismatch": {
      pod: { spec: { containers: [], hostNetwork: true } },
      status: podStatus([
        sandbox("sandboxID1", 0, PodSandboxState.SANDBOX_READY, {
          linux: { namespaces: { options: { network: NamespaceMode.POD } } },
        }),
      ]),
      changed: true,
      attempt: 1,
      sandboxID: "",
    },
    "Pod with ready sandbox status but no IP": {
      pod: { spec: { containers: [], hostNetwork: false } },
      status: podStatus([sandbox("sandboxID1", 0, PodSandboxState.SANDBOX_READY, { network: { ip: "" } })]),
      changed: true,
      attempt: 1,
      sandboxID: "sandboxID1",
    },
    "Pod with ready sandbox status with IP": {
      pod: { spec: { containers: [], hostNetwork: false } },
      status: podStatus([
        sandbox("sandboxID1", 0, PodSandboxState.SANDBOX_READY, { network: { ip: "10.0.0.10" } }),
      ]),
      changed: false,
      attempt: 0,
      sandboxID: "sandboxID1",
    },
    // berth: a host-network sandbox has no pod IP of its own and is kept.
    "Host-network pod with ready sandbox in the node's network namespace and no IP": {
      pod: { spec: { containers: [], hostNetwork: true } },
      status: podStatus([
        sandbox("sandboxID1", 3, PodSandboxState.SANDBOX_READY, {
          network: { ip: "" },
          linux: { namespaces: { options: { network: NamespaceMode.NODE } } },
        }),
      ]),
      changed: false,
      attempt: 3,
      sandboxID: "sandboxID1",
    },
  };
  for (const [desc, tc] of Object.entries(cases)) {
    test(desc, () => {
      assert.deepEqual(podSandboxChanged(tc.pod, tc.status), {
        changed: tc.changed,
        attempt: tc.attempt,
        sandboxID: tc.sandboxID,
      });
    });
  }
});
