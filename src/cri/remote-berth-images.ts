// The client of berth.v1.Images, berth's own image API beside CRI (pull progress, archive
// import and export). Runtimes other than berth answer its calls with NotImplemented.
import type { Client } from "@connectrpc/connect";
import { Images } from "./gen/berth/v1/images_pb.js";
import { type CriConnection, newCriClient } from "./transport.js";

export type BerthImagesClient = Client<typeof Images>;

export function newBerthImagesClient(conn: CriConnection): BerthImagesClient {
  return newCriClient(Images, conn);
}
