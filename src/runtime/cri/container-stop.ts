// criService.StopContainer, after containerd's pkg/cri/server/container_stop.go: only a
// running (or unknown) container is stopped — with the image's STOPSIGNAL or SIGTERM,
// then SIGKILL once the timeout has passed — and the call returns when its exit is
// recorded. Anything else is already stopped.

import { constants } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { StopContainerRequest, StopContainerResponseSchema } from "../../cri/gen/runtime/v1/api_pb.js";
import { invalidArgument, wrap } from "../../lib/errdefs.js";
import { criContainerState } from "./container-status.js";
import type { CriService } from "./service.js";
import type { CriContainer } from "./store/container.js";

export async function stopContainerRpc(
  c: CriService,
  req: StopContainerRequest,
): Promise<MessageInitShape<typeof StopContainerResponseSchema>> {
  await stopContainer(c, c.getContainer(req.containerId), Number(req.timeout));
  return {};
}

/** Stops `ctr`, giving it `timeout` seconds after the stop signal. */
export async function stopContainer(c: CriService, ctr: CriContainer, timeout: number): Promise<void> {
  const state = criContainerState(ctr.status);
  if (state !== "CONTAINER_RUNNING" && state !== "CONTAINER_UNKNOWN") return;
  const { id } = ctr;
  if (timeout > 0) {
    const signal = parseSignal(ctr.metadata.stopSignal || "SIGTERM");
    c.log.info({ container: id, signal, timeout }, "stopping container");
    await kill(c, ctr, signal);
    const exited = await Promise.race([ctr.exited?.then(() => true), sleep(timeout * 1000, false)]);
    if (exited !== false) return;
  }
  await kill(c, ctr, "SIGKILL");
  await ctr.exited;
}

async function kill(c: CriService, ctr: CriContainer, signal: NodeJS.Signals): Promise<void> {
  try {
    await c.tasks.kill(ctr.id, signal);
  } catch (err) {
    // A container that exited meanwhile has nothing left to signal.
    if (criContainerState(ctr.status) !== "CONTAINER_EXITED") {
      throw wrap(err, `failed to stop container "${ctr.id}"`);
    }
  }
}

/** STOPSIGNAL as images give it: a name with or without "SIG", or a number. */
export function parseSignal(s: string): NodeJS.Signals {
  const upper = s.toUpperCase();
  const name = (upper.startsWith("SIG") ? upper : `SIG${upper}`) as NodeJS.Signals;
  if (name in constants.signals) return name;
  const byNumber = Object.entries(constants.signals).find(([, n]) => String(n) === s)?.[0];
  if (byNumber) return byNumber as NodeJS.Signals;
  throw invalidArgument(`failed to parse stop signal "${s}"`);
}
