// The error a CNI plugin reports: a JSON object {code, msg, details} on stdout and a non-zero
// exit (CNI SPEC.md "Error"; containernetworking/cni pkg/types Error). The kind follows the
// spec's well-known codes, so callers test kinds; code, msg and details stay for the log.
import { BerthError, type ErrorKind } from "../../lib/errdefs.js";

/** SPEC.md's reserved codes; plugins use 100 and above (and 999 in practice) for their own. */
const kindByCode: Record<number, ErrorKind> = {
  1: "FailedPrecondition", // incompatible CNI version
  2: "InvalidArgument", // unsupported field in network configuration
  3: "NotFound", // container unknown or does not exist
  4: "InvalidArgument", // invalid necessary environment variables
  6: "InvalidArgument", // failed to decode content
  7: "InvalidArgument", // invalid network config
  11: "Unavailable", // try again later
};

/** SPEC.md's code for "container unknown or does not exist": a DEL with it has nothing left to do. */
export const ErrUnknownContainer = 3;

export class CniPluginError extends BerthError {
  constructor(
    readonly code: number,
    readonly msg: string,
    readonly details = "",
  ) {
    super(kindByCode[code] ?? "Unknown", details ? `${msg}; ${details}` : msg);
  }
}

/** The plugin's own error behind any wraps, if a plugin reported one. */
export function pluginErrorOf(err: unknown): CniPluginError | undefined {
  for (let e = err; e instanceof Error; e = e.cause) if (e instanceof CniPluginError) return e;
  return undefined;
}
