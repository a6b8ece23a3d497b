// The CRI view of images (containerd's pkg/cri/store/image): image records of the k8s.io
// namespace grouped by image id (config digest), each with all the names pointing at it.
import { BerthError, isAlreadyExists, isNotFound } from "../../lib/errdefs.js";
import type { Logger } from "../../lib/log.js";
import { parseAnyReference, parseDockerRef, type Reference } from "../../lib/reference/reference.js";
import type { Descriptor } from "../core/content/content.js";
import type { ImageDescription, ImageManager } from "../images/image-manager.js";

/** The containerd namespace CRI keeps its images, containers and sandboxes in. */
export const CriNamespace = "k8s.io";
/** Marks images the CRI plugin pulled (containerd's imageLabelKey/imageLabelValue). */
export const ImageLabelKey = "io.cri-containerd.image";
export const ImageLabelValue = "managed";

/**
 * The names a CRI pull gives an image (and an import): its id, its repo tag, and its repo
 * digest, the repository with the target's digest. An image the archive does not name gets
 * its id alone.
 */
export function criImageNames(image: { name: string; target: Descriptor; id: string }): string[] {
  if (!image.name) return [image.id];
  const named = parseDockerRef(image.name);
  return [image.id, ...(named.tag ? [named.toString()] : []), `${named.name}@${image.target.digest}`];
}

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
    return this.collect(() => true);
  }

  /** The image of this id (a config digest), if any: ContainerStatus asks on every call. */
  async get(id: string): Promise<CriImage | undefined> {
    return (await this.collect((imageId) => imageId === id))[0];
  }

  /** The CRI images whose id `wanted` accepts, each with its sorted references. */
  private async collect(wanted: (id: string) => boolean): Promise<CriImage[]> {
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
      if (!wanted(d.id)) continue;
      const known = byId.get(d.id);
      if (known) known.references.push(image.name);
      else byId.set(d.id, { ...d, references: [image.name] });
    }
    for (const i of byId.values()) i.references = sortReferences(i.references);
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
   * (normalized, so "busybox" finds docker.io/library/busybox:latest), or else an id prefix
   * with or without "sha256:". A prefix of several ids is an error, as in containerd.
   */
  async resolve(refOrId: string): Promise<CriImage | undefined> {
    const images = await this.list();
    let name: string | undefined;
    try {
      name = parseDockerRef(refOrId).toString();
    } catch {
      // Not a reference: maybe an id or an id prefix.
    }
    const named = name === undefined ? undefined : images.find((i) => i.references.includes(name));
    if (named) return named;
    const id = lookupDigest(
      images.map((i) => i.id),
      refOrId,
    );
    return images.find((i) => i.id === id);
  }
}

/**
 * containerd's sortReferences (pkg/cri/store/image/sort.go): by kind (name with tag and
 * digest, name with tag, name with digest, bare name, bare digest, unparsable), then by
 * text. It decides the order of an image's repo tags and repo digests.
 */
export function sortReferences(refs: string[]): string[] {
  const rank = (r: string): number => {
    let ref: Reference;
    try {
      ref = parseAnyReference(r);
    } catch {
      return 6;
    }
    if (!ref.name) return 5;
    if (ref.tag !== undefined) return ref.digest !== undefined ? 1 : 2;
    return ref.digest !== undefined ? 3 : 4;
  };
  return refs
    .map((r) => ({ r, rank: rank(r) }))
    .sort((a, b) => a.rank - b.rank || compare(a.r, b.r))
    .map((x) => x.r);
}

const digestAlgorithms: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };
const digestRegexpAnchored = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/**
 * go-digest's digestset.Lookup over `digests` (all sha256): the one digest `short` names,
 * whole or by a prefix of its hex with or without the algorithm; undefined if none does.
 * Several matches throw its ErrDigestAmbiguous, which containerd returns as it is.
 */
export function lookupDigest(digests: string[], short: string): string | undefined {
  const entries = digests
    .map((d) => ({ d, alg: d.slice(0, d.indexOf(":")), hex: d.slice(d.indexOf(":") + 1) }))
    .sort((a, b) => compare(a.hex, b.hex) || compare(a.alg, b.alg));
  const { alg, hex } = parseShortDigest(short);
  const idx = entries.findIndex((e) => (e.hex === hex ? e.alg >= alg : e.hex >= hex));
  const at = (i: number) => entries[i];
  const matches = (i: number) => {
    const e = at(i);
    if (!e) return false;
    if (e.hex.length === hex.length ? e.hex !== hex : !e.hex.startsWith(hex)) return false;
    return alg === "" || e.alg === alg;
  };
  if (idx === -1 || !matches(idx)) return undefined;
  const found = at(idx) as { d: string; alg: string; hex: string };
  if (found.alg === alg && found.hex === hex) return found.d;
  if (matches(idx + 1)) throw new BerthError("Unknown", "ambiguous digest string");
  return found.d;
}

/** digest.Parse as Lookup reads it: an invalid format is a bare hex prefix; other errors keep the algorithm. */
function parseShortDigest(s: string): { alg: string; hex: string } {
  const i = s.indexOf(":");
  if (i <= 0 || i + 1 === s.length) return { alg: "", hex: s };
  const alg = s.slice(0, i);
  const encoded = s.slice(i + 1);
  const size = digestAlgorithms[alg];
  if (size === undefined) return digestRegexpAnchored.test(s) ? { alg, hex: encoded } : { alg: "", hex: s };
  if (encoded.length === size && !/^[a-f0-9]+$/.test(encoded)) return { alg: "", hex: s };
  return { alg, hex: encoded };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
