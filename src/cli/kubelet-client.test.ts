import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DefaultLocalApiSocket } from "../kubelet/server/local-api.js";
import { kindOf } from "../lib/errdefs.js";
import {
  ApiError,
  DefaultKubeletSocket,
  KubeletClient,
  parsePodArgs,
  standardErrorMessage,
} from "./kubelet-client.js";

it("defaults to the socket the kubelet serves on", () => {
  assert.equal(DefaultKubeletSocket, DefaultLocalApiSocket);
});

describe("standardErrorMessage", () => {
  it("prints reason and message as kubectl does", () => {
    assert.equal(
      standardErrorMessage({ kind: "Status", code: 404, reason: "NotFound", message: 'pods "x" not found' }),
      'Error from server (NotFound): pods "x" not found',
    );
    assert.equal(standardErrorMessage({ code: 500, message: "boom" }), "Error from server: boom");
  });

  it("names each refused field of an Invalid answer, once", () => {
    const causes = [{ field: "spec.containers[0].image", message: "Required value" }];
    assert.equal(
      standardErrorMessage({ reason: "Invalid", details: { kind: "Pod", name: "bad", causes } }),
      'The Pod "bad" is invalid: spec.containers[0].image: Required value',
    );
    const two = [...causes, ...causes, { field: "spec.restartPolicy", message: 'Unsupported value: "x"' }];
    assert.equal(
      standardErrorMessage({ reason: "Invalid", details: { kind: "Pod", name: "bad", causes: two } }),
      'The Pod "bad" is invalid: \n* spec.containers[0].image: Required value\n* spec.restartPolicy: Unsupported value: "x"',
    );
    assert.equal(standardErrorMessage({ reason: "Invalid", details: {} }), "The request is invalid");
  });

  it("says which file an error came from, except for Invalid ones that name their fields", () => {
    const conflict = new ApiError({ code: 409, reason: "Conflict", message: "the pod is being deleted" });
    assert.equal(kindOf(conflict), "FailedPrecondition");
    assert.equal(kindOf(new ApiError({ code: 409, reason: "AlreadyExists" })), "AlreadyExists");
    assert.equal(
      conflict.withSource("replacing", "pod.yaml").message,
      'Error from server (Conflict): error when replacing "pod.yaml": the pod is being deleted',
    );
    const invalid = new ApiError({ code: 422, reason: "Invalid", details: { kind: "Pod", name: "p" } });
    assert.equal(invalid.withSource("creating", "pod.yaml"), invalid);
  });
});

it("takes pod names as kubectl does: `pods a b` or `pod/a pod/b`", () => {
  assert.deepEqual(parsePodArgs(["pods"]), []);
  assert.deepEqual(parsePodArgs(["po", "a", "b"]), ["a", "b"]);
  assert.deepEqual(parsePodArgs(["pod/a", "pods/b"]), ["a", "b"]);
  assert.throws(() => parsePodArgs(["deployments"]), /the server doesn't have a resource type "deployments"/);
  assert.throws(() => parsePodArgs(["svc/a"]), /resource type "svc"/);
  assert.throws(() => parsePodArgs(["pod/a", "b"]), /resource\/name form/);
  assert.throws(() => parsePodArgs([]), /you must specify the type of resource/);
});

describe("KubeletClient on a unix socket", () => {
  let dir: string;
  let socket: string;
  const server = createServer((req, res) => {
    const reply = (code: number, body: string) => {
      res.writeHead(code, { "content-type": "application/json" });
      res.end(body);
    };
    if (req.url === "/api/v1/pods") return reply(200, '{"kind":"PodList","items":[]}');
    if (req.url === "/broken") return reply(502, "bad gateway\n");
    if (req.url === "/slow") return; // never answers
    reply(
      404,
      JSON.stringify({ kind: "Status", code: 404, reason: "NotFound", message: 'pods "x" not found' }),
    );
  });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-kubelet-client-"));
    socket = join(dir, "kubelet.sock");
    await new Promise<void>((resolve) => server.listen(socket, resolve));
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  it("answers bodies, and errors as kubectl words them with the Status's kind", async () => {
    const client = new KubeletClient(socket, 5000);
    assert.deepEqual(await client.get("/api/v1/pods"), { kind: "PodList", items: [] });
    const missing = await client.get("/api/v1/namespaces/default/pods/x").catch((e: unknown) => e);
    assert.ok(missing instanceof ApiError);
    assert.equal(kindOf(missing), "NotFound");
    assert.equal(missing.message, 'Error from server (NotFound): pods "x" not found');
    await assert.rejects(client.get("/broken"), { message: "Error from server: bad gateway" });
  });

  it("gives up on a kubelet that does not answer in time", async () => {
    const client = new KubeletClient(socket, 200);
    const err = await client.get("/slow").catch((e: unknown) => e);
    assert.equal(kindOf(err), "DeadlineExceeded");
    assert.match(String(err), /did not answer within 200 ms/);
  });

  it("says which socket is missing and how to name another", async () => {
    const missing = join(dir, "none.sock");
    const err = await new KubeletClient(missing, 1000).get("/api/v1/pods").catch((e: unknown) => e);
    assert.equal(kindOf(err), "Unavailable");
    assert.match(
      String(err),
      new RegExp(`local API socket ${missing} does not exist: is \`berth kubelet\` running\\?`),
    );
    assert.match(String(err), /--kubelet-socket or BERTH_KUBELET_SOCKET/);
  });
});
