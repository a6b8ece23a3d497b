import assert from "node:assert/strict";
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, test } from "node:test";
import { gunzipSync } from "node:zlib";
import { create } from "@bufbuild/protobuf";
import { pino } from "pino";
import {
  ContainerSchema,
  ContainerState,
  ContainerStatusResponseSchema,
  ListContainersResponseSchema,
  ReopenContainerLogResponseSchema,
} from "../../cri/gen/runtime/v1/api_pb.js";
import { type BerthError, notFound } from "../../lib/errdefs.js";
import {
  ContainerLogManager,
  compressSuffix,
  formatTimestamp,
  getAllLogs,
  type LogRuntimeService,
  logMonitorPeriodMs,
  tmpSuffix,
} from "./container-log-manager.js";

// Ported from pkg/kubelet/logs/container_log_manager_test.go (kubelet 1.28), against real files in a
// temporary directory. Upstream's fake runtime service becomes the three CRI calls rotation makes,
// answered from a list of containers, with calls recorded and errors injectable; the real runtimes
// reopen logs in test/kubelet-log-rotation.test.ts.

const log = pino({ level: "silent" });

interface FakeContainer {
  id: string;
  state: ContainerState;
  logPath: string;
}

class FakeRuntime implements LogRuntimeService {
  containers: FakeContainer[] = [];
  calls: string[] = [];
  reopenError?: Error;
  /** What a reopen does besides answering, e.g. make the new file as a runtime would. */
  onReopen?: (id: string) => Promise<void>;

  listContainers: LogRuntimeService["listContainers"] = async () => {
    this.calls.push("ListContainers");
    return create(ListContainersResponseSchema, {
      containers: this.containers.map((c) =>
        create(ContainerSchema, { id: c.id, state: c.state, metadata: { name: c.id } }),
      ),
    });
  };

  containerStatus: LogRuntimeService["containerStatus"] = async (req) => {
    this.calls.push("ContainerStatus");
    const c = this.containers.find((x) => x.id === req.containerId);
    if (!c) throw notFound(`container "${req.containerId}" not found`);
    return create(ContainerStatusResponseSchema, {
      status: { id: c.id, state: c.state, logPath: c.logPath },
    });
  };

