// The image store (after containerd's metadata/images.go): bucket "images", [ns, name] →
// target descriptor, labels and times. Every image's target is a GC root.
import type { Database, Key } from "lmdb";
import { alreadyExists, invalidArgument, notFound, wrap } from "../../lib/errdefs.js";
import { isSha256Digest } from "../content/digest.js";
import type { Image, ImageStore } from "../core/images/image.js";
import { updateLabels, validateLabels } from "../core/labels.js";
import type { MetadataDb } from "../core/metadata/db.js";

export type ImageRecord = Omit<Image, "name">;

type ImageInput = Omit<Image, "createdAt" | "updatedAt">;

export class MetadataImageStore implements ImageStore {
  private readonly images: Database<ImageRecord, Key[]>;

  constructor(private readonly db: MetadataDb) {
    this.images = db.bucket<ImageRecord>("images");
  }

  async get(ns: string, name: string): Promise<Image> {
    return { name, ...this.record(ns, name) };
  }

  async list(ns: string): Promise<Image[]> {
    return this.db
      .listNamespace(this.images, ns)
      .map(({ key, value }) => ({ name: String(key[1]), ...value }));
  }

  async create(ns: string, image: ImageInput): Promise<Image> {
    validateImage(image);
    const now = new Date();
    const record: ImageRecord = {
      target: image.target,
      labels: image.labels,
      createdAt: now,
      updatedAt: now,
    };
    await this.db.transaction(() => {
      if (this.images.doesExist([ns, image.name])) {
        throw alreadyExists(`image "${image.name}" already exists in namespace "${ns}"`);
      }
      this.images.put([ns, image.name], record);
    });
    return { name: image.name, ...record };
  }

  /** Replaces target and labels, or only the fields named: "target", "annotations", "labels", "labels.<key>". */
  async update(ns: string, image: ImageInput, fieldpaths?: string[]): Promise<Image> {
    try {
      const record = await this.db.transaction(() => {
        const current = this.record(ns, image.name);
        const paths = fieldpaths ?? [];
        let target = paths.length === 0 || paths.includes("target") ? image.target : current.target;
        if (paths.includes("annotations"))
          target = { ...target, annotations: image.target.annotations ?? {} };
        const updated: ImageRecord = {
          target,
          labels: updateLabels(
            current.labels,
            image.labels,
            paths,
            (p) => p === "target" || p === "annotations",
          ),
          createdAt: current.createdAt,
          updatedAt: new Date(),
        };
        validateImage({ name: image.name, ...updated });
        this.images.put([ns, image.name], updated);
        return updated;
      });
      return { name: image.name, ...record };
    } catch (err) {
      throw wrap(err, `failed to update image "${image.name}"`);
    }
  }

  async delete(ns: string, name: string): Promise<void> {
    await this.db.transaction(() => {
      this.record(ns, name);
      this.images.remove([ns, name]);
    });
  }

  private record(ns: string, name: string): ImageRecord {
    const record = this.images.get([ns, name]);
    if (!record) throw notFound(`image "${name}" not found in namespace "${ns}"`);
    return record;
  }
}

/** containerd's validateImage: a name, a well-formed target digest and a media type. */
export function validateImage(image: ImageInput): void {
  if (!image.name) throw invalidArgument("image name must not be empty");
  if (!isSha256Digest(image.target.digest)) {
    throw invalidArgument(
      `image "${image.name}" target digest "${image.target.digest}" is not a sha256 digest`,
    );
  }
  if (!image.target.mediaType)
    throw invalidArgument(`image "${image.name}" target media type must not be empty`);
  validateLabels(image.labels);
}
