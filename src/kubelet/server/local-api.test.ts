// berth's local API end to end: a real unix socket, real HTTP requests, the pods stored on disk, and the
// updates PodConfig makes of them.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { Pod, PodStatus } from "kubernetes-types/core/v1.js";
import { pino } from "pino";
import { ApiSource } from "../config/api-source.js";
import { ApiSource as ApiSourceName, PodConfig, type PodUpdate } from "../config/pod-config.js";
import type { RecordedEvent } from "../events/event-recorder.js";
import { type LocalApiServer, serveLocalApi } from "./local-api.js";

const log = pino({ level: "silent" });
const nodeName = "node-1";

interface Reply {
  code: number;
  // biome-ignore lint/suspicious/noExplicitAny: answers are checked field by field
  body: any;
}

function call(
  socketPath: string,
  method: string,
  path: string,
  body?: unknown,
  contentType = "application/json",
): Promise<Reply> {
  const text = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        socketPath,
        method,
        path,
        headers:
          text === undefined
            ? {}
            : { "content-type": contentType, "content-length": Buffer.byteLength(text) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ code: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) }),
        );
      },
    );
    req.on("error", reject);
    req.end(text);
  });
}

function podBody(name: string, image = "busybox:1.36", extra: Record<string, unknown> = {}) {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name },
    spec: { containers: [{ name: "app", image }] },
    ...extra,
  };
}

