// pkg/probe (probe.go, util.go), kubelet 1.28: what one probe attempt finds, the container port a
// probe names, and failed dials described as Go's net package describes them, since those words end
// up in the kubelet's "Liveness probe failed: ..." events.
import type { Container } from "kubernetes-types/core/v1.js";
import { invalidArgument } from "../../lib/errdefs.js";

/** probe.Result: a warning is a success worth telling (an HTTP redirect the prober did not follow). */
export type Result = "success" | "warning" | "failure" | "unknown";

/** One attempt: its result, what it printed or answered, and an error when the prober itself failed. */
export interface Outcome {
  result: Result;
  output: string;
  error?: Error;
}

/**
 * ResolveContainerPort: a port number, or the name of one of the container's ports; a name that
 * matches none is read as a number written as a string.
 */
export function resolveContainerPort(param: number | string | undefined, container: Container): number {
  let port: number;
  if (typeof param === "number") {
    port = param;
  } else if (typeof param === "string") {
    const named = container.ports?.find((p) => p.name === param);
    if (named) port = named.containerPort;
    else if (/^[+-]?\d+$/.test(param)) port = Number(param);
    else
      throw invalidArgument(`port ${JSON.stringify(param)} is neither a container port's name nor a number`);
  } else {
    throw invalidArgument("probe port is missing");
  }
  if (Number.isInteger(port) && port > 0 && port < 65536) return port;
  throw invalidArgument(`invalid port number: ${port}`);
}

/** net.JoinHostPort: an IPv6 address goes in brackets. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Why a dial failed, in the words of Go's net.OpError ("dial tcp 10.0.0.5:80: connect: connection refused"). */
export function dialErrorText(address: string, err: unknown): string {
  const e = err as NodeJS.ErrnoException & { hostname?: string };
  switch (e.code) {
    case "ECONNREFUSED":
      return `dial tcp ${address}: connect: connection refused`;
    case "EHOSTUNREACH":
      return `dial tcp ${address}: connect: no route to host`;
    case "ENETUNREACH":
      return `dial tcp ${address}: connect: network is unreachable`;
    case "ETIMEDOUT":
      return `dial tcp ${address}: connect: connection timed out`;
    case "ECONNRESET":
      return `dial tcp ${address}: connect: connection reset by peer`;
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `dial tcp: lookup ${e.hostname ?? address}: no such host`;
    default:
      return `dial tcp ${address}: ${e.message}`;
  }
}
