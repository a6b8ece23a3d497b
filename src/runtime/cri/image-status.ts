// criService.ImageStatus, after containerd's pkg/cri/server/image_status.go: an image
// that is not there is an empty answer, not an error.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ImageStatusRequest, ImageStatusResponseSchema } from "../../cri/gen/runtime/v1/api_pb.js";
import { wrap } from "../../lib/errdefs.js";
import { toCriImage } from "./image-list.js";
import { goJson, imageSpecOf } from "./image-spec.js";
import type { CriImage } from "./image-store.js";
import type { CriService } from "./service.js";

export async function imageStatus(
  c: CriService,
  req: ImageStatusRequest,
): Promise<MessageInitShape<typeof ImageStatusResponseSchema>> {
  const ref = req.image?.image ?? "";
  const image = await c.images.resolve(ref).catch((err) => {
    throw wrap(err, `can not resolve "${ref}" locally`);
  });
  if (!image) return {};
  return { image: toCriImage(image), info: req.verbose ? { info: verboseImageInfo(image) } : {} };
}

/** containerd's verboseImageInfo, byte for byte as encoding/json writes it. */
export function verboseImageInfo(image: CriImage): string {
  return goJson({ chainID: image.chainId, imageSpec: imageSpecOf(image.config) });
}
