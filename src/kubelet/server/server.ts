// pkg/kubelet/server/server.go (kubelet 1.28): the kubelet's HTTP face. The read-only server
// (readOnlyPort) answers what upstream serves without authentication — /healthz, /pods, /metrics,
// /metrics/probes and /stats/summary — and the healthz server (healthzPort) answers /healthz alone,
// as cmd/kubelet's does. berth has no authentication or authorization, so it serves on loopback only
// (the configuration refuses any other address) and has no secure port.
import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import type { Pod } from "kubernetes-types/core/v1.js";
import { messageOf } from "../../lib/errdefs.js";
import type { Logger } from "../../lib/log.js";
import type { KubeletMetrics } from "../metrics/metrics.js";
import {
  adaptCheckToHandler,
  type HealthChecker,
  type HealthzAnswer,
  handleRootHealth,
  logHealthz,
  namedCheck,
  pingHealthz,
} from "./healthz.js";
import type { SummaryProvider } from "./stats/summary.js";

/** What the server asks of the kubelet (upstream's HostInterface, the part berth serves). */
export interface KubeletServerHost {
  /** GetPods: the pods the kubelet has, each with the status it last generated. */
  getPods(): Pod[];
  /** syncFrequency. */
  resyncIntervalMs: number;
  /** When the sync loop last began an iteration, ms since the epoch; undefined before the first. */
  latestLoopEntryTime(): number | undefined;
  summary: Pick<SummaryProvider, "get" | "getCPUAndMemoryStats">;
  metrics: KubeletMetrics;
}

export interface KubeletServerConfig {
  healthzBindAddress: string;
  /** 0: no healthz server. */
  healthzPort: number;
  address: string;
  /** 0: no read-only server. */
  readOnlyPort: number;
}

interface Answer {
  code: number;
  body: string;
  contentType?: string;
  headers?: Record<string, string>;
}

/** A route's handler: an answer for the query, or a thrown error (a 500). */
type Handler = (query: Query) => Promise<Answer>;

interface Route {
  methods: readonly string[];
  handle: Handler;
}

/** The parsed query string: every value of every key, in order. */
type Query = URLSearchParams;

class BadRequest extends Error {}

const readMethods = ["GET", "HEAD"] as const;
const healthzRetryMs = 5000;

/**
 * syncLoopHealthCheck: unhealthy once the sync loop has not begun an iteration for twice the resync
 * interval, or five minutes if that is longer. Before the first iteration there is nothing to judge.
 */
export function syncLoopHealthCheck(
  host: Pick<KubeletServerHost, "resyncIntervalMs" | "latestLoopEntryTime">,
  now = Date.now(),
): void {
  const limitMs = Math.max(2 * host.resyncIntervalMs, 5 * 60 * 1000);
  const entered = host.latestLoopEntryTime();
  if (entered !== undefined && now > entered + limitMs)
    throw new Error("sync Loop took longer than expected");
}

/** InstallAuthNotRequiredHandlers: the read-only server's routes. */
export function newKubeletHandler(host: KubeletServerHost, log: Logger): RequestListener {
  const checks: HealthChecker[] = [
    pingHealthz,
    logHealthz,
    namedCheck("syncloop", () => syncLoopHealthCheck(host)),
  ];
  const json = (value: unknown): Answer => ({
    code: 200,
    body: JSON.stringify(value),
    contentType: "application/json",
  });
  const routes: Record<string, Route> = {
    ...healthzRoutes(checks, log),
    "/pods": {
      methods: readMethods,
      handle: async () => json({ kind: "PodList", apiVersion: "v1", metadata: {}, items: host.getPods() }),
    },
    "/metrics": {
      methods: readMethods,
      handle: async () =>
        metricsAnswer(await host.metrics.registry.metrics(), host.metrics.registry.contentType),
    },
    "/metrics/probes": {
      methods: readMethods,
      handle: async () =>
        metricsAnswer(await host.metrics.probesRegistry.metrics(), host.metrics.probesRegistry.contentType),
    },
    // The stats API takes POST as well, as upstream's restful routes do.
    "/stats/summary": {
      methods: [...readMethods, "POST"],
      handle: async (query) =>
        json(onlyCPUAndMemory(query) ? await host.summary.getCPUAndMemoryStats() : await host.summary.get()),
    },
  };
  return newHandler(routes, log);
}

/** cmd/kubelet's healthz server: /healthz with the ping check alone. */
export function newHealthzHandler(log: Logger): RequestListener {
  return newHandler(healthzRoutes([pingHealthz], log), log);
}

/** healthz.InstallHandler: /healthz, and /healthz/<name> for each check. */
function healthzRoutes(checks: readonly HealthChecker[], log: Logger): Record<string, Route> {
  const text = (h: HealthzAnswer) => plain(h.code, h.body);
  const routes: Record<string, Route> = {
    "/healthz": {
      methods: readMethods,
      handle: async (query) => text(await handleRootHealth(checks, query, log)),
    },
  };
  for (const c of checks) {
    routes[`/healthz/${c.name}`] = {
      methods: readMethods,
      handle: async () => text(await adaptCheckToHandler(c)),
    };
  }
  return routes;
}

/** ?only_cpu_and_memory=true asks for CPU and memory alone; anything but true or false is refused. */
function onlyCPUAndMemory(query: Query): boolean {
  const values = query.getAll("only_cpu_and_memory");
  if (values.length === 0) return false;
  if (values.length === 1 && (values[0] === "true" || values[0] === "false")) return values[0] === "true";
  throw new BadRequest(`invalid only_cpu_and_memory ${JSON.stringify(values)}: want true or false`);
}

function metricsAnswer(body: string, contentType: string): Answer {
  return { code: 200, body, contentType };
}

