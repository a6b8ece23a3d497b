// criService.StartContainer, after containerd's pkg/cri/server/container_start.go: the
// seed's NewTask — the rootfs is mounted into a bundle, the monitor runs `runc create`
// with the CRI log as the container's output, then `runc start`. A start that fails
// leaves the container EXITED with reason StartError, as containerd's does.
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  ContainerEventType,
  type StartContainerRequest,
  type StartContainerResponseSchema,
} from "../../cri/gen/runtime/v1/api_pb.js";
import { nowNs } from "../../lib/clock.js";
import { BerthError, messageOf, wrap } from "../../lib/errdefs.js";
import { criContainerState } from "./container-status.js";
import { CriNamespace } from "./image-store.js";
import type { CriService } from "./service.js";

/** containerd's errorStartExitCode and errorStartReason. */
const errorStartExitCode = 128;
const errorStartReason = "StartError";

export async function startContainer(
  c: CriService,
  req: StartContainerRequest,
): Promise<MessageInitShape<typeof StartContainerResponseSchema>> {
  const ctr = c.getContainer(req.containerId);
  const { id } = ctr;
  const state = criContainerState(ctr.status);
  // containerd's wrong-state errors are plain ones: Unknown.
  if (state !== "CONTAINER_CREATED" || ctr.status.removing) {
    const why = ctr.status.removing ? "container is in removing state" : `container is in ${state} state`;
    throw new BerthError("Unknown", `failed to set starting state for container "${id}": ${why}`);
  }
  const sandbox = c.sandboxStore.find(ctr.metadata.sandboxId);
  if (sandbox?.state !== "ready") {
    throw new BerthError("Unknown", `sandbox container "${ctr.metadata.sandboxId}" is not running`);
  }
  const log = c.log.child({ container: id, name: ctr.metadata.name });
  try {
    const { logPath } = ctr.metadata;
    if (logPath) await mkdir(dirname(logPath), { recursive: true });
    const record = await c.containers.get(CriNamespace, id);
    await c.tasks.create(CriNamespace, record, { logPath: logPath || "/dev/null", name: ctr.metadata.name });
    try {
      const running = await c.tasks.start(id);
      await c.updateStatus(ctr, { pid: running.pid, startedAt: nowNs() });
    } catch (err) {
      await c.tasks
        .delete(CriNamespace, id)
        .catch((e) => log.warn({ err: messageOf(e) }, "failed to delete the task of a failed start"));
      throw err;
    }
  } catch (err) {
    await c
      .updateStatus(ctr, {
        pid: 0,
        finishedAt: nowNs(),
        exitCode: errorStartExitCode,
        reason: errorStartReason,
        message: messageOf(err),
      })
      .catch((e) => log.warn({ err: messageOf(e) }, "failed to record the failed start"));
    throw wrap(err, `failed to start containerd task "${id}"`);
  }
  c.watchContainer(ctr);
  c.events.publish(ctr, ContainerEventType.CONTAINER_STARTED_EVENT);
  log.info("container started");
  return {};
}
