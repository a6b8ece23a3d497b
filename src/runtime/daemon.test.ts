import assert from "node:assert/strict";
import { existsSync, linkSync, renameSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, test } from "node:test";
import { RuntimeService } from "../cri/gen/runtime/v1/api_pb.js";
import { newRemoteRuntimeService } from "../cri/remote-runtime.js";
import { type CriConnection, dialCri } from "../cri/transport.js";
import { messageOf } from "../lib/errdefs.js";
import { newLogger } from "../lib/log.js";
import { applyFlags, defaultConfig } from "./config.js";
import { startDaemon } from "./daemon.js";
import { LockFileName } from "./dir-lock.js";
import { type GrpcService, type Plugin, PluginType } from "./plugin.js";

const log = newLogger("error");
log.level = "silent";

let dir: string;
let conns: CriConnection[];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "berth-daemon-"));
  conns = [];
});
afterEach(async () => {
  for (const c of conns) c.close();
  await rm(dir, { recursive: true, force: true });
});

const config = () =>
  applyFlags(defaultConfig([]), {
    root: join(dir, "root"),
    state: join(dir, "state"),
    address: join(dir, "berth.sock"),
  });

function client(endpoint: string) {
  const conn = dialCri(endpoint, { timeoutMs: 5000 });
  conns.push(conn);
  return newRemoteRuntimeService(conn);
}

/** A Grpc plugin whose Version answers only when release() is called. */
function slowVersionPlugin(events: string[]) {
  let release = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const plugin: Plugin<GrpcService> = {
    type: PluginType.Grpc,
    id: "slow",
    requires: [],
    init: () => ({
      register: (router) =>
        router.service(RuntimeService, {
          version: async () => {
            events.push("call started");
            await released;
            return { runtimeName: "slow" };
          },
        }),
    }),
    close: () => {
      events.push("close slow");
    },
  };
  return { plugin, release };
}

test("stop lets a call in flight finish, then closes plugins and removes socket and locks", async () => {
  const events: string[] = [];
  const { plugin, release } = slowVersionPlugin(events);
  const cfg = config();
  const daemon = await startDaemon({ config: cfg, plugins: [plugin], log });
  const call = client(daemon.endpoint).version({});
  while (!events.includes("call started")) await new Promise((r) => setTimeout(r, 10));
  const stopped = daemon.stop().then(() => events.push("stopped"));
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(events, ["call started"], "stop waits for the call");
  release();
  assert.equal((await call).runtimeName, "slow");
  await stopped;
  assert.deepEqual(events, ["call started", "close slow", "stopped"]);
  assert.equal(existsSync(cfg.grpc.address), false, "socket removed");
  assert.equal(existsSync(join(cfg.root, LockFileName)), false, "root lock removed");
  assert.equal(existsSync(join(cfg.state, LockFileName)), false, "state lock removed");
  assert.equal(daemon.stop(), daemon.stop(), "stop is idempotent");
});

test("a call that outlives the drain timeout does not hold up the shutdown", async () => {
  const events: string[] = [];
  const { plugin, release } = slowVersionPlugin(events);
  const cfg = config();
  const daemon = await startDaemon({ config: cfg, plugins: [plugin], log, drainTimeoutMs: 100 });
  const call = client(daemon.endpoint)
    .version({})
    .catch(() => undefined);
  while (!events.includes("call started")) await new Promise((r) => setTimeout(r, 10));
  await daemon.stop();
  assert.deepEqual(events, ["call started", "close slow"]);
  assert.equal(existsSync(cfg.grpc.address), false, "socket removed");
  release();
  await call;
});

test("a plugin that fails to init leaves the dirs unlocked for the next start", async () => {
  const failing: Plugin = {
    type: "metadata",
    id: "broken",
    requires: [],
    init: () => {
      throw new Error("no space left");
    },
  };
  const cfg = config();
  await assert.rejects(startDaemon({ config: cfg, plugins: [failing], log }), {
    message: "failed to load plugin metadata.broken: no space left",
  });
  assert.equal(existsSync(join(cfg.root, LockFileName)), false);
  assert.equal(existsSync(cfg.grpc.address), false, "nothing was served");
  const daemon = await startDaemon({ config: cfg, plugins: [], log });
  await daemon.stop();
});

test("an address a live server answers on is refused; a stale socket is replaced", async () => {
  const cfg = config();
  const other = createServer();
  await new Promise<void>((resolve) => other.listen(cfg.grpc.address, resolve));
  try {
    await assert.rejects(startDaemon({ config: cfg, plugins: [], log }), (err) => {
      return messageOf(err) === `address ${cfg.grpc.address} is in use: another process is serving on it`;
    });
    // A hard link keeps the socket file when the server closes (close unlinks it): a stale
    // socket, as a killed daemon leaves.
    linkSync(cfg.grpc.address, `${cfg.grpc.address}.stale`);
  } finally {
    await new Promise<void>((resolve) => other.close(() => resolve()));
  }
  renameSync(`${cfg.grpc.address}.stale`, cfg.grpc.address);
  const daemon = await startDaemon({ config: cfg, plugins: [], log });
  assert.equal(daemon.endpoint, `unix://${cfg.grpc.address}`);
  await daemon.stop();
});
