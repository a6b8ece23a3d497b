// criService.ListImages, after containerd's pkg/cri/server/image_list.go. Like
// containerd 1.6 it lists every image and leaves filtering to the client.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  ImageSchema,
  ListImagesRequest,
  ListImagesResponseSchema,
} from "../../cri/gen/runtime/v1/api_pb.js";
import { parseAnyReference } from "../../lib/reference/reference.js";
import type { CriImage } from "./image-store.js";
import type { CriService } from "./service.js";

export async function listImages(
  c: CriService,
  _req: ListImagesRequest,
): Promise<MessageInitShape<typeof ListImagesResponseSchema>> {
  return { images: (await c.images.list()).map(toCriImage) };
}

/** toCRIImage: tags and digests from the references, size, and the user the config runs as. */
export function toCriImage(image: CriImage): MessageInitShape<typeof ImageSchema> {
  const [repoTags, repoDigests] = parseImageReferences(image.references);
  const [uid, username] = getUserFromImage(image.config.config?.User ?? "");
  return {
    id: image.id,
    repoTags,
    repoDigests,
    size: BigInt(image.size),
    uid: uid === undefined ? undefined : { value: uid },
    username,
  };
}

/** Named references with a digest are repo digests, tagged ones repo tags; bare ids are neither. */
export function parseImageReferences(refs: string[]): [string[], string[]] {
  const tags: string[] = [];
  const digests: string[] = [];
  for (const r of refs) {
    let parsed: ReturnType<typeof parseAnyReference>;
    try {
      parsed = parseAnyReference(r);
    } catch {
      continue;
    }
    if (!parsed.name) continue;
    if (parsed.digest) digests.push(parsed.toString());
    else if (parsed.tag) tags.push(parsed.toString());
  }
  return [tags, digests];
}

/**
 * getUserFromImage: a user that strconv.ParseInt reads as an int64 (sign allowed) is a uid,
 * anything else a user name; the group is dropped.
 */
export function getUserFromImage(user: string): [bigint | undefined, string] {
  if (user === "") return [undefined, ""];
  const name = user.split(":")[0] ?? "";
  const uid = /^[+-]?\d+$/.test(name) ? BigInt(name) : undefined;
  return uid !== undefined && BigInt.asIntN(64, uid) === uid ? [uid, ""] : [undefined, name];
}