describe("local API", () => {
  let dir: string;
  let socket: string;
  let config: PodConfig;
  let source: ApiSource;
  let server: LocalApiServer | undefined;
  const statuses = new Map<string, PodStatus>();
  const events = new Map<string, RecordedEvent[]>();
  let now: Date;

  async function start(): Promise<void> {
    config = new PodConfig();
    source = await ApiSource.open({
      rootDir: dir,
      nodeName,
      update: config.channel(ApiSourceName),
      logger: log,
      now: () => now,
    });
    server = await serveLocalApi({
      socket,
      source,
      getPodStatus: (uid) => statuses.get(uid),
      getEvents: (uid) => events.get(uid) ?? [],
      logger: log,
    });
  }

  /** The updates PodConfig has queued, as op and pod names. */
  function drain(): string[] {
    const out: string[] = [];
    for (let u = config.next(); u; u = config.next()) {
      out.push(`${u.op} ${u.pods.map((p: Pod) => p.metadata?.name).join(",")}`.trim());
    }
    return out;
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-local-api-"));
    socket = join(dir, "run", "kubelet.sock");
    now = new Date("2024-05-06T07:08:09Z");
    statuses.clear();
    events.clear();
    await start();
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it("serves on a 0660 socket and announces the source as ready with an empty SET", async () => {
    assert.equal((await stat(socket)).mode & 0o777, 0o660);
    assert.deepEqual(drain(), ["ADD"]);
    assert.equal(config.seenAllSources(new Set([ApiSourceName])), true);
  });

  it("creates a pod: system fields set, defaults applied, stored, sent to PodConfig as an ADD", async () => {
    drain();
    const created = await call(socket, "POST", "/api/v1/namespaces/default/pods", podBody("web"));
    assert.equal(created.code, 201);
    const pod = created.body;
    assert.match(pod.metadata.uid, /^[0-9a-f-]{36}$/);
    assert.equal(pod.metadata.namespace, "default");
    assert.equal(pod.metadata.creationTimestamp, "2024-05-06T07:08:09Z");
    assert.equal(pod.metadata.resourceVersion, "1");
    assert.equal(pod.spec.nodeName, nodeName);
    assert.equal(pod.spec.restartPolicy, "Always");
    assert.equal(pod.spec.containers[0].imagePullPolicy, "IfNotPresent");
    assert.deepEqual(pod.status, { phase: "Pending", qosClass: "BestEffort" });

    const update = config.next() as PodUpdate;
    assert.equal(update.op, "ADD");
    assert.equal(update.pods[0]?.metadata?.uid, pod.metadata.uid);
    assert.equal(update.pods[0]?.metadata?.annotations?.["kubernetes.io/config.source"], "api");

    const files = await readdir(join(dir, "pods-api"));
    assert.deepEqual(files, [`${pod.metadata.uid}.json`]);
    const fileStat = await stat(join(dir, "pods-api", files[0] as string));
    assert.equal(fileStat.mode & 0o777, 0o600);
    assert.equal(
      JSON.parse(await readFile(join(dir, "pods-api", files[0] as string), "utf8")).metadata.name,
      "web",
    );
  });

  it("answers reads with the kubelet's status of each pod", async () => {
    const { body: web } = await call(socket, "POST", "/api/v1/namespaces/default/pods", podBody("web"));
    await call(socket, "POST", "/api/v1/namespaces/kube-system/pods", podBody("dns"));
    statuses.set(web.metadata.uid, { phase: "Running", podIP: "10.89.0.2" });

    const one = await call(socket, "GET", "/api/v1/namespaces/default/pods/web");
    assert.equal(one.code, 200);
    assert.deepEqual(one.body.status, { phase: "Running", podIP: "10.89.0.2" });

    const all = await call(socket, "GET", "/api/v1/pods");
    assert.equal(all.body.kind, "PodList");
    assert.equal(all.body.metadata.resourceVersion, "2");
    assert.deepEqual(
      all.body.items.map((p: Pod) => `${p.metadata?.namespace}/${p.metadata?.name}`),
      ["default/web", "kube-system/dns"],
    );
    const inNamespace = await call(socket, "GET", "/api/v1/namespaces/kube-system/pods");
    assert.deepEqual(
      inNamespace.body.items.map((p: Pod) => p.metadata?.name),
      ["dns"],
    );
  });

  it("answers errors with Status objects and the API server's codes", async () => {
    await call(socket, "POST", "/api/v1/namespaces/default/pods", podBody("web"));
    const missing = await call(socket, "GET", "/api/v1/namespaces/default/pods/nope");
    assert.deepEqual(missing, {
      code: 404,
      body: {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message: 'pods "nope" not found',
        reason: "NotFound",
        details: { name: "nope", kind: "pods" },
        code: 404,
      },
    });
    const again = await call(socket, "POST", "/api/v1/namespaces/default/pods", podBody("web"));
    assert.equal(again.code, 409);
    assert.equal(again.body.reason, "AlreadyExists");
    assert.equal(again.body.message, 'pods "web" already exists');

    const invalid = await call(socket, "POST", "/api/v1/namespaces/default/pods", {
      ...podBody("bad"),
      spec: { restartPolicy: "Sometimes", containers: [{ name: "app" }] },
    });
    assert.equal(invalid.code, 422);
    assert.equal(invalid.body.reason, "Invalid");
    assert.equal(
      invalid.body.message,
      'Pod "bad" is invalid: [spec.containers[0].image: Required value, spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "Never", "OnFailure"]',
    );
    assert.deepEqual(invalid.body.details, {
      name: "bad",
      kind: "Pod",
      causes: [
        { reason: "FieldValueRequired", message: "Required value", field: "spec.containers[0].image" },
        {
          reason: "FieldValueNotSupported",
          message: 'Unsupported value: "Sometimes": supported values: "Always", "Never", "OnFailure"',
          field: "spec.restartPolicy",
        },
      ],
    });

    const badJson = await call(
      socket,
      "POST",
      "/api/v1/namespaces/default/pods",
      '{"metadata": {"name": "x"',
    );
    assert.equal(badJson.code, 400);
    assert.equal(badJson.body.reason, "BadRequest");
    assert.match(badJson.body.message, /^the body is not valid JSON or YAML: line 1, column \d+: /);

    const otherNamespace = await call(socket, "POST", "/api/v1/namespaces/default/pods", {
      ...podBody("x"),
      metadata: { name: "x", namespace: "prod" },
    });
    assert.equal(otherNamespace.code, 400);
    assert.match(otherNamespace.body.message, /does not match the namespace sent on the request/);

    const otherNode = await call(socket, "POST", "/api/v1/namespaces/default/pods", {
      ...podBody("x"),
      spec: { nodeName: "node-2", containers: [{ name: "a", image: "x" }] },
    });
    assert.equal(otherNode.code, 422);
    assert.equal(otherNode.body.details.causes[0].field, "spec.nodeName");

    assert.equal((await call(socket, "GET", "/api/v1/nodes")).code, 404);
    assert.equal((await call(socket, "DELETE", "/api/v1/pods")).code, 405);
    assert.equal(
      (await call(socket, "PUT", "/api/v1/namespaces/default/pods/other", podBody("web"))).code,
      400,
    );
  });

  it("serves the events recorded about each pod as an EventList, picked by field selector", async () => {
    const { body: web } = await call(socket, "POST", "/api/v1/namespaces/default/pods", podBody("web"));
    const { body: dns } = await call(socket, "POST", "/api/v1/namespaces/kube-system/pods", podBody("dns"));
    const at = (s: string) => new Date(`2024-05-06T07:08:${s}Z`);
    const recorded = (reason: string, fieldPath: string, first: string, count = 1): RecordedEvent => ({
      type: reason === "BackOff" ? "Warning" : "Normal",
      reason,
      message: `${reason} container app`,
      fieldPath,
      count,
      firstTimestamp: at(first),
      lastTimestamp: at(count > 1 ? "30" : first),
    });
    events.set(web.metadata.uid, [
      recorded("Created", "spec.containers{app}", "10"),
      recorded("Started", "spec.containers{app}", "10"),
      recorded("BackOff", "spec.containers{app}", "12", 3),
    ]);
    events.set(dns.metadata.uid, [recorded("Pulling", "spec.containers{app}", "11")]);

    const all = await call(socket, "GET", "/api/v1/events");
    assert.equal(all.code, 200);
    assert.equal(all.body.kind, "EventList");
    assert.deepEqual(
      all.body.items.map(
        (e: { metadata: { namespace: string }; reason: string }) => `${e.metadata.namespace}/${e.reason}`,
      ),
      ["default/Created", "default/Started", "default/BackOff", "kube-system/Pulling"],
    );

    const path = `/api/v1/namespaces/default/events?fieldSelector=${encodeURIComponent(
      `involvedObject.name=web,involvedObject.namespace=default,involvedObject.uid=${web.metadata.uid}`,
    )}`;
    const forWeb = await call(socket, "GET", path);
    assert.equal(forWeb.body.items.length, 3);
    const backOff = forWeb.body.items[2];
    assert.match(backOff.metadata.name, /^web\.[0-9a-f]+$/);
    assert.deepEqual(
      { ...backOff, metadata: { ...backOff.metadata, name: "web.x" } },
      {
        apiVersion: "v1",
        kind: "Event",
        metadata: { name: "web.x", namespace: "default", creationTimestamp: "2024-05-06T07:08:12Z" },
        involvedObject: {
          apiVersion: "v1",
          kind: "Pod",
          name: "web",
          namespace: "default",
          uid: web.metadata.uid,
          fieldPath: "spec.containers{app}",
        },
        type: "Warning",
        reason: "BackOff",
        message: "BackOff container app",
        source: { component: "kubelet", host: nodeName },
        firstTimestamp: "2024-05-06T07:08:12Z",
        lastTimestamp: "2024-05-06T07:08:30Z",
        count: 3,
        reportingComponent: "kubelet",
        reportingInstance: nodeName,
      },
    );
    assert.equal(
      new Set(forWeb.body.items.map((e: { metadata: { name: string } }) => e.metadata.name)).size,
      3,
      "names are unique even within one second",
    );

    const notStarted = await call(
      socket,
      "GET",
      `/api/v1/namespaces/default/events?fieldSelector=${encodeURIComponent("reason!=Started,type==Normal")}`,
    );
    assert.deepEqual(
      notStarted.body.items.map((e: { reason: string }) => e.reason),
      ["Created"],
    );
    assert.deepEqual((await call(socket, "GET", "/api/v1/namespaces/prod/events")).body.items, []);

    const badField = await call(socket, "GET", "/api/v1/events?fieldSelector=spec.nodeName%3Dx");
    assert.equal(badField.code, 400);
    assert.equal(badField.body.message, "field label not supported: spec.nodeName");
    assert.equal((await call(socket, "POST", "/api/v1/namespaces/default/events", {})).code, 405);
  });

  it("takes YAML bodies and creates or replaces by name with PUT, keeping the UID", async () => {
    drain();
    const yaml =
      "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: app\n    image: busybox:1.36\n";
    const created = await call(socket, "PUT", "/api/v1/namespaces/default/pods", yaml, "application/yaml");
    assert.equal(created.code, 201);
    now = new Date("2024-05-06T08:00:00Z");
    const replaced = await call(
      socket,
      "PUT",
      "/api/v1/namespaces/default/pods/web",
      podBody("web", "busybox:1.37"),
    );
    assert.equal(replaced.code, 200);
    assert.equal(replaced.body.metadata.uid, created.body.metadata.uid);
    assert.equal(replaced.body.metadata.creationTimestamp, created.body.metadata.creationTimestamp);
    assert.equal(replaced.body.metadata.resourceVersion, "2");
    assert.equal(replaced.body.metadata.generation, 2);
    assert.deepEqual(drain(), ["ADD web", "UPDATE web"]);

    const stale = await call(socket, "PUT", "/api/v1/namespaces/default/pods/web", {
      ...podBody("web"),
      metadata: { name: "web", resourceVersion: "1" },
    });
    assert.equal(stale.code, 409);
    assert.equal(stale.body.reason, "Conflict");
    assert.equal((await readdir(join(dir, "pods-api"))).length, 1);
  });

  it("deletes gracefully: the pod stays, marked, until the kubelet reports it terminated", async () => {
    const { body: web } = await call(socket, "POST", "/api/v1/namespaces/default/pods", {
      ...podBody("web"),
      spec: { terminationGracePeriodSeconds: 10, containers: [{ name: "app", image: "x" }] },
    });
    drain();
    const deleted = await call(socket, "DELETE", "/api/v1/namespaces/default/pods/web?gracePeriodSeconds=5");
    assert.equal(deleted.code, 200);
    assert.equal(deleted.body.metadata.deletionTimestamp, "2024-05-06T07:08:14Z");
    assert.equal(deleted.body.metadata.deletionGracePeriodSeconds, 5);
    assert.deepEqual(drain(), ["DELETE web"]);

    // Still there, and a longer grace period does not replace the shorter one.
    assert.equal((await call(socket, "GET", "/api/v1/namespaces/default/pods/web")).code, 200);
    const longer = await call(socket, "DELETE", "/api/v1/namespaces/default/pods/web", {
      gracePeriodSeconds: 30,
    });
    assert.equal(longer.body.metadata.deletionGracePeriodSeconds, 5);
    const replace = await call(socket, "PUT", "/api/v1/namespaces/default/pods/web", podBody("web"));
    assert.equal(replace.code, 409);
    assert.match(replace.body.message, /the pod is being deleted/);

    await source.podTerminated(web.metadata.uid);
    assert.deepEqual(drain(), ["REMOVE web"]);
    assert.equal((await call(socket, "GET", "/api/v1/namespaces/default/pods/web")).code, 404);
    assert.deepEqual(await readdir(join(dir, "pods-api")), []);
    assert.equal((await call(socket, "DELETE", "/api/v1/namespaces/default/pods/web")).code, 404);
  });

  it("defaults the grace period to the pod's, and does not drop a pod that is not being deleted", async () => {
    const { body: web } = await call(socket, "POST", "/api/v1/namespaces/default/pods", podBody("web"));
    await source.podTerminated(web.metadata.uid);
    assert.equal((await call(socket, "GET", "/api/v1/namespaces/default/pods/web")).code, 200);
    const deleted = await call(socket, "DELETE", "/api/v1/namespaces/default/pods/web");
    assert.equal(deleted.body.metadata.deletionGracePeriodSeconds, 30);
  });

  it("keeps applied pods across a restart, a terminating one too; ignores a torn write and a corrupt file", async () => {
    const { body: web } = await call(socket, "POST", "/api/v1/namespaces/default/pods", podBody("web"));
    const { body: db } = await call(socket, "POST", "/api/v1/namespaces/default/pods", podBody("db"));
    await call(socket, "DELETE", "/api/v1/namespaces/default/pods/db");
    await server?.close();
    const store = join(dir, "pods-api");
    await writeFile(join(store, ".0123.tmp"), "{");
    await writeFile(join(store, "broken.json"), "{");

    await start();
    const first = config.next() as PodUpdate;
    assert.equal(first.op, "ADD");
    const byName = new Map(first.pods.map((p) => [p.metadata?.name, p]));
    assert.equal(byName.get("web")?.metadata?.uid, web.metadata.uid);
    assert.equal(byName.get("db")?.metadata?.uid, db.metadata.uid);
    assert.ok(byName.get("db")?.metadata?.deletionTimestamp);
    assert.deepEqual(
      (await readdir(store)).sort(),
      [`${db.metadata.uid}.json`, `${web.metadata.uid}.json`, "broken.json"].sort(),
    );

    const next = await call(socket, "POST", "/api/v1/namespaces/default/pods", podBody("cache"));
    assert.equal(next.body.metadata.resourceVersion, "4", "resource versions go on from the stored ones");
  });

  it("generates a name from generateName", async () => {
    const created = await call(socket, "POST", "/api/v1/namespaces/default/pods", {
      ...podBody("x"),
      metadata: { generateName: "job-" },
    });
    assert.equal(created.code, 201);
    assert.match(created.body.metadata.name, /^job-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  });

  it("refuses a socket another server answers on, and replaces a stale one", async () => {
    await assert.rejects(
      serveLocalApi({ socket, source, logger: log }),
      /is in use: another process is serving on it/,
    );
    await server?.close();
    // A socket left by a kubelet killed with -9: the file stays, nobody listens on it.
    const child = spawn(process.execPath, [
      "-e",
      "require('node:net').createServer().listen(process.argv[1], () => console.log('up'))",
      socket,
    ]);
    await once(child.stdout, "data");
    const exited = once(child, "exit");
    process.kill(child.pid as number, "SIGKILL");
    await exited;
    assert.ok((await stat(socket)).isSocket());
    server = await serveLocalApi({ socket, source, logger: log });
    assert.equal((await call(socket, "GET", "/api/v1/pods")).code, 200);
  });
});
