// criService.RemoveImage, after containerd's pkg/cri/server/image_remove.go: removing
// any name of an image removes the image with all its names; removing one that is not
// there succeeds. Garbage collection then frees its blobs and snapshots.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { RemoveImageRequest, RemoveImageResponseSchema } from "../../cri/gen/runtime/v1/api_pb.js";
import { wrap } from "../../lib/errdefs.js";
import { CriNamespace } from "./image-store.js";
import type { CriService } from "./service.js";

export async function removeImage(
  c: CriService,
  req: RemoveImageRequest,
): Promise<MessageInitShape<typeof RemoveImageResponseSchema>> {
  const ref = req.image?.image ?? "";
  const image = await c.images.resolve(ref).catch((err) => {
    throw wrap(err, `can not resolve "${ref}" locally`);
  });
  if (!image) return {};
  await c.imageManager.remove(CriNamespace, image.references).catch((err) => {
    throw wrap(err, `failed to delete image "${image.id}"`);
  });
  return {};
}
