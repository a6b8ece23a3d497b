import assert from "node:assert/strict";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { BerthError, kindOf, notFound } from "../lib/errdefs.js";
import { newLogger } from "../lib/log.js";
import { RuntimeService } from "./gen/runtime/v1/api_pb.js";
import { newRemoteRuntimeService, type RuntimeServiceClient } from "./remote-runtime.js";
import { type CriServer, serveCri } from "./server.js";
import { type CriConnection, dialCri, MaxMsgSize } from "./transport.js";

let dir: string;
let server: CriServer;
let conn: CriConnection;
let client: RuntimeServiceClient;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "berth-cri-server-"));
  const endpoint = `unix://${join(dir, "cri.sock")}`;
  server = await serveCri(
    endpoint,
    (router) =>
      router.service(RuntimeService, {
        version: (req) => ({
          version: req.version,
          runtimeName: "test",
          runtimeVersion: "1",
          runtimeApiVersion: "v1",
        }),
        containerStatus: (req) => {
          throw notFound(`container "${req.containerId}" not found`);
        },
        execSync: async (req) => {
          await sleep(Number(req.timeout) * 1000);
          return { exitCode: 0, stdout: new Uint8Array(Number(req.cmd[0] ?? 0)) };
        },
      }),
    newLogger("error"),
  );
  conn = dialCri(endpoint, { timeoutMs: 500 });
  client = newRemoteRuntimeService(conn);
});

after(async () => {
  conn.close();
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

test("a unary call round-trips over the unix socket", async () => {
  const v = await client.version({ version: "0.1.0" });
  assert.deepEqual([v.version, v.runtimeName, v.runtimeApiVersion], ["0.1.0", "test", "v1"]);
});

test("the socket is mode 0660", async () => {
  assert.equal((await stat(server.socket)).mode & 0o777, 0o660);
});

test("a server error kind reaches the client as the same kind", async () => {
  await assert.rejects(client.containerStatus({ containerId: "c1" }), (err) => {
    assert.ok(err instanceof BerthError);
    assert.equal(kindOf(err), "NotFound");
    assert.equal(err.message, 'container "c1" not found');
    return true;
  });
});

test("an RPC the server does not implement is NotImplemented", async () => {
  await assert.rejects(client.listContainers({}), (err) => kindOf(err) === "NotImplemented");
});

test("the default deadline applies to unary calls", async () => {
  await assert.rejects(client.execSync({ containerId: "c", cmd: ["0"], timeout: 2n }), (err) => {
    return kindOf(err) === "DeadlineExceeded";
  });
  const ok = await client.execSync({ containerId: "c", cmd: ["0"], timeout: 1n }, { timeoutMs: 3000 });
  assert.equal(ok.exitCode, 0);
});

test("messages over the kubelet's 16 MiB limit are refused", async () => {
  const fits = await client.execSync({ containerId: "c", cmd: [String(MaxMsgSize - 64)], timeout: 0n });
  assert.equal(fits.stdout.length, MaxMsgSize - 64);
  await assert.rejects(
    client.execSync({ containerId: "c", cmd: [String(MaxMsgSize + 1)], timeout: 0n }),
    (err) => kindOf(err) === "ResourceExhausted",
  );
});
