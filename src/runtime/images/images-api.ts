// berth.v1.Images, berth's own image API beside CRI: pull progress for the CLI's
// progress bars (import and export join it later).
import type { ServiceImpl } from "@connectrpc/connect";
import { BlobState, type Images } from "../../cri/gen/berth/v1/images_pb.js";
import { parseDockerRef } from "../reference/reference.js";
import type { ImageManager } from "./image-manager.js";
import type { BlobProgress } from "./progress.js";

const states: Record<BlobProgress["state"], BlobState> = {
  waiting: BlobState.BLOB_WAITING,
  downloading: BlobState.BLOB_DOWNLOADING,
  downloaded: BlobState.BLOB_DOWNLOADED,
  exists: BlobState.BLOB_EXISTS,
  unpacking: BlobState.BLOB_UNPACKING,
  unpacked: BlobState.BLOB_UNPACKED,
};

export function imagesApi(manager: ImageManager): Partial<ServiceImpl<typeof Images>> {
  return {
    async *pullProgress(req, ctx) {
      const image = parseDockerRef(req.image).toString();
      for await (const e of manager.progress.watch(image, ctx.signal)) {
        yield {
          image: e.image,
          done: e.done,
          error: e.error ?? "",
          blobs: e.blobs.map((b) => ({
            digest: b.digest,
            mediaType: b.mediaType,
            size: BigInt(b.size),
            offset: BigInt(b.offset),
            state: states[b.state],
          })),
        };
      }
    },
  };
}
