// criService.ReopenContainerLog, after containerd's pkg/cri/server/container_log_reopen.go:
// after the kubelet has renamed a running container's log, the monitor opens a new file.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  ReopenContainerLogRequest,
  ReopenContainerLogResponseSchema,
} from "../../cri/gen/runtime/v1/api_pb.js";
import { BerthError, wrap } from "../../lib/errdefs.js";
import { criContainerState } from "./container-status.js";
import type { CriService } from "./service.js";

export async function reopenContainerLog(
  c: CriService,
  req: ReopenContainerLogRequest,
): Promise<MessageInitShape<typeof ReopenContainerLogResponseSchema>> {
  const ctr = c.getContainer(req.containerId);
  if (criContainerState(ctr.status) !== "CONTAINER_RUNNING") {
    throw new BerthError("Unknown", "container is not running");
  }
  try {
    await c.tasks.reopenLog(ctr.id);
  } catch (err) {
    throw wrap(err, "failed to reopen container log");
  }
  return {};
}
