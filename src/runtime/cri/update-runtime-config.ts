// criService.UpdateRuntimeConfig, after containerd's pkg/cri/server/update_runtime_config.go:
// the kubelet hands over the node's pod CIDR. containerd uses it only to fill a CNI config
// template, which berth does not have; the CIDR is logged and otherwise ignored.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  UpdateRuntimeConfigRequest,
  UpdateRuntimeConfigResponseSchema,
} from "../../cri/gen/runtime/v1/api_pb.js";
import type { CriService } from "./service.js";

export function updateRuntimeConfig(
  c: CriService,
  req: UpdateRuntimeConfigRequest,
): MessageInitShape<typeof UpdateRuntimeConfigResponseSchema> {
  const podCidr = req.runtimeConfig?.networkConfig?.podCidr ?? "";
  if (podCidr !== "") c.log.info({ podCidr }, "pod CIDR received; no CNI config template to fill");
  return {};
}
