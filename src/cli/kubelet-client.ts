// The CLI's client of berth's local API (src/kubelet/server/local-api.ts): HTTP over the kubelet's unix
// socket, as kubectl talks to an API server. An error answer (a metav1.Status) becomes one BerthError
// whose message is the line kubectl prints for it, e.g. `Error from server (NotFound): pods "x" not found`.
import { request } from "node:http";
import { type Command, Option } from "commander";
import type { Pod } from "kubernetes-types/core/v1.js";
import { BerthError, type ErrorKind, invalidArgument } from "../lib/errdefs.js";

/** The kubelet's DefaultLocalApiSocket, named here so the CLI does not load the server to learn it. */
export const DefaultKubeletSocket = "/run/berth/kubelet.sock";

export interface KubeletSocketOptions {
  kubeletSocket: string;
}

/** Adds --kubelet-socket (env BERTH_KUBELET_SOCKET) to a command. */
export function withKubeletSocket(command: Command): Command {
  return command.addOption(
    new Option("--kubelet-socket <path>", "socket of the kubelet's local API")
      .env("BERTH_KUBELET_SOCKET")
      .default(DefaultKubeletSocket),
  );
}

/** metav1.Status, the body of every error answer. */
export interface ApiStatus {
  kind?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: {
    name?: string;
    kind?: string;
    causes?: { reason?: string; message?: string; field?: string }[];
  };
}

/** The error kind of an answer: by its reason, else by its HTTP code (the server's mapping in reverse). */
function kindOfStatus(s: ApiStatus): ErrorKind {
  if (s.reason === "Conflict") return "FailedPrecondition";
  switch (s.code) {
    case 400:
    case 422:
      return "InvalidArgument";
    case 403:
      return "PermissionDenied";
    case 404:
      return "NotFound";
    case 409:
      return "AlreadyExists";
    case 503:
      return "Unavailable";
    default:
      return "Unknown";
  }
}

/** An error answer of the local API, with the Status it came with. */
export class ApiError extends BerthError {
  constructor(readonly status: ApiStatus) {
    super(kindOfStatus(status), standardErrorMessage(status));
  }

  /** The error as kubectl reports it about a file it was applying (cmdutil.AddSourceToErr). */
  withSource(verb: string, source: string): ApiError {
    if (!source || this.status.reason === "Invalid") return this;
    return new ApiError({
      ...this.status,
      message: `error when ${verb} "${source}": ${this.status.message}`,
    });
  }
}

/**
 * kubectl's line for an error answer (cmdutil.checkErr and StandardErrorMessage): an Invalid one
 * names each field that was refused, others give reason and message.
 */
export function standardErrorMessage(s: ApiStatus): string {
  if (s.reason === "Invalid" && s.details) {
    const { kind, name, causes = [] } = s.details;
    const prefix =
      kind || name ? `The ${kind ?? ""} ${JSON.stringify(name ?? "")} is invalid` : "The request is invalid";
    const errs = [...new Set(causes.map((c) => `${c.field ?? ""}: ${c.message ?? ""}`))];
    if (errs.length === 0) return prefix;
    if (errs.length === 1) return `${prefix}: ${errs[0]}`;
    return `${prefix}: \n${errs.map((e) => `* ${e}`).join("\n")}`;
  }
  return s.reason ? `Error from server (${s.reason}): ${s.message}` : `Error from server: ${s.message}`;
}

/** Why the socket did not answer, in words that say what to check. */
function connectError(socket: string, err: NodeJS.ErrnoException): BerthError {
  const hint = "is `berth kubelet` running? (--kubelet-socket or BERTH_KUBELET_SOCKET name another socket)";
  switch (err.code) {
    case "ENOENT":
      return new BerthError(
        "Unavailable",
        `the kubelet's local API socket ${socket} does not exist: ${hint}`,
      );
    case "ECONNREFUSED":
      return new BerthError("Unavailable", `the connection to the kubelet at ${socket} was refused: ${hint}`);
    case "EACCES":
      return new BerthError(
        "PermissionDenied",
        `permission denied on the kubelet's local API socket ${socket}`,
      );
    default:
      return new BerthError("Unavailable", `cannot reach the kubelet at ${socket}: ${err.message}`);
  }
}

export interface Reply {
  code: number;
  body: unknown;
}

export class KubeletClient {
  constructor(
    readonly socket: string,
    readonly timeoutMs: number,
  ) {}

  /** One request; an error answer throws its ApiError. */
  request(method: string, path: string, body?: unknown): Promise<Reply> {
    const text = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        {
          socketPath: this.socket,
          method,
          path,
          headers: {
            accept: "application/json",
            ...(text === undefined
              ? {}
              : { "content-type": "application/json", "content-length": Buffer.byteLength(text) }),
          },
          timeout: this.timeoutMs || undefined,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", reject);
          res.on("end", () => {
            const code = res.statusCode ?? 0;
            const raw = Buffer.concat(chunks).toString("utf8");
            let parsed: unknown;
            try {
              parsed = JSON.parse(raw);
            } catch {
              parsed = undefined;
            }
            if (code < 400) return resolve({ code, body: parsed });
            const status =
              (parsed as ApiStatus | undefined)?.kind === "Status"
                ? (parsed as ApiStatus)
                : { code, message: raw.trim() || `HTTP ${code}` };
            reject(new ApiError({ code, ...status }));
          });
        },
      );
      req.on("timeout", () =>
        req.destroy(
          new BerthError(
            "DeadlineExceeded",
            `the kubelet at ${this.socket} did not answer within ${this.timeoutMs} ms`,
          ),
        ),
      );
      req.on("error", (err: NodeJS.ErrnoException) =>
        reject(err instanceof BerthError ? err : connectError(this.socket, err)),
      );
      req.end(text);
    });
  }

  async get<T>(path: string): Promise<T> {
    return (await this.request("GET", path)).body as T;
  }
}

/** The API path of the pods of a namespace (every namespace when undefined), or of one pod. */
export function podsPath(namespace: string | undefined, name?: string): string {
  if (namespace === undefined) return "/api/v1/pods";
  const base = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`;
  return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
}

/** A pod's name as kubectl prints it with -o name and in messages: pod/<name>. */
export function podRef(pod: Pod): string {
  return `pod/${pod.metadata?.name ?? ""}`;
}

const podResourceNames = new Set(["pods", "pod", "po"]);

/**
 * The pod names of a command line as kubectl takes them: `pods a b` or `pod/a pod/b`; an empty list
 * means all pods. Other resource types are not served by the local API.
 */
export function parsePodArgs(args: string[]): string[] {
  const [first, ...rest] = args;
  if (first === undefined) throw invalidArgument("you must specify the type of resource to get: pods");
  const unknown = (type: string) => invalidArgument(`the server doesn't have a resource type "${type}"`);
  if (!first.includes("/")) {
    if (!podResourceNames.has(first)) throw unknown(first);
    return rest;
  }
  return args.map((arg) => {
    const [type, name] = arg.split("/", 2) as [string, string | undefined];
    if (name === undefined || !arg.includes("/"))
      throw invalidArgument(
        "there is no need to specify a resource type as a separate argument when passing arguments in resource/name form",
      );
    if (!podResourceNames.has(type)) throw unknown(type);
    return name;
  });
}
