// criService.ListContainers, after containerd's pkg/cri/server/container_list.go: every
// container, filtered by id and sandbox id (prefixes expanded as the stores find them),
// state and labels.
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  ContainerState,
  type ListContainersRequest,
  type ListContainersResponseSchema,
} from "../../cri/gen/runtime/v1/api_pb.js";
import { criContainerState } from "./container-status.js";
import { matchesLabels } from "./filters.js";
import type { CriService } from "./service.js";

export function listContainers(
  c: CriService,
  req: ListContainersRequest,
): MessageInitShape<typeof ListContainersResponseSchema> {
  const f = req.filter;
  let containers = c.containerStore.list();
  if (f?.id) containers = c.containerStore.filterById(f.id);
  if (f?.podSandboxId) {
    const ids = new Set(c.sandboxStore.filterById(f.podSandboxId).map((s) => s.id));
    containers = containers.filter((x) => ids.has(x.metadata.sandboxId));
  }
  if (f?.state) {
    const want = f.state.state;
    containers = containers.filter((x) => ContainerState[criContainerState(x.status)] === want);
  }
  if (f?.labelSelector)
    containers = containers.filter((x) => matchesLabels(x.metadata.config.labels, f.labelSelector));
  return {
    containers: containers.map((x) => {
      const { config } = x.metadata;
      return {
        id: x.id,
        podSandboxId: x.metadata.sandboxId,
        ...(config.metadata ? { metadata: config.metadata } : {}),
        ...(config.image ? { image: config.image } : {}),
        imageRef: x.metadata.imageRef,
        state: ContainerState[criContainerState(x.status)],
        createdAt: x.status.createdAt,
        labels: config.labels,
        annotations: config.annotations,
      };
    }),
  };
}
