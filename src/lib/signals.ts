// How berth's daemons (runtime, kubelet) wait to be told to stop.
import type { Logger } from "./log.js";

/** The first SIGTERM or SIGINT; later ones are logged and ignored while shutting down. */
export function untilSignal(log: Logger): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let received = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (received) return log.warn({ signal }, "already shutting down");
      received = true;
      resolve(signal);
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  });
}
