// Error kinds shared by every berth component, after containerd's errdefs package.
// Code raises a kind where it knows what went wrong; the CRI edge turns kinds into gRPC
// status codes (src/cri/status.ts) and the client turns them back, so callers test kinds,
// never message text.

export const ErrorKinds = [
  "Unknown",
  "InvalidArgument",
  "NotFound",
  "AlreadyExists",
  "FailedPrecondition",
  "Unavailable",
  "NotImplemented",
  "DeadlineExceeded",
  "Canceled",
  "PermissionDenied",
  "ResourceExhausted",
  "Internal",
] as const;
export type ErrorKind = (typeof ErrorKinds)[number];

export class BerthError extends Error {
  override readonly name = "BerthError";
  constructor(
    readonly kind: ErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const invalidArgument = (message: string, cause?: unknown) =>
  new BerthError("InvalidArgument", message, { cause });
export const notFound = (message: string, cause?: unknown) => new BerthError("NotFound", message, { cause });
export const alreadyExists = (message: string, cause?: unknown) =>
  new BerthError("AlreadyExists", message, { cause });
export const failedPrecondition = (message: string, cause?: unknown) =>
  new BerthError("FailedPrecondition", message, { cause });
export const notImplemented = (message: string, cause?: unknown) =>
  new BerthError("NotImplemented", message, { cause });
export const unavailable = (message: string, cause?: unknown) =>
  new BerthError("Unavailable", message, { cause });

/** The kind of any thrown value; plain errors are Unknown. */
export function kindOf(err: unknown): ErrorKind {
  return err instanceof BerthError ? err.kind : "Unknown";
}

export const isNotFound = (err: unknown) => kindOf(err) === "NotFound";
export const isAlreadyExists = (err: unknown) => kindOf(err) === "AlreadyExists";

/** For `.catch(ignoreNotFound)` where something already gone is what was wanted. */
export function ignoreNotFound(err: unknown): void {
  if (!isNotFound(err)) throw err;
}

/**
 * Adds the step and object to an error while keeping its kind, like Go's
 * fmt.Errorf("...: %w", err): `wrap(err, 'failed to start container "c1"')`.
 */
export function wrap(err: unknown, message: string): BerthError {
  return new BerthError(kindOf(err), `${message}: ${messageOf(err)}`, { cause: err });
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
