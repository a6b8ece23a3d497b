// The one interceptor chain every CRI server call runs through (as CRI-O's
// internal/log/interceptors): a request id, one log line per call, and errors
// turned into gRPC statuses.
import { randomUUID } from "node:crypto";
import type { Interceptor } from "@connectrpc/connect";
import type { Logger } from "../lib/log.js";
import { toConnectError } from "./status.js";

export function serverInterceptors(log: Logger): Interceptor[] {
  return [
    (next) => async (req) => {
      const started = process.hrtime.bigint();
      const l = log.child({ requestId: randomUUID(), method: req.method.name });
      l.debug({ request: req.stream ? "stream" : req.message }, "request");
      try {
        const res = await next(req);
        l.debug({ ms: elapsedMs(started) }, "response");
        return res;
      } catch (err) {
        const status = toConnectError(err);
        l.info({ ms: elapsedMs(started), code: status.code, err: status.rawMessage }, "call failed");
        throw status;
      }
    },
  ];
}

function elapsedMs(started: bigint): number {
  return Number(process.hrtime.bigint() - started) / 1e6;
}
