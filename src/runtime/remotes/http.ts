// The HTTP layer under the registry client: undici requests through a host's dispatcher, and errors
// worded as Go's net/http words them, since containerd's messages embed those
// (`Head "http://127.0.0.1:1/v2/…": dial tcp 127.0.0.1:1: connect: connection refused`).
import { STATUS_CODES } from "node:http";
import type { Readable } from "node:stream";
import { type Dispatcher, request } from "undici";
import { BerthError, messageOf } from "../../lib/errdefs.js";

export interface HttpResponse {
  status: number;
  /** First value of a header (names are case-insensitive). */
  header(name: string): string | undefined;
  /** Every value of a header, e.g. several WWW-Authenticate challenges. */
  headerValues(name: string): string[];
  body: Readable;
  /** The whole body (at most `limit` bytes, when given). */
  readAll(limit?: number): Promise<Buffer>;
  /** Drops the body so the connection can be reused. */
  discard(): Promise<void>;
}

export interface SendOptions {
  headers?: Record<string, string | string[]>;
  body?: string;
  signal?: AbortSignal;
}

export interface HttpClient {
  /** Sends a request; network failures throw `<Method> "<url>": <cause>` with the cause attached. */
  send(method: string, url: string, opts?: SendOptions): Promise<HttpResponse>;
}

export function newHttpClient(dispatcher: Dispatcher): HttpClient {
  return {
    send: async (method, url, opts = {}) => {
      let res: Dispatcher.ResponseData;
      try {
        res = await request(url, {
          method: method as Dispatcher.HttpMethod,
          headers: opts.headers,
          body: opts.body,
          signal: opts.signal,
          dispatcher,
        });
      } catch (err) {
        throw new BerthError(
          opts.signal?.aborted ? "Canceled" : "Unknown",
          `${goMethod(method)} "${url}": ${netErrorText(err, url)}`,
          { cause: err },
        );
      }
      return wrapResponse(res);
    },
  };
}

function wrapResponse(res: Dispatcher.ResponseData): HttpResponse {
  const values = (name: string): string[] => {
    const v = res.headers[name.toLowerCase()];
    return v === undefined ? [] : Array.isArray(v) ? v : [v];
  };
  return {
    status: res.statusCode,
    header: (name) => values(name)[0],
    headerValues: values,
    body: res.body,
    readAll: async (limit) => {
      const chunks: Buffer[] = [];
      let n = 0;
      for await (const chunk of res.body) {
        n += (chunk as Buffer).length;
        if (limit !== undefined && n > limit) {
          res.body.destroy();
          throw new BerthError("Unknown", `response body larger than ${limit} bytes`);
        }
        chunks.push(chunk as Buffer);
      }
      return Buffer.concat(chunks);
    },
    discard: async () => {
      await res.body.dump().catch(() => undefined);
    },
  };
}

/** Go's url.Error names the method as "Head", "Get", "Post". */
function goMethod(method: string): string {
  return method.charAt(0) + method.slice(1).toLowerCase();
}

/** Go's Response.Status: "404 Not Found". */
export function statusText(status: number): string {
  return `${status} ${STATUS_CODES[status] ?? ""}`.trimEnd();
}

/** ErrUnexpectedStatus (remotes/errors): a token server's answer that is not a success. */
export function unexpectedStatus(status: number, body: Buffer): BerthError {
  return new BerthError("Unknown", `unexpected status: ${statusText(status)}`, { cause: { status, body } });
}

/** The HTTP status behind an unexpectedStatus error, if it is one. */
export function statusOf(err: unknown): number | undefined {
  const status = ((err as { cause?: unknown } | null)?.cause as { status?: unknown } | undefined)?.status;
  return typeof status === "number" ? status : undefined;
}

// Codes of failures where the server may answer a later attempt: refused, reset, timed out, gone.
const networkCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_REQ_CONTENT_LENGTH_MISMATCH",
  "UND_ERR_RES_CONTENT_LENGTH_MISMATCH",
  "ERR_STREAM_PREMATURE_CLOSE",
]);

/** The system or undici error under `err` (through causes and AggregateErrors), if any. */
function rootCause(err: unknown): (Error & { code?: string; address?: string; port?: number }) | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 10; depth++) {
    const coded = e as Error & { code?: string; errors?: unknown[] };
    if (typeof coded.code === "string") return coded;
    e = coded.errors?.[0] ?? coded.cause;
  }
  return undefined;
}

/** Whether `err` is a connection-level failure worth retrying (not an HTTP answer). */
export function isNetworkError(err: unknown): boolean {
  const code = rootCause(err)?.code;
  return code !== undefined && networkCodes.has(code);
}

const unknownAuthority = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
]);

/** A network failure as Go prints it, falling back to Node's message. */
export function netErrorText(err: unknown, url: string): string {
  const root = rootCause(err);
  const { hostname, port, protocol } = new URL(url);
  const addr = `${root?.address ?? hostname.replace(/^\[|\]$/g, "")}:${root?.port ?? (port || (protocol === "https:" ? "443" : "80"))}`;
  switch (root?.code) {
    case "ECONNREFUSED":
      return `dial tcp ${addr}: connect: connection refused`;
    case "ECONNRESET":
      return `read tcp ${addr}: read: connection reset by peer`;
    case "EHOSTUNREACH":
      return `dial tcp ${addr}: connect: no route to host`;
    case "ENETUNREACH":
      return `dial tcp ${addr}: connect: network is unreachable`;
    case "ENOTFOUND":
      return `dial tcp: lookup ${hostname}: no such host`;
    case "ETIMEDOUT":
    case "UND_ERR_CONNECT_TIMEOUT":
      return `dial tcp ${addr}: i/o timeout`;
  }
  if (root?.code !== undefined && unknownAuthority.has(root.code))
    return "x509: certificate signed by unknown authority";
  return messageOf(root ?? err);
}
