// berth's local API: the pods part of the Kubernetes REST API, served on a unix socket by the kubelet of a
// node without an API server. Requests and answers are the API server's: Pod and PodList objects, Status
// objects for errors with the same codes and reasons (404 NotFound, 409 AlreadyExists or Conflict, 422
// Invalid with field causes, 400 BadRequest). Node's http module is enough for these routes.
//   GET    /api/v1/pods
//   GET    /api/v1/namespaces/{ns}/pods               POST (create)   PUT (create or replace by name)
//   GET    /api/v1/namespaces/{ns}/pods/{name}        PUT (create or replace)   DELETE (graceful)
//   GET    /api/v1/events, /api/v1/namespaces/{ns}/events   the kubelet's events about the pods, as an
//          EventList; ?fieldSelector=involvedObject.name=web,... picks them as the API server does
import { chmod, lstat, mkdir, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { connect } from "node:net";
import { dirname } from "node:path";
import type { Event, Pod, PodStatus } from "kubernetes-types/core/v1.js";
import { parseDocument } from "yaml";
import { failedPrecondition, kindOf, messageOf } from "../../lib/errdefs.js";
import type { Logger } from "../../lib/log.js";
import { type ApiSource, InvalidPodError } from "../config/api-source.js";
import { parseJsonObject } from "../config/common.js";
import type { RecordedEvent } from "../events/event-recorder.js";

export const DefaultLocalApiSocket = "/run/berth/kubelet.sock";

/** The API server's limit on a request body (3 MiB). */
const MaxRequestBodyBytes = 3 * 1024 * 1024;

export interface LocalApiOptions {
  /** The socket path; DefaultLocalApiSocket unless given. */
  socket?: string;
  source: ApiSource;
  /** The kubelet's view of a pod's status (its status manager); the stored status otherwise. */
  getPodStatus?: (uid: string) => PodStatus | undefined;
  /** The events recorded about a pod (the kubelet's EventRecorder.eventsFor); none unless given. */
  getEvents?: (uid: string) => readonly RecordedEvent[];
  logger: Logger;
}

export interface LocalApiServer {
  readonly socket: string;
  close(): Promise<void>;
}

/** metav1.Status, the body of every error. */
interface Status {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Failure";
  message: string;
  reason: string;
  details?: { name?: string; kind?: string; causes?: { reason: string; message: string; field: string }[] };
  code: number;
}

class HttpError extends Error {
  constructor(readonly status: Status) {
    super(status.message);
  }
}

function failure(code: number, reason: string, message: string, details?: Status["details"]): HttpError {
  return new HttpError({
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason,
    details,
    code,
  });
}

/** An error from the store as the API server would answer it. */
function statusOf(err: unknown, name: string | undefined): Status {
  if (err instanceof HttpError) return err.status;
  if (err instanceof InvalidPodError) {
    const causes = err.causes.map((c) => ({ reason: c.reason(), message: c.body(), field: c.field }));
    return failure(422, "Invalid", err.message, { name: err.podName, kind: "Pod", causes }).status;
  }
  const details = name === undefined ? undefined : { name, kind: "pods" };
  switch (kindOf(err)) {
    case "InvalidArgument":
      return failure(400, "BadRequest", messageOf(err)).status;
    case "NotFound":
      return failure(404, "NotFound", messageOf(err), details).status;
    case "AlreadyExists":
      return failure(409, "AlreadyExists", messageOf(err), details).status;
    case "FailedPrecondition":
      return failure(409, "Conflict", messageOf(err), details).status;
    default:
      return failure(500, "InternalError", `Internal error occurred: ${messageOf(err)}`).status;
  }
}

interface Route {
  resource: "pods" | "events";
  namespace?: string;
  name?: string;
  /** /api/v1/pods or /api/v1/events: every namespace. */
  all: boolean;
}

function route(pathname: string): Route | undefined {
  if (pathname === "/api/v1/pods") return { resource: "pods", all: true };
  if (pathname === "/api/v1/events") return { resource: "events", all: true };
  const m = /^\/api\/v1\/namespaces\/([^/]+)\/(?:(events)|pods(?:\/([^/]+))?)\/?$/.exec(pathname);
  if (!m) return undefined;
  try {
    return {
      resource: m[2] ? "events" : "pods",
      all: false,
      namespace: decodeURIComponent(m[1] as string),
      name: m[3] && decodeURIComponent(m[3]),
    };
  } catch {
    return undefined; // a malformed escape names nothing here
  }
}

/** The fields of an Event a field selector may test (the API server's event field labels). */
const eventFields: Record<string, (e: Event) => string | undefined> = {
  "metadata.name": (e) => e.metadata.name,
  "metadata.namespace": (e) => e.metadata.namespace,
  "involvedObject.kind": (e) => e.involvedObject.kind,
  "involvedObject.namespace": (e) => e.involvedObject.namespace,
  "involvedObject.name": (e) => e.involvedObject.name,
  "involvedObject.uid": (e) => e.involvedObject.uid,
  "involvedObject.apiVersion": (e) => e.involvedObject.apiVersion,
  "involvedObject.resourceVersion": (e) => e.involvedObject.resourceVersion,
  "involvedObject.fieldPath": (e) => e.involvedObject.fieldPath,
  reason: (e) => e.reason,
  reportingComponent: (e) => e.reportingComponent,
  source: (e) => e.source?.component,
  type: (e) => e.type,
};

/** A field selector ("a=b,c!=d"; "==" is "=") as a predicate; unknown fields are refused as the API server does. */
function eventSelector(selector: string | null): (e: Event) => boolean {
  const terms = (selector ?? "")
    .split(",")
    .filter((t) => t.trim() !== "")
    .map((term) => {
      const m = /^([^=!]+)(==|=|!=)(.*)$/.exec(term.trim());
      if (!m) throw failure(400, "BadRequest", `invalid field selector: ${JSON.stringify(term)}`);
      const field = eventFields[m[1] as string];
      if (!field) throw failure(400, "BadRequest", `field label not supported: ${m[1]}`);
      const want = m[3] as string;
      const equal = m[2] !== "!=";
      return (e: Event) => ((field(e) ?? "") === want) === equal;
    });
  return (e) => terms.every((t) => t(e));
}

/** metav1.Time: RFC 3339 in seconds. */
const apiTime = (d: Date) => `${d.toISOString().slice(0, 19)}Z`;

/** A recorded event as the v1.Event the kubelet would have posted about the pod. */
function podEvent(pod: Pod, e: RecordedEvent, index: number): Event {
  const meta = pod.metadata ?? {};
  const host = pod.spec?.nodeName;
  // client-go names an event <object>.<unix nanoseconds in hex>; the index keeps two of one millisecond apart.
  const suffix = (BigInt(e.firstTimestamp.getTime()) * 1_000_000n + BigInt(index)).toString(16);
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: {
      name: `${meta.name}.${suffix}`,
      namespace: meta.namespace,
      creationTimestamp: apiTime(e.firstTimestamp),
    },
    involvedObject: {
      apiVersion: "v1",
      kind: "Pod",
      name: meta.name,
      namespace: meta.namespace,
      uid: meta.uid,
      ...(e.fieldPath ? { fieldPath: e.fieldPath } : {}),
    },
    type: e.type,
    reason: e.reason,
    message: e.message,
    source: { component: "kubelet", ...(host ? { host } : {}) },
    firstTimestamp: apiTime(e.firstTimestamp),
    lastTimestamp: apiTime(e.lastTimestamp),
    count: e.count,
    reportingComponent: "kubelet",
    reportingInstance: host ?? "",
  };
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MaxRequestBodyBytes)
      throw failure(413, "RequestEntityTooLarge", "the request body is too large");
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") throw failure(400, "BadRequest", "the request has no body");
  const json = parseJsonObject(text);
  if (json) return json;
  // JSON is YAML: one parser takes both, as the API server takes either content type.
  const doc = parseDocument(text, { version: "1.1", uniqueKeys: true });
  const e = doc.errors[0];
  if (e) {
    const pos = e.linePos?.[0];
    const reason = e.message.split(" at line")[0];
    throw failure(
      400,
      "BadRequest",
      `the body is not valid JSON or YAML: ${pos ? `line ${pos.line}, column ${pos.col}: ` : ""}${reason}`,
    );
  }
  return doc.toJS({ mapAsMap: false });
}

