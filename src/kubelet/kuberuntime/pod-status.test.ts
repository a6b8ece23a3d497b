import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { pino } from "pino";
import {
  ContainerStatusSchema,
  ContainerState as CriContainerState,
  PodSandboxState,
  PodSandboxStatusSchema,
} from "../../cri/gen/runtime/v1/api_pb.js";
import type { RuntimeServiceClient } from "../../cri/remote-runtime.js";
import { ContainerState } from "../container/runtime.js";
import { featureGates } from "../features/features.js";
import {
  containerRestartCountLabel,
  containerTerminationMessagePathLabel,
  containerTerminationMessagePolicyLabel,
  KubernetesContainerNameLabel,
} from "./labels.js";
import {
  convertToKubeContainerStatus,
  determinePodSandboxIPs,
  getTerminationMessage,
  type RuntimeView,
  toKubeContainerStatus,
} from "./pod-status.js";

const log = pino({ level: "silent" });
const gates = featureGates();

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "berth-pod-status-test-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("toKubeContainerStatus (kuberuntime_container_test.go TestToKubeContainerStatus)", () => {
  // Upstream's nanosecond values, scaled to milliseconds, which is what a Date keeps.
  const createdAt = 327_000_000n;
  const startedAt = 999_000_000n;
  const finishedAt = 1278_000_000n;
  const base = { id: "dummyid", metadata: { name: "cname", attempt: 3 }, image: { image: "fimage" } };
  const expected = {
    id: { type: "testRuntime", id: "dummyid" },
    name: "",
    image: "fimage",
    imageID: "",
    hash: "0",
    restartCount: 0,
    exitCode: 0,
    reason: "",
    message: "",
    createdAt: new Date(327),
  };
  const cases: [string, MessageInitShape<typeof ContainerStatusSchema>, object][] = [
    [
      "created container",
      { ...base, state: CriContainerState.CONTAINER_CREATED, createdAt },
      { ...expected, state: ContainerState.Created },
    ],
    [
      "running container",
      { ...base, state: CriContainerState.CONTAINER_RUNNING, createdAt, startedAt },
      { ...expected, state: ContainerState.Running, startedAt: new Date(999) },
    ],
    [
      "exited container",
      {
        ...base,
        state: CriContainerState.CONTAINER_EXITED,
        createdAt,
        startedAt,
        finishedAt,
        exitCode: 121,
        reason: "GotKilled",
        message: "The container was killed",
      },
      {
        ...expected,
        state: ContainerState.Exited,
        startedAt: new Date(999),
        finishedAt: new Date(1278),
        exitCode: 121,
        reason: "GotKilled",
        message: "The container was killed",
      },
    ],
    [
      "unknown container",
      { ...base, state: CriContainerState.CONTAINER_UNKNOWN, createdAt, startedAt },
      { ...expected, state: ContainerState.Unknown, startedAt: new Date(999) },
    ],
  ];
  for (const [name, input, want] of cases) {
    test(name, () =>
      assert.deepEqual(
        toKubeContainerStatus(create(ContainerStatusSchema, input), "testRuntime", gates),
        want,
      ),
    );
  }

  test("reads the name, hash and restart count the kubelet wrote", () => {
    const s = toKubeContainerStatus(
      create(ContainerStatusSchema, {
        id: "x",
        state: CriContainerState.CONTAINER_EXITED,
        labels: { [KubernetesContainerNameLabel]: "web" },
        annotations: { "io.kubernetes.container.hash": "1a2b3c", [containerRestartCountLabel]: "4" },
        imageRef: "sha256:abc",
      }),
      "containerd",
      gates,
    );
    assert.deepEqual(
      {
        name: s.name,
        hash: s.hash,
        restartCount: s.restartCount,
        imageID: s.imageID,
        startedAt: s.startedAt,
      },
      // An exited container that never recorded a start shows the epoch, as upstream's time.Unix(0, 0).
      { name: "web", hash: "1a2b3c", restartCount: 4, imageID: "sha256:abc", startedAt: new Date(0) },
    );
  });
});

