// Calls to berth.v1.Images, the API berth's runtime offers beside CRI. Another runtime
// (containerd) answers them NotImplemented, which becomes one line saying so.
import { BerthError, kindOf } from "../lib/errdefs.js";
import type { Cli } from "./context.js";

/** Runs `call`; NotImplemented becomes "the runtime at <endpoint> does not offer <feature>". */
export async function callBerthImages<T>(cli: Cli, feature: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (kindOf(err) !== "NotImplemented") throw err;
    throw new BerthError(
      "NotImplemented",
      `the runtime at ${cli.imageEndpoint} does not offer ${feature} (berth.v1.Images); use its own tools`,
      { cause: err },
    );
  }
}