/** gracePeriodSeconds from the query or from a DeleteOptions body. */
async function deleteGracePeriod(req: IncomingMessage, query: URLSearchParams): Promise<number | undefined> {
  const fromQuery = query.get("gracePeriodSeconds");
  let value: unknown = fromQuery === null ? undefined : Number(fromQuery);
  if (value === undefined && Number(req.headers["content-length"] ?? 0) > 0) {
    const body = await readBody(req);
    value = (body as { gracePeriodSeconds?: unknown } | null)?.gracePeriodSeconds;
  }
  if (value === undefined || value === null) return undefined;
  if (!Number.isSafeInteger(value)) throw failure(400, "BadRequest", "gracePeriodSeconds must be an integer");
  return value as number;
}

/** Serves the local API on a unix socket (0660). A socket a live server answers on is refused. */
export async function serveLocalApi(opts: LocalApiOptions): Promise<LocalApiServer> {
  const socket = opts.socket ?? DefaultLocalApiSocket;
  const log = opts.logger.child({ component: "local-api" });
  const { source } = opts;

  const withStatus = (pod: Pod): Pod => {
    const status = pod.metadata?.uid ? opts.getPodStatus?.(pod.metadata.uid) : undefined;
    return status ? { ...pod, status } : pod;
  };

  const handle = async (req: IncomingMessage): Promise<{ code: number; body: unknown }> => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const r = route(url.pathname);
    if (!r) throw failure(404, "NotFound", "the server could not find the requested resource");
    const method = req.method ?? "GET";
    const list = (pods: readonly Pod[]) => ({
      kind: "PodList",
      apiVersion: "v1",
      metadata: { resourceVersion: source.listResourceVersion() },
      items: pods.map(withStatus),
    });
    if (r.resource === "events") {
      if (method !== "GET") throw methodNotAllowed(method);
      const selected = eventSelector(url.searchParams.get("fieldSelector"));
      const pods = r.all ? source.list() : source.list(r.namespace);
      const events = pods.flatMap((pod) =>
        (opts.getEvents?.(pod.metadata?.uid ?? "") ?? []).map((e, i) => podEvent(pod, e, i)),
      );
      const items = events.filter(selected);
      return { code: 200, body: { kind: "EventList", apiVersion: "v1", metadata: {}, items } };
    }
    if (r.all) {
      if (method !== "GET") throw methodNotAllowed(method);
      return { code: 200, body: list(source.list()) };
    }
    const ns = r.namespace as string;
    if (r.name === undefined) {
      switch (method) {
        case "GET":
          return { code: 200, body: list(source.list(ns)) };
        case "POST":
          return { code: 201, body: withStatus(await source.create(ns, await readBody(req))) };
        case "PUT": {
          const { pod, created } = await source.apply(ns, await readBody(req));
          return { code: created ? 201 : 200, body: withStatus(pod) };
        }
        default:
          throw methodNotAllowed(method);
      }
    }
    switch (method) {
      case "GET":
        return { code: 200, body: withStatus(source.get(ns, r.name)) };
      case "PUT": {
        const { pod, created } = await source.apply(ns, await readBody(req), r.name);
        return { code: created ? 201 : 200, body: withStatus(pod) };
      }
      case "DELETE": {
        const grace = await deleteGracePeriod(req, url.searchParams);
        return { code: 200, body: withStatus(await source.delete(ns, r.name, grace)) };
      }
      default:
        throw methodNotAllowed(method);
    }
  };

  const server = createServer((req, res) => {
    const started = Date.now();
    handle(req)
      .catch((err: unknown) => {
        const status = statusOf(err, route(new URL(req.url ?? "/", "http://localhost").pathname)?.name);
        if (status.code >= 500)
          log.error({ method: req.method, path: req.url, err: messageOf(err) }, "request failed");
        return { code: status.code, body: status };
      })
      .then(({ code, body }) => {
        reply(res, code, body);
        const level = req.method === "GET" ? "debug" : "info";
        log[level](
          { method: req.method, path: req.url, code, ms: Date.now() - started },
          "local API request",
        );
      });
  });

  await mkdir(dirname(socket), { recursive: true });
  await checkSocketFree(socket);
  await rm(socket, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socket, () => {
      server.off("error", reject);
      resolve();
    });
  });
  await chmod(socket, 0o660);
  log.info({ socket }, "serving the local API");
  return {
    socket,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await rm(socket, { force: true });
    },
  };
}

function methodNotAllowed(method: string): HttpError {
  return failure(
    405,
    "MethodNotAllowed",
    `the server does not allow this method on the requested resource: ${method}`,
  );
}

function reply(res: ServerResponse, code: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(code, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** Refuses a path that is not a socket, or that a live server answers on; a dead socket is stale. */
async function checkSocketFree(path: string): Promise<void> {
  const st = await lstat(path).catch(() => undefined);
  if (!st) return;
  if (!st.isSocket()) throw failedPrecondition(`local API socket ${path} exists and is not a socket`);
  const answered = await new Promise<boolean>((resolve) => {
    const s = connect(path);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
  if (answered)
    throw failedPrecondition(`local API socket ${path} is in use: another process is serving on it`);
}
