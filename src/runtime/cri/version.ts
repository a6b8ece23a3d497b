// criService.Version, after containerd's pkg/cri/server/version.go.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { VersionRequest, VersionResponseSchema } from "../../cri/gen/runtime/v1/api_pb.js";
import { berthVersion, RuntimeName } from "../version.js";
import type { CriService } from "./service.js";

/** The Kubernetes API version containerd and CRI-O answer with (kubeAPIVersion). */
const KubeApiVersion = "0.1.0";
/** The CRI API served: runtime.v1. */
export const CriVersion = "v1";

export function version(
  _c: CriService,
  _req: VersionRequest,
): MessageInitShape<typeof VersionResponseSchema> {
  return {
    version: KubeApiVersion,
    runtimeName: RuntimeName,
    runtimeVersion: berthVersion(),
    runtimeApiVersion: CriVersion,
  };
}
