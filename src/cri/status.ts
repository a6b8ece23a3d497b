// The one place where berth error kinds and gRPC status codes meet. Servers map kinds
// to codes on the way out; clients map codes back to kinds on the way in.
import { Code, ConnectError } from "@connectrpc/connect";
import { BerthError, type ErrorKind, messageOf } from "../lib/errdefs.js";

const kindToCode: Record<ErrorKind, Code> = {
  Unknown: Code.Unknown,
  InvalidArgument: Code.InvalidArgument,
  NotFound: Code.NotFound,
  AlreadyExists: Code.AlreadyExists,
  FailedPrecondition: Code.FailedPrecondition,
  Unavailable: Code.Unavailable,
  NotImplemented: Code.Unimplemented,
  DeadlineExceeded: Code.DeadlineExceeded,
  Canceled: Code.Canceled,
  PermissionDenied: Code.PermissionDenied,
  ResourceExhausted: Code.ResourceExhausted,
  Internal: Code.Internal,
};

const codeToKind = new Map<Code, ErrorKind>(
  Object.entries(kindToCode).map(([kind, code]) => [code, kind as ErrorKind]),
);
codeToKind.set(Code.Aborted, "FailedPrecondition");
codeToKind.set(Code.OutOfRange, "InvalidArgument");
codeToKind.set(Code.DataLoss, "Internal");
codeToKind.set(Code.Unauthenticated, "PermissionDenied");

/** A server-side error as the status the client will see. */
export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  const kind = err instanceof BerthError ? err.kind : "Unknown";
  return new ConnectError(messageOf(err), kindToCode[kind], undefined, undefined, err);
}

/** A status received by a client as a berth error of the matching kind. */
export function fromConnectError(err: ConnectError): BerthError {
  return new BerthError(codeToKind.get(err.code) ?? "Unknown", err.rawMessage, { cause: err });
}

export { Code };
