// The sandbox image must be here before a pod starts; containerd's ensureImageExists
// pulls it when it is not.
import { create } from "@bufbuild/protobuf";
import { PullImageRequestSchema } from "../../cri/gen/runtime/v1/api_pb.js";
import { notFound } from "../../lib/errdefs.js";
import { pullImage } from "./image-pull.js";
import type { CriImage } from "./image-store.js";
import type { CriService } from "./service.js";

export async function ensureImage(c: CriService, ref: string): Promise<CriImage> {
  const present = await c.images.resolve(ref);
  if (present) return present;
  const { imageRef } = await pullImage(c, create(PullImageRequestSchema, { image: { image: ref } }));
  const pulled = await c.images.resolve(imageRef ?? ref);
  if (!pulled) throw notFound(`image "${ref}" not found after pull`);
  return pulled;
}
