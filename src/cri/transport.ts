// gRPC over a unix socket, as the kubelet dials its runtime: HTTP/2 without TLS,
// 16 MiB message limit, a deadline on every unary call.
import * as net from "node:net";
import type { DescService } from "@bufbuild/protobuf";
import {
  type Client,
  ConnectError,
  createClient,
  type Interceptor,
  type Transport,
} from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { BerthError } from "../lib/errdefs.js";
import { socketPath } from "./endpoint.js";
import { fromConnectError } from "./status.js";

/** The kubelet's maxMsgSize for CRI calls (pkg/kubelet/cri/remote/utils.go). */
export const MaxMsgSize = 16 * 1024 * 1024;
/** The kubelet's default runtimeRequestTimeout. */
export const DefaultTimeoutMs = 2 * 60 * 1000;

export interface DialOptions {
  /** Deadline for unary calls; streams pass `timeoutMs: 0` to have none. */
  timeoutMs?: number;
  interceptors?: Interceptor[];
}

export interface CriConnection {
  readonly endpoint: string;
  readonly transport: Transport;
  close(): void;
}

export function dialCri(endpoint: string, opts: DialOptions = {}): CriConnection {
  const path = socketPath(endpoint);
  // The authority is only a header here; the socket decides where bytes go.
  const sessionManager = new Http2SessionManager(
    "http://localhost",
    { idleConnectionTimeoutMs: 60_000 },
    { createConnection: () => net.connect(path) },
  );
  const transport = createGrpcTransport({
    baseUrl: "http://localhost",
    sessionManager,
    readMaxBytes: MaxMsgSize,
    writeMaxBytes: MaxMsgSize,
    defaultTimeoutMs: opts.timeoutMs ?? DefaultTimeoutMs,
    interceptors: opts.interceptors ?? [],
  });
  return { endpoint, transport, close: () => sessionManager.abort() };
}

/**
 * A typed client whose calls fail with BerthErrors whose kind matches the gRPC status,
 * so callers never see transport error types. (Connect's interceptors cannot do this:
 * it re-wraps whatever they throw.)
 */
export function newCriClient<S extends DescService>(service: S, conn: CriConnection): Client<S> {
  const client = createClient(service, conn.transport) as Record<string, (...a: unknown[]) => unknown>;
  const toKind = (err: unknown) => statusToKind(conn.endpoint, err);
  const wrapped: Record<string, unknown> = {};
  for (const method of service.methods) {
    const call = client[method.localName] as (...a: unknown[]) => unknown;
    wrapped[method.localName] =
      method.methodKind === "unary"
        ? (...a: unknown[]) =>
            (call(...a) as Promise<unknown>).catch((err) => {
              throw toKind(err);
            })
        : (...a: unknown[]) => rethrowing(call(...a) as AsyncIterable<unknown>, toKind);
  }
  return wrapped as Client<S>;
}

async function* rethrowing<T>(stream: AsyncIterable<T>, toKind: (err: unknown) => Error): AsyncIterable<T> {
  try {
    yield* stream;
  } catch (err) {
    throw toKind(err);
  }
}

function statusToKind(endpoint: string, err: unknown): Error {
  if (!(err instanceof ConnectError)) return err instanceof Error ? err : new Error(String(err));
  const sys = systemErrorOf(err);
  if (sys) {
    return new BerthError("Unavailable", `cannot connect to runtime endpoint ${endpoint}: ${describe(sys)}`, {
      cause: err,
    });
  }
  return fromConnectError(err);
}

function systemErrorOf(err: unknown): NodeJS.ErrnoException | undefined {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === "string" && /^E[A-Z]+$/.test(code)) return e as NodeJS.ErrnoException;
  }
  return undefined;
}

function describe(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case "ENOENT":
      return "socket does not exist (is the runtime running?)";
    case "ECONNREFUSED":
      return "connection refused (the runtime is not listening)";
    case "EACCES":
      return "permission denied (try as root)";
    case "ENOTSOCK":
      return "not a socket";
    default:
      return `${err.code}: ${err.message}`;
  }
}
