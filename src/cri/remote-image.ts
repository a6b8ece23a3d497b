// The CRI ImageService client (after pkg/kubelet/cri/remote/remote_image.go).
import type { Client } from "@connectrpc/connect";
import { ImageService } from "./gen/runtime/v1/api_pb.js";
import { type CriConnection, newCriClient } from "./transport.js";

export type ImageServiceClient = Client<typeof ImageService>;

export function newRemoteImageService(conn: CriConnection): ImageServiceClient {
  return newCriClient(ImageService, conn);
}
