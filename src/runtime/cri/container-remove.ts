// criService.RemoveContainer, after containerd's pkg/cri/server/container_remove.go: a
// running container must be stopped first; the task (if any), the record, the rootfs
// snapshot, the container's directory and its name go. An unknown id is no error. The
// log file stays: it is the kubelet's to remove.
import { rm } from "node:fs/promises";
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  ContainerEventType,
  type RemoveContainerRequest,
  type RemoveContainerResponseSchema,
} from "../../cri/gen/runtime/v1/api_pb.js";
import { failedPrecondition, ignoreNotFound, wrap } from "../../lib/errdefs.js";
import { stopContainer } from "./container-stop.js";
import { CriNamespace } from "./image-store.js";
import type { CriService } from "./service.js";
import type { CriContainer } from "./store/container.js";

export async function removeContainerRpc(
  c: CriService,
  req: RemoveContainerRequest,
): Promise<MessageInitShape<typeof RemoveContainerResponseSchema>> {
  const ctr = c.containerStore.find(req.containerId);
  if (!ctr) {
    c.log.debug({ container: req.containerId }, "container to remove not found");
    return {};
  }
  await removeContainer(c, ctr);
  return {};
}

export async function removeContainer(c: CriService, ctr: CriContainer): Promise<void> {
  const { id } = ctr;
  // containerd 1.6 stops a running container rather than refusing to remove it.
  await stopContainer(c, ctr, 0).catch((err) => {
    throw wrap(err, `failed to forcibly stop container "${id}"`);
  });
  if (ctr.status.removing) {
    throw failedPrecondition(
      `failed to set removing state for container "${id}": container is already in removing state`,
    );
  }
  ctr.status.removing = true;
  try {
    await c.tasks.delete(CriNamespace, id);
    await c.containers.delete(CriNamespace, id).catch(ignoreNotFound);
    await c.snapshotter.remove(CriNamespace, id).catch(ignoreNotFound);
    await rm(c.containerRootDir(id), { recursive: true, force: true });
  } catch (err) {
    ctr.status.removing = false;
    throw wrap(err, `failed to remove container "${id}"`);
  }
  c.containerStore.delete(id);
  c.forgetStats(id);
  c.containerNames.releaseByName(ctr.metadata.name);
  c.events.publish(ctr, ContainerEventType.CONTAINER_DELETED_EVENT);
  c.log.info({ container: id }, "container removed");
}
