// The CRI view of images (containerd's pkg/cri/store/image): image records of the k8s.io
// namespace grouped by image id (config digest), each with all the names pointing at it.
import { isAlreadyExists, isNotFound } from "../../lib/errdefs.js";
import type { Logger } from "../../lib/log.js";
import type { Descriptor } from "../core/content/content.js";
import type { ImageDescription, ImageManager } from "../images/image-manager.js";
import { parseDockerRef } from "../reference/reference.js";

/** The containerd namespace CRI keeps its images, containers and sandboxes in. */
export const CriNamespace = "k8s.io";
/** Marks images the CRI plugin pulled (containerd's imageLabelKey/imageLabelValue). */
export const ImageLabelKey = "io.cri-containerd.image";
export const ImageLabelValue = "managed";

export interface CriImage extends ImageDescription {
  /** Every image record name for this id: the id itself, repo tags, repo digests. */
  references: string[];
}

export class CriImageStore {
  constructor(
    private readonly manager: ImageManager,
    private readonly log: Logger,
  ) {}

  async list(): Promise<CriImage[]> {
    const byId = new Map<string, CriImage>();
    for (const image of await this.manager.images.list(CriNamespace)) {
      let d: ImageDescription;
      try {
        d = await this.manager.describe(CriNamespace, image);
      } catch (err) {
        // An image whose content is gone is not one CRI can use (containerd skips it too).
        if (!isNotFound(err)) throw err;
        this.log.warn({ image: image.name, err: String(err) }, "image content missing, not listed");
        continue;
      }
      const known = byId.get(d.id);
      if (known) known.references.push(image.name);
      else byId.set(d.id, { ...d, references: [image.name] });
    }
    for (const i of byId.values()) i.references.sort();
    return [...byId.values()];
  }

  /**
   * Points `name` at `target` (containerd's createImageReference): created if missing,
   * updated if it named something else, left alone otherwise.
   */
  async createImageReference(
    name: string,
    target: Descriptor,
    labels: Record<string, string>,
  ): Promise<void> {
    const store = this.manager.images;
    try {
      await store.create(CriNamespace, { name, target, labels });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      const old = await store.get(CriNamespace, name);
      if (old.target.digest === target.digest && old.labels[ImageLabelKey] === labels[ImageLabelKey]) return;
      await store.update(CriNamespace, { name, target, labels }, ["target", `labels.${ImageLabelKey}`]);
    }
  }

  /**
   * The image a CRI request names (containerd's localResolve): an image id, a reference
   * (normalized, so "busybox" finds docker.io/library/busybox:latest), or a unique id prefix.
   */
  async resolve(refOrId: string): Promise<CriImage | undefined> {
    const images = await this.list();
    if (/^sha256:[0-9a-f]{64}$/.test(refOrId)) return images.find((i) => i.id === refOrId);
    let name: string | undefined;
    try {
      name = parseDockerRef(refOrId).toString();
    } catch {
      // Not a reference: maybe an id prefix.
    }
    const named = name === undefined ? undefined : images.find((i) => i.references.includes(name));
    if (named) return named;
    const prefix = refOrId.replace(/^sha256:/, "");
    if (!/^[0-9a-f]+$/.test(prefix)) return undefined;
    const hits = images.filter((i) => i.id.slice("sha256:".length).startsWith(prefix));
    return hits.length === 1 ? hits[0] : undefined;
  }
}