function newHandler(routes: Record<string, Route>, log: Logger): RequestListener {
  return (req, res) => {
    const started = performance.now();
    // Nothing here reads a request body: let it drain so the connection can be reused.
    req.resume();
    void answer(routes, req)
      .catch((err) => {
        log.error({ method: req.method, url: req.url, err: messageOf(err) }, "HTTP InternalServerError");
        return plain(500, `Internal Error: ${messageOf(err)}\n`);
      })
      .then((a) => {
        write(res, a);
        log.debug(
          { method: req.method, url: req.url, code: a.code, ms: Math.round(performance.now() - started) },
          "kubelet HTTP request",
        );
      })
      .catch((err) => {
        // The client went away mid-answer: nothing to tell it, and the server goes on.
        log.debug({ method: req.method, url: req.url, err: messageOf(err) }, "kubelet HTTP answer not sent");
        res.destroy();
      });
  };
}

async function answer(routes: Record<string, Route>, req: IncomingMessage): Promise<Answer> {
  const target = req.url ?? "";
  if (!target.startsWith("/")) return plain(400, `invalid request target ${JSON.stringify(target)}\n`);
  const q = target.indexOf("?");
  const path = q < 0 ? target : target.slice(0, q);
  let query: Query;
  try {
    query = parseQuery(q < 0 ? "" : target.slice(q + 1));
  } catch (err) {
    return plain(400, `${messageOf(err)}\n`);
  }
  const method = req.method ?? "";
  const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
  if (!route) return plain(404, "404 page not found\n");
  if (!route.methods.includes(method)) return methodNotAllowed(route.methods);
  try {
    return await route.handle(query);
  } catch (err) {
    if (err instanceof BadRequest) return plain(400, `${err.message}\n`);
    throw err;
  }
}

/** A query string as Go's url.ParseQuery reads it, but a malformed escape is an error, not skipped. */
export function parseQuery(raw: string): Query {
  const out = new URLSearchParams();
  for (const part of raw.split(/[&]/)) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const [key, value] = eq < 0 ? [part, ""] : [part.slice(0, eq), part.slice(eq + 1)];
    try {
      out.append(decode(key), decode(value));
    } catch {
      throw new Error(`invalid query ${JSON.stringify(part)}: malformed escape`);
    }
  }
  return out;
}

function decode(s: string): string {
  return decodeURIComponent(s.replaceAll("+", " "));
}

function methodNotAllowed(allowed: readonly string[]): Answer {
  return { ...plain(405, "Method Not Allowed\n"), headers: { allow: allowed.join(", ") } };
}

function plain(code: number, body: string): Answer {
  return { code, body, contentType: "text/plain; charset=utf-8" };
}

function write(res: ServerResponse, a: Answer): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(a.code, {
    "content-type": a.contentType ?? "text/plain; charset=utf-8",
    "x-content-type-options": "nosniff",
    "content-length": Buffer.byteLength(a.body),
    ...a.headers,
  });
  res.end(a.body);
}

export interface KubeletServers {
  /** http://<healthzBindAddress>:<healthzPort>/healthz, when served. */
  readonly healthzUrl?: string;
  /** http://<address>:<readOnlyPort>, when served. */
  readonly readOnlyUrl?: string;
  close(): Promise<void>;
}

/**
 * Starts the healthz and read-only servers the configuration asks for. The read-only server must
 * start (upstream exits otherwise); the healthz server, as upstream's, only logs a failure and tries
 * again every 5 s, so a taken port does not keep the kubelet from running pods.
 */
export async function startKubeletServers(
  config: KubeletServerConfig,
  host: KubeletServerHost,
  log: Logger,
): Promise<KubeletServers> {
  const servers: Server[] = [];
  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  const close = async () => {
    closed = true;
    clearTimeout(retry);
    await Promise.all(servers.map(closeServer));
  };
  let readOnlyUrl: string | undefined;
  let healthzUrl: string | undefined;
  try {
    if (config.readOnlyPort !== 0) {
      const server = createServer(newKubeletHandler(host, log));
      servers.push(server);
      const addr = await listen(server, config.address, config.readOnlyPort).catch((err) => {
        throw new Error(
          `failed to listen on ${hostPort(config.address, config.readOnlyPort)} for the read-only server: ${messageOf(err)}`,
          { cause: err },
        );
      });
      readOnlyUrl = `http://${hostPort(addr.address, addr.port)}`;
      log.info({ url: readOnlyUrl }, "serving the kubelet's read-only API");
    }
    if (config.healthzPort !== 0) {
      const server = createServer(newHealthzHandler(log));
      servers.push(server);
      const where = hostPort(config.healthzBindAddress, config.healthzPort);
      healthzUrl = `http://${where}/healthz`;
      const attempt = () =>
        listen(server, config.healthzBindAddress, config.healthzPort).then(
          // A retry can succeed after close(): the server goes at once.
          () => (closed ? closeServer(server) : log.info({ url: healthzUrl }, "serving healthz")),
          (err) => {
            log.error({ address: where, err: messageOf(err) }, "Failed to start healthz server");
            if (!closed) retry = setTimeout(attempt, healthzRetryMs).unref();
          },
        );
      await attempt();
    }
  } catch (err) {
    await close();
    throw err;
  }
  return {
    ...(healthzUrl ? { healthzUrl } : {}),
    ...(readOnlyUrl ? { readOnlyUrl } : {}),
    close,
  };
}

function listen(server: Server, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once("error", onError);
    server.listen({ host, port }, () => {
      server.off("error", onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    server.close(() => resolve());
    // Scrapers keep connections open; the kubelet is stopping, so they go now.
    server.closeAllConnections();
  });
}

function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
