// criService.Status, after containerd's pkg/cri/server/status.go: the runtime is ready
// whenever it answers; the network is ready once a CNI config is loaded and its plugins
// are found. With verbose, the config and the CNI state as JSON values.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { StatusRequest, StatusResponseSchema } from "../../cri/gen/runtime/v1/api_pb.js";
import { messageOf } from "../../lib/errdefs.js";
import type { CriService } from "./service.js";

// The condition types of cri-api's RuntimeReady and NetworkReady constants.
export const RuntimeReady = "RuntimeReady";
export const NetworkReady = "NetworkReady";
const networkNotReadyReason = "NetworkPluginNotReady";

export async function status(
  c: CriService,
  req: StatusRequest,
): Promise<MessageInitShape<typeof StatusResponseSchema>> {
  const network = { type: NetworkReady, status: true, reason: "", message: "" };
  const cniError = await c.cni.status().then(
    () => undefined,
    (err) => messageOf(err),
  );
  if (cniError !== undefined) {
    network.status = false;
    network.reason = networkNotReadyReason;
    network.message = `Network plugin returns error: ${cniError}`;
  }
  const conditions = [{ type: RuntimeReady, status: true }, network];
  if (!req.verbose) return { status: { conditions } };
  const config = { ...c.config, rootDir: c.rootDir, stateDir: c.stateDir };
  return {
    status: { conditions },
    info: {
      config: JSON.stringify(config),
      cniconfig: JSON.stringify({
        networks: c.cni.networks.map((n) => ({ ifName: n.ifName, config: n.config })),
      }),
      lastCNILoadStatus: JSON.stringify(cniError ?? "OK"),
      "lastCNILoadStatus.default": JSON.stringify(cniError ?? "OK"),
      node: JSON.stringify(process.version),
    },
  };
}