  reopenContainerLog: LogRuntimeService["reopenContainerLog"] = async (req) => {
    this.calls.push("ReopenContainerLog");
    if (this.reopenError) throw this.reopenError;
    await this.onReopen?.(req.containerId ?? "");
    return create(ReopenContainerLogResponseSchema, {});
  };
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "berth-log-manager-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const now = new Date(2023, 7, 15, 10, 20, 30);
const fixedClock = { now: () => now.getTime() };

function manager(runtime: LogRuntimeService, maxFiles = 3, maxSize = 10): ContainerLogManager {
  return new ContainerLogManager({ runtime, maxSize, maxFiles, clock: fixedClock, log });
}

async function createFiles(names: string[], contents: string[] = []): Promise<string[]> {
  const paths = names.map((n) => join(dir, n));
  for (const [i, p] of paths.entries()) await writeFile(p, contents[i] ?? "");
  return paths;
}

const names = async () => (await readdir(dir)).sort();

describe("ContainerLogManager", () => {
  test("NewContainerLogManager refuses fewer than 2 files and a size that is not positive", () => {
    const runtime = new FakeRuntime();
    assert.throws(
      () => manager(runtime, 1),
      (e: BerthError) => e.kind === "InvalidArgument",
    );
    assert.throws(() => manager(runtime, 3, 0), /invalid container log max size 0/);
    assert.doesNotThrow(() => manager(runtime, 2, 1));
  });

  test("the timestamp suffix follows Go's 20060102-150405", () => {
    assert.equal(formatTimestamp(now), "20230815-102030");
    assert.equal(formatTimestamp(new Date(1999, 0, 2, 3, 4, 5)), "19990102-030405");
  });

  // TestGetAllLogs
  test("getAllLogs lists the files in use oldest first and the current one last", async () => {
    await createFiles([
      "test-log.11111111-111111.gz",
      "test-log",
      "test-log.00000000-000000.gz",
      "test-log.19900322-000000.gz",
      "test-log.19900322-111111.gz",
      "test-log.19880620-000000", // unused: its compressed copy exists
      "test-log.19880620-000000.gz",
      "test-log.19880620-111111.gz",
      "test-log.20180101-000000",
      "test-log.20180101-000000.tmp", // temporary
    ]);
    assert.deepEqual(
      await getAllLogs(join(dir, "test-log")),
      [
        "test-log.00000000-000000.gz",
        "test-log.11111111-111111.gz",
        "test-log.19880620-000000.gz",
        "test-log.19880620-111111.gz",
        "test-log.19900322-000000.gz",
        "test-log.19900322-111111.gz",
        "test-log.20180101-000000",
        "test-log",
      ].map((n) => join(dir, n)),
    );
  });

  // TestRotateLogs
  test("rotateLogs rotates running containers' logs past the size and trims their old files", async () => {
    const testLogs = [
      "test-log-1",
      "test-log-2",
      "test-log-3",
      "test-log-4",
      "test-log-3.00000000-000001",
      "test-log-3.00000000-000000.gz",
    ];
    const paths = await createFiles(testLogs, [
      "short",
      "longer than 10 bytes",
      "longer than 10 bytes",
      "longer than 10 bytes",
      "the length doesn't matter",
      "the length doesn't matter",
    ]);
    const runtime = new FakeRuntime();
    const { CONTAINER_RUNNING: running, CONTAINER_EXITED: exited } = ContainerState;
    runtime.containers = [
      { id: "container-not-need-rotate", state: running, logPath: paths[0] ?? "" },
      { id: "container-need-rotate", state: running, logPath: paths[1] ?? "" },
      { id: "container-has-excess-log", state: running, logPath: paths[2] ?? "" },
      { id: "container-is-not-running", state: exited, logPath: paths[3] ?? "" },
    ];
    await manager(runtime).rotateLogs();

    const timestamp = formatTimestamp(now);
    assert.deepEqual(await names(), [
      "test-log-1",
      `test-log-2.${timestamp}`,
      `test-log-3.00000000-000001${compressSuffix}`,
      `test-log-3.${timestamp}`,
      "test-log-4",
    ]);
    assert.equal(
      gunzipSync(await readFile(join(dir, `test-log-3.00000000-000001${compressSuffix}`))).toString(),
      "the length doesn't matter",
    );
  });

  test("rotateLogs has a missing current file reopened, and goes on past a container it cannot read", async () => {
    const runtime = new FakeRuntime();
    const [kept] = await createFiles(["kept"], ["longer than 10 bytes"]);
    const lost = join(dir, "lost");
    runtime.containers = [
      { id: "gone-from-runtime", state: ContainerState.CONTAINER_RUNNING, logPath: "" },
      { id: "lost", state: ContainerState.CONTAINER_RUNNING, logPath: lost },
      { id: "kept", state: ContainerState.CONTAINER_RUNNING, logPath: kept ?? "" },
    ];
    // A container listed but removed before its status is read.
    const status = runtime.containerStatus;
    runtime.containerStatus = async (req, opts) => {
      if (req.containerId === "gone-from-runtime") throw notFound("container not found");
      return status(req, opts);
    };
    const reopened: string[] = [];
    runtime.onReopen = async (id) => {
      reopened.push(id);
      if (id === "lost") await writeFile(lost, "");
    };
    await manager(runtime).rotateLogs();
    // "lost" is back, empty, so not rotated; "kept" is rotated.
    assert.deepEqual(reopened, ["lost", "kept"]);
    assert.deepEqual(await names(), [`kept.${formatTimestamp(now)}`, "lost"]);
  });

  // TestClean
  test("clean removes the container's log and its rotated files only", async () => {
    const testLogs = [
      "test-log-1",
      "test-log-2",
      "test-log-3",
      "test-log-2.00000000-000000.gz",
      "test-log-2.00000000-000001",
      "test-log-3.00000000-000000.gz",
      "test-log-3.00000000-000001",
    ];
    const paths = await createFiles(testLogs);
    const runtime = new FakeRuntime();
    runtime.containers = [
      { id: "container-1", state: ContainerState.CONTAINER_RUNNING, logPath: paths[0] ?? "" },
      { id: "container-2", state: ContainerState.CONTAINER_RUNNING, logPath: paths[1] ?? "" },
      { id: "container-3", state: ContainerState.CONTAINER_EXITED, logPath: paths[2] ?? "" },
    ];
    const m = manager(runtime);
    await m.clean("container-3");
    assert.deepEqual(await names(), [
      "test-log-1",
      "test-log-2",
      "test-log-2.00000000-000000.gz",
      "test-log-2.00000000-000001",
    ]);
    await assert.rejects(m.clean("container-4"), (e: BerthError) => {
      assert.equal(e.kind, "NotFound");
      assert.match(e.message, /failed to get container status "container-4"/);
      return true;
    });
  });

  // TestCleanupUnusedLog
  test("cleanupUnusedLogs removes temporary files and files already compressed", async () => {
    const testLogs = await createFiles([
      "test-log-1", // regular log
      "test-log-1.tmp", // temporary log
      "test-log-2", // unused log
      "test-log-2.gz", // compressed log
    ]);
    const got = await manager(new FakeRuntime()).cleanupUnusedLogs(testLogs);
    assert.deepEqual(got, [testLogs[0], testLogs[3]]);
    assert.deepEqual(await names(), ["test-log-1", "test-log-2.gz"]);
  });

  // TestRemoveExcessLog
  for (const [desc, max, expect] of [
    ["MaxFiles equal to 2", 2, []],
    ["MaxFiles more than 2", 3, ["test-log-4"]],
    ["MaxFiles more than log file number", 6, ["test-log-1", "test-log-2", "test-log-3", "test-log-4"]],
  ] as const) {
    test(`removeExcessLogs: ${desc}`, async () => {
      const testLogs = await createFiles(["test-log-3", "test-log-1", "test-log-2", "test-log-4"]);
      const got = await manager(new FakeRuntime(), max).removeExcessLogs(testLogs);
      assert.deepEqual(
        got,
        expect.map((n) => join(dir, n)),
      );
      assert.deepEqual(await names(), expect);
    });
  }

  // TestCompressLog
  test("compressLog gzips the file with its mode, through a temporary file, and removes it", async () => {
    const [testLog = ""] = await createFiles(["test-rotate-latest-log"], ["test log content"]);
    await chmod(testLog, 0o640);
    const m = manager(new FakeRuntime());
    await m.compressLog(testLog);
    assert.equal((await stat(testLog + compressSuffix)).mode & 0o777, 0o640, "mode kept");
    await assert.rejects(stat(testLog + tmpSuffix), "temporary log should be renamed");
    await assert.rejects(stat(testLog), "original log should be removed");
    assert.equal(gunzipSync(await readFile(testLog + compressSuffix)).toString(), "test log content");
    await assert.rejects(m.compressLog(join(dir, "test-unknown-log")), /failed to stat log file/);
  });

  // TestRotateLatestLog
  for (const [desc, runtimeError, expectError, expectOriginal, expectRotated] of [
    ["should successfully rotate log when MaxFiles is 2", undefined, false, false, true],
    [
      "should restore original log when ReopenContainerLog fails",
      new Error("random error"),
      true,
      true,
      false,
    ],
  ] as const) {
    test(`rotateLatestLog ${desc}`, async () => {
      const runtime = new FakeRuntime();
      if (runtimeError) runtime.reopenError = runtimeError;
      const [testLog = ""] = await createFiles(["test-rotate-latest-log"]);
      const rotatedLog = `${testLog}.${formatTimestamp(now)}`;
      const err = await manager(runtime, 2)
        .rotateLatestLog("test-id", testLog)
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      assert.equal(err !== undefined, expectError);
      if (err) assert.match(String(err), /failed to reopen container log "test-id": random error/);
      assert.equal(await exists(testLog), expectOriginal);
      assert.equal(await exists(rotatedLog), expectRotated);
      assert.deepEqual(runtime.calls, ["ReopenContainerLog"]);
    });
  }

  test("start runs a pass at once and then every period; stop ends the loop", async () => {
    assert.equal(logMonitorPeriodMs, 10_000, "the kubelet's period");
    const runtime = new FakeRuntime();
    const m = new ContainerLogManager({ runtime, maxSize: 10, maxFiles: 2, monitorPeriodMs: 20, log });
    m.start();
    const deadline = Date.now() + 5000;
    while (runtime.calls.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    await m.stop();
    const passes = runtime.calls.length;
    assert.ok(passes >= 3, `passes: ${passes}`);
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(runtime.calls.length, passes, "no pass after stop");
  });
});

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
