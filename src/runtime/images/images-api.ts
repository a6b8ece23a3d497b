// berth.v1.Images, berth's own image API beside CRI: pull progress for the CLI's progress
// bars, and import and export of image archives on the node. Imported images get the
// names a CRI pull gives, so CRI sees them exactly as pulled ones.
import { isAbsolute } from "node:path";
import type { ServiceImpl } from "@connectrpc/connect";
import { BlobState, type Images } from "../../cri/gen/berth/v1/images_pb.js";
import { invalidArgument, notFound, wrap } from "../../lib/errdefs.js";
import { parseDockerRef } from "../../lib/reference/reference.js";
import { parseImageReferences } from "../cri/image-list.js";
import { CriNamespace, criImageNames, ImageLabelKey, ImageLabelValue } from "../cri/image-store.js";
import type { CriService } from "../cri/service.js";
import type { ExportImage } from "./archive-export.js";
import type { BlobProgress } from "./progress.js";

const states: Record<BlobProgress["state"], BlobState> = {
  waiting: BlobState.BLOB_WAITING,
  downloading: BlobState.BLOB_DOWNLOADING,
  downloaded: BlobState.BLOB_DOWNLOADED,
  exists: BlobState.BLOB_EXISTS,
  unpacking: BlobState.BLOB_UNPACKING,
  unpacked: BlobState.BLOB_UNPACKED,
};

export function imagesApi(c: CriService): ServiceImpl<typeof Images> {
  const manager = c.imageManager;
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

    async import(req) {
      const path = archivePath(req.path);
      try {
        const imported = await manager.importArchive(CriNamespace, {
          path,
          baseName: req.baseName,
          labels: { [ImageLabelKey]: ImageLabelValue },
          names: criImageNames,
        });
        c.log.info({ archive: path, images: imported.map((i) => i.name || i.id) }, "imported images");
        return { images: imported.map((i) => ({ name: i.name, id: i.id })) };
      } catch (err) {
        throw wrap(err, `failed to import archive "${path}"`);
      }
    },

    async export(req) {
      const path = archivePath(req.path);
      if (req.images.length === 0) throw invalidArgument("no image to export");
      try {
        const images: ExportImage[] = [];
        for (const ref of req.images) images.push(...(await exportedNames(c, ref)));
        return { size: BigInt(await manager.exportArchive(CriNamespace, path, images)) };
      } catch (err) {
        throw wrap(err, `failed to export images to "${path}"`);
      }
    },
  };
}

/** The daemon's working directory is not the caller's: paths must be absolute. */
function archivePath(path: string): string {
  if (!isAbsolute(path)) throw invalidArgument(`archive path "${path}" must be absolute`);
  return path;
}

/**
 * The records to export for a reference or id: the one it names, or for an id its repo
 * tags (else one repo digest, else the bare id).
 */
async function exportedNames(c: CriService, ref: string): Promise<ExportImage[]> {
  const image = await c.images.resolve(ref);
  if (!image) throw notFound(`image "${ref}" not found`);
  let names: string[];
  const named = referenceOf(ref);
  if (named && image.references.includes(named)) {
    names = [named];
  } else {
    const [tags, digests] = parseImageReferences(image.references);
    names = tags.length > 0 ? tags : digests.slice(0, 1);
  }
  if (names.length === 0) {
    const { target } = await c.imageManager.images.get(CriNamespace, image.id);
    return [{ name: "", target }];
  }
  const out: ExportImage[] = [];
  for (const name of names) {
    out.push({ name, target: (await c.imageManager.images.get(CriNamespace, name)).target });
  }
  return out;
}

function referenceOf(ref: string): string | undefined {
  try {
    return parseDockerRef(ref).toString();
  } catch {
    return undefined;
  }
}