test("determinePodSandboxIPs (kuberuntime_sandbox_test.go TestDeterminePodSandboxIPs)", () => {
  const sandbox = (network?: { ip: string; additionalIps?: { ip: string }[] }) =>
    create(PodSandboxStatusSchema, { state: PodSandboxState.SANDBOX_READY, ...(network ? { network } : {}) });
  const rows: [string, ReturnType<typeof sandbox>, string[]][] = [
    ["no network status", sandbox(), []],
    ["host network: no IP", sandbox({ ip: "" }), []],
    ["single IP", sandbox({ ip: "10.0.0.1" }), ["10.0.0.1"]],
    ["dual stack", sandbox({ ip: "10.0.0.1", additionalIps: [{ ip: "fd00::1" }] }), ["10.0.0.1", "fd00::1"]],
    ["bad primary IP", sandbox({ ip: "10.0.0", additionalIps: [{ ip: "fd00::1" }] }), []],
    ["bad additional IP", sandbox({ ip: "10.0.0.1", additionalIps: [{ ip: "fd00:::1" }] }), []],
  ];
  for (const [name, s, want] of rows)
    assert.deepEqual(determinePodSandboxIPs("ns", "pod", s, log), want, name);
});

describe("termination messages", () => {
  const exited = (
    hostPath: string,
    extra: MessageInitShape<typeof ContainerStatusSchema> = {},
    policy = "File",
  ): ReturnType<typeof create<typeof ContainerStatusSchema>> =>
    create(ContainerStatusSchema, {
      id: "c1",
      state: CriContainerState.CONTAINER_EXITED,
      exitCode: 1,
      reason: "Error",
      annotations: {
        [containerTerminationMessagePathLabel]: "/dev/termination-log",
        [containerTerminationMessagePolicyLabel]: policy,
      },
      mounts: [{ containerPath: "/dev/termination-log", hostPath }],
      ...extra,
    });
  const view: RuntimeView = {
    runtimeService: {} as RuntimeServiceClient,
    runtimeName: "containerd",
    featureGates: gates,
    log,
  };

  test("getTerminationMessage reads the end of the mounted file", async () => {
    const path = join(dir, "message");
    await writeFile(path, `${"x".repeat(5000)}the end`);
    const got = await getTerminationMessage(exited(path), "/dev/termination-log", false);
    assert.equal(got.checkLogs, false);
    assert.equal(got.message.length, 4096);
    assert.ok(got.message.endsWith("the end"));
    // A relative path is taken from the container's root, as the kubelet mounts it.
    assert.equal(
      (await getTerminationMessage(exited(path), "dev/termination-log", false)).message.length,
      4096,
    );
  });

  test("getTerminationMessage falls back to the log only without a message", async () => {
    const empty = join(dir, "empty");
    await writeFile(empty, "");
    assert.deepEqual(await getTerminationMessage(exited(empty), "/dev/termination-log", true), {
      message: "",
      checkLogs: true,
    });
    assert.deepEqual(
      await getTerminationMessage(exited(join(dir, "missing")), "/dev/termination-log", true),
      {
        message: "",
        checkLogs: true,
      },
    );
    assert.deepEqual(await getTerminationMessage(exited(empty), "", true), { message: "", checkLogs: true });
    assert.deepEqual(await getTerminationMessage(exited(empty), "/elsewhere", false), {
      message: "",
      checkLogs: false,
    });
  });

  test("getTerminationMessage reports a file it cannot read", async () => {
    // A directory where the file should be: open works, read fails.
    const got = await getTerminationMessage(exited(dir), "/dev/termination-log", true);
    assert.equal(
      got.message,
      `Error on reading termination log ${dir}: EISDIR: illegal operation on a directory, read`,
    );
    assert.equal(got.checkLogs, false);
  });

  test("convertToKubeContainerStatus appends the file's message to the runtime's", async () => {
    const path = join(dir, "said");
    await writeFile(path, "bye");
    assert.equal((await convertToKubeContainerStatus(view, exited(path, { message: "" }))).message, "bye");
    assert.equal(
      (await convertToKubeContainerStatus(view, exited(path, { message: "oom" }))).message,
      "oom: bye",
    );
  });

  test("convertToKubeContainerStatus takes the log's end with FallbackToLogsOnError after a failure", async () => {
    const logPath = join(dir, "0.log");
    await writeFile(
      logPath,
      [
        "2024-01-01T00:00:00Z stdout P part",
        "2024-01-01T00:00:00Z stdout F ial\n2024-01-01T00:00:01Z stderr F boom",
        "",
      ].join("\n"),
    );
    const missing = join(dir, "no-message");
    const fallback = (extra: MessageInitShape<typeof ContainerStatusSchema>) =>
      convertToKubeContainerStatus(view, exited(missing, { logPath, ...extra }, "FallbackToLogsOnError"));
    assert.equal((await fallback({})).message, "partial\nboom\n");
    // Success, or a container that never ran, has no log worth reading.
    assert.equal((await fallback({ exitCode: 0, reason: "Completed" })).message, "");
    assert.equal(
      (await fallback({ reason: "ContainerCannotRun", message: "no such file" })).message,
      "no such file",
    );
  });
});
