// criService.UpdateContainerResources, after containerd's
// pkg/cri/server/container_update_resources.go: the new limits go into the container's
// spec first (so a later start uses them), then to the running task (`runc update`); if
// the task refuses them, the old spec is put back.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  UpdateContainerResourcesRequest,
  UpdateContainerResourcesResponseSchema,
} from "../../cri/gen/runtime/v1/api_pb.js";
import { wrap } from "../../lib/errdefs.js";
import { toOciResources } from "./container-spec.js";
import { criContainerState } from "./container-status.js";
import { CriNamespace } from "./image-store.js";
import type { CriService } from "./service.js";

export async function updateContainerResources(
  c: CriService,
  req: UpdateContainerResourcesRequest,
): Promise<MessageInitShape<typeof UpdateContainerResourcesResponseSchema>> {
  const ctr = c.getContainer(req.containerId, "failed to find container");
  const { id } = ctr;
  const state = criContainerState(ctr.status);
  // An exited container takes no update, and says nothing of it.
  if ((state !== "CONTAINER_RUNNING" && state !== "CONTAINER_CREATED") || !req.linux) return {};
  const old = ctr.spec;
  const resources = toOciResources(req.linux, old.linux?.resources);
  const spec = { ...old, linux: { ...old.linux, resources } };
  try {
    await c.containers.update(CriNamespace, id, { spec });
    ctr.spec = spec;
    if (state === "CONTAINER_RUNNING") await c.tasks.update(id, resources);
  } catch (err) {
    await c.containers.update(CriNamespace, id, { spec: old }).catch(() => {});
    ctr.spec = old;
    throw wrap(err, `failed to update resources of container "${id}"`);
  }
  return {};
}
