// criService.PullImage, after containerd's pkg/cri/server/image_pull.go: pull and unpack
// into the k8s.io namespace, then name the image by its id, its repo tag and its repo
// digest, and answer with the id.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { PullImageRequest, PullImageResponseSchema } from "../../cri/gen/runtime/v1/api_pb.js";
import { wrap } from "../../lib/errdefs.js";
import { parseDockerRef } from "../../lib/reference/reference.js";
import { CriNamespace, criImageNames, ImageLabelKey, ImageLabelValue } from "./image-store.js";
import type { CriService } from "./service.js";

export async function pullImage(
  c: CriService,
  req: PullImageRequest,
): Promise<MessageInitShape<typeof PullImageResponseSchema>> {
  const given = req.image?.image ?? "";
  let named: ReturnType<typeof parseDockerRef>;
  try {
    named = parseDockerRef(given);
  } catch (err) {
    throw wrap(err, `failed to parse image reference "${given}"`);
  }
  const ref = named.toString();
  const labels = { [ImageLabelKey]: ImageLabelValue };
  try {
    const pulled = await c.imageManager.pull(CriNamespace, ref, { auth: req.auth, labels });
    const imageId = pulled.config.digest;
    const names = criImageNames({ name: pulled.image.name, target: pulled.image.target, id: imageId });
    for (const name of names) await c.images.createImageReference(name, pulled.image.target, labels);
    c.log.debug({ image: ref, imageId }, "pulled image");
    return { imageRef: imageId };
  } catch (err) {
    throw wrap(err, `failed to pull and unpack image "${ref}"`);
  }
}
