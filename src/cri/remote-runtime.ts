// The CRI RuntimeService client used by the kubelet and the CLI
// (after pkg/kubelet/cri/remote/remote_runtime.go: NewRemoteRuntimeService).
import type { Client } from "@connectrpc/connect";
import { RuntimeService } from "./gen/runtime/v1/api_pb.js";
import { type CriConnection, newCriClient } from "./transport.js";

export type RuntimeServiceClient = Client<typeof RuntimeService>;

export function newRemoteRuntimeService(conn: CriConnection): RuntimeServiceClient {
  return newCriClient(RuntimeService, conn);
}
