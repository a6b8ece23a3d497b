// criService.Status, after containerd's pkg/cri/server/status.go: the runtime is ready
// whenever it answers; with verbose, the config and versions as JSON values.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { StatusRequest, StatusResponseSchema } from "../../cri/gen/runtime/v1/api_pb.js";
import type { CriService } from "./service.js";

// The condition types of cri-api's RuntimeReady and NetworkReady constants.
export const RuntimeReady = "RuntimeReady";
export const NetworkReady = "NetworkReady";
const networkNotReadyReason = "NetworkPluginNotReady";
// berth has no CNI yet: the network is reported as containerd reports a CNI plugin
// that has loaded no config, so the kubelet keeps the node NotReady for the same reason.
const cniNotInitialized = "cni plugin not initialized";

export function status(c: CriService, req: StatusRequest): MessageInitShape<typeof StatusResponseSchema> {
  const conditions = [
    { type: RuntimeReady, status: true },
    {
      type: NetworkReady,
      status: false,
      reason: networkNotReadyReason,
      message: `Network plugin returns error: ${cniNotInitialized}`,
    },
  ];
  if (!req.verbose) return { status: { conditions } };
  const config = { ...c.config, rootDir: c.rootDir, stateDir: c.stateDir };
  return {
    status: { conditions },
    info: { config: JSON.stringify(config), node: JSON.stringify(process.version) },
  };
}
