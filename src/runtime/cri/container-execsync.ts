// criService.ExecSync, after containerd's pkg/cri/server/container_execsync.go: run a
// command in a running container and collect its output; the monitor enforces the
// timeout even when a child left behind holds the output open.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ExecSyncRequest, ExecSyncResponseSchema } from "../../cri/gen/runtime/v1/api_pb.js";
import { BerthError, wrap } from "../../lib/errdefs.js";
import { criContainerState } from "./container-status.js";
import type { CriService } from "./service.js";

export async function execSync(
  c: CriService,
  req: ExecSyncRequest,
): Promise<MessageInitShape<typeof ExecSyncResponseSchema>> {
  const ctr = c.getContainer(
    req.containerId,
    `failed to exec in container: failed to find container "${req.containerId}" in store`,
  );
  try {
    const state = criContainerState(ctr.status);
    if (state !== "CONTAINER_RUNNING") throw new BerthError("Unknown", `container is in ${state} state`);
    if (req.cmd.length === 0) throw new BerthError("Unknown", "args must not be empty");
  } catch (err) {
    throw wrap(err, "failed to exec in container");
  }
  // The shim's errors already say "failed to exec in container".
  const r = await c.tasks.execSync(ctr.id, { args: req.cmd, timeout: Number(req.timeout) });
  return { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode };
}
