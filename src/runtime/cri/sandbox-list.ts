// criService.ListPodSandbox, after containerd's pkg/cri/server/sandbox_list.go: every
// sandbox, filtered by id (a prefix is expanded as the store finds it), state and labels.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ListPodSandboxRequest, ListPodSandboxResponseSchema } from "../../cri/gen/runtime/v1/api_pb.js";
import { matchesLabels } from "./filters.js";
import { criSandboxState } from "./sandbox-status.js";
import type { CriService } from "./service.js";

export function listPodSandbox(
  c: CriService,
  req: ListPodSandboxRequest,
): MessageInitShape<typeof ListPodSandboxResponseSchema> {
  const f = req.filter;
  let sandboxes = c.sandboxStore.list();
  if (f?.id) sandboxes = c.sandboxStore.filterById(f.id);
  if (f?.state) sandboxes = sandboxes.filter((s) => criSandboxState(s) === f.state?.state);
  if (f?.labelSelector)
    sandboxes = sandboxes.filter((s) => matchesLabels(s.metadata.config.labels, f.labelSelector));
  return {
    items: sandboxes.map((s) => {
      const { config } = s.metadata;
      return {
        id: s.id,
        ...(config.metadata ? { metadata: config.metadata } : {}),
        state: criSandboxState(s),
        createdAt: s.metadata.createdAt,
        labels: config.labels,
        annotations: config.annotations,
        runtimeHandler: s.metadata.runtimeHandler,
      };
    }),
  };
}
