// Importing an image archive, after containerd 1.6's Client.Import (import.go),
// images/archive/importer.go and `ctr images import`: every file of the tar goes into the
// content store under a lease (a blobs/sha256/<hex> file only if its content has that
// digest); an OCI layout's index.json names the images, or for a Docker `save` archive
// manifest.json does, from which Docker manifests and an index are made as containerd
// makes them. Each image is then unpacked for this platform with its blobs labelled for GC,
// the image records point at the index's descriptors, and the lease goes.
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { posix } from "node:path";
import {
  invalidArgument,
  isAlreadyExists,
  isNotFound,
  messageOf,
  notFound,
  wrap,
} from "../../lib/errdefs.js";
import { parseDockerRef } from "../../lib/reference/reference.js";
import { decompressStream } from "../archive/decompress.js";
import { readTar, TypeFlag } from "../archive/tar-reader.js";
import { type ContentInfo, type Descriptor, hasContent, type Platform } from "../core/content/content.js";
import type { Image, ImageStore } from "../core/images/image.js";
import { LabelGCRefContent, LabelUncompressed } from "../core/labels.js";
import {
  AnnotationImageName,
  AnnotationRefName,
  imageName,
  ociReferenceName,
  refTranslator,
} from "./archive-reference.js";
import { selectManifest } from "./handlers.js";
import { isIndexType, isManifestType, MediaTypes } from "./media-types.js";
import { type Index, parseImageConfig, parseIndex, parseManifest } from "./oci.js";
import { type MatchComparer, normalize } from "./platforms.js";
import { diffIdsOf, label, type UnpackerDeps, unpackImage } from "./unpacker.js";

export interface ImportDeps extends UnpackerDeps {
  images: ImageStore;
  platform: MatchComparer;
}

export interface ImportRequest {
  ns: string;
  /** The archive on this node: a tar, plain or compressed. */
  path: string;
  /** ctr import's --base-name: see refTranslator. */
  baseName?: string;
  /** Labels of the image records. */
  labels?: Record<string, string>;
  /** The record names of one imported image; by default its name, if the archive gives one. */
  names?: (image: ImportedImage) => string[];
}

export interface ImportedImage {
  /** Normalized name from the archive's annotations, "" when it gives none. */
  name: string;
  /** The descriptor in the archive's index: what the image records point at. */
  target: Descriptor;
  /** The image id: the config digest of this platform's manifest. */
  id: string;
  /** The snapshot holding the whole unpacked image. */
  chainId: string;
}

/** One line of a Docker save archive's manifest.json. */
interface DockerManifestEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

/** What reading the tar found: the layout documents, and each other file as a stored blob. */
interface ArchiveContents {
  ociLayout?: { imageLayoutVersion?: string };
  index?: Buffer;
  dockerManifests?: DockerManifestEntry[];
  blobs: Map<string, { digest: string; size: number }>;
  /** Symlink path → the path it points at, both cleaned. */
  symlinks: Map<string, string>;
}

/** How long an import's lease outlives a crashed daemon before GC drops it (as a pull's). */
const leaseExpiryMs = 24 * 60 * 60 * 1000;
/** index.json, manifest.json and oci-layout are read whole; bigger ones are not image archives. */
const maxDocumentSize = 8 * 1024 * 1024;
const ociLayoutVersion = "1.0.0";

export async function importArchive(deps: ImportDeps, req: ImportRequest): Promise<ImportedImage[]> {
  const { ns } = req;
  await stat(req.path).catch((err) => {
    throw (err as NodeJS.ErrnoException).code === "ENOENT"
      ? notFound("the archive does not exist")
      : wrap(err, "failed to open the archive");
  });
  const lease = await deps.leases.create(ns, { expireAt: new Date(Date.now() + leaseExpiryMs) });
  try {
    const imp = new Import(deps, ns, lease.id);
    const contents = await imp.read(req.path);
    const index = contents.ociLayout ? ociIndex(contents) : await imp.dockerIndex(contents);
    const translate = refTranslator(req.baseName, new Date());
    const imported: ImportedImage[] = [];
    for (const target of index.manifests) {
      const name = normalizeName(imageName(target.annotations ?? {}, translate));
      const unpacked = await imp.unpack(target).catch((err) => {
        throw wrap(err, `failed to unpack image "${name || target.digest}"`);
      });
      imported.push({ name, target, ...unpacked });
    }
    // Records last: an image is named only once all of it is there.
    for (const image of imported) {
      for (const name of req.names?.(image) ?? (image.name ? [image.name] : [])) {
        await putImage(deps.images, ns, { name, target: image.target, labels: req.labels ?? {} });
      }
    }
    return imported;
  } finally {
    await deps.leases
      .delete(ns, lease.id)
      .catch((err) => deps.log.warn({ err, lease: lease.id }, "lease delete"));
  }
}

/** index.json of an OCI layout whose version berth reads. */
function ociIndex(contents: ArchiveContents): Index {
  const version = contents.ociLayout?.imageLayoutVersion;
  if (version !== ociLayoutVersion) throw invalidArgument(`unsupported OCI layout version "${version}"`);
  if (!contents.index) throw invalidArgument(`missing index.json in OCI layout ${ociLayoutVersion}`);
  const index = parseIndex(
    { mediaType: MediaTypes.ociIndex, digest: "index.json", size: contents.index.length },
    contents.index,
  );
  for (const m of index.manifests) {
    if (!isIndexType(m.mediaType) && !isManifestType(m.mediaType)) {
      throw invalidArgument(`index.json names ${m.digest} of media type "${m.mediaType}", not an image`);
    }
  }
  return index;
}

class Import {
  /** Targets already unpacked, by digest: an archive may name one image twice. */
  private readonly unpacked = new Map<string, Promise<{ id: string; chainId: string }>>();

  constructor(
    private readonly deps: ImportDeps,
    private readonly ns: string,
    private readonly leaseId: string,
  ) {}

  /** Stores every file of the archive; what it holds is sorted out afterwards, as entries come in any order. */
  async read(path: string): Promise<ArchiveContents> {
    const contents: ArchiveContents = { blobs: new Map(), symlinks: new Map() };
    const { stream } = await decompressStream(createReadStream(path));
    try {
      for await (const { header, body } of readTar(stream)) {
        const name = cleanPath(header.name);
        if (header.typeflag === TypeFlag.Symlink) {
          contents.symlinks.set(name, cleanPath(posix.join(posix.dirname(name), header.linkname)));
        }
        if (header.typeflag !== TypeFlag.Reg) continue;
        if (name === "oci-layout") {
          contents.ociLayout = parseJson(name, await readDocument(name, header.size, body));
        } else if (name === "index.json") {
          contents.index = await readDocument(name, header.size, body);
        } else if (name === "manifest.json") {
          contents.dockerManifests = parseJson(name, await readDocument(name, header.size, body));
        } else {
          contents.blobs.set(name, await this.ingest(name, header.size, body));
        }
      }
    } catch (err) {
      stream.destroy();
      throw err;
    }
    return contents;
  }

  /**
   * One file into the content store. A file at blobs/sha256/<hex> must have that digest,
   * and is not written again if the store has it.
   */
  private async ingest(name: string, size: number, body: AsyncIterable<Buffer>) {
    const named = /^blobs\/sha256\/([0-9a-f]{64})$/.exec(name)?.[1];
    if (named) {
      const digest = `sha256:${named}`;
      // Leased before looked at, so a collection meanwhile keeps it.
      await this.lease({ type: "content", id: digest });
      if (await hasContent(this.deps.content, this.ns, digest)) return { digest, size };
    }
    return this.write(name, size, body, named && `sha256:${named}`);
  }

  private async write(
    name: string,
    size: number,
    data: AsyncIterable<Buffer> | Iterable<Buffer>,
    expected?: string,
  ) {
    const { content } = this.deps;
    const ref = `import-${randomBytes(8).toString("hex")}`;
    await this.lease({ type: "ingests", id: ref });
    const w = await content.writer(this.ns, { ref });
    let committed = false;
    try {
      const hash = createHash("sha256");
      for await (const chunk of data) {
        hash.update(chunk);
        await w.write(chunk);
      }
      const digest = `sha256:${hash.digest("hex")}`;
      if (expected && digest !== expected) {
        throw invalidArgument(`blob ${name} in the archive has digest ${digest}, not ${expected}`);
      }
      await this.lease({ type: "content", id: digest });
      await w.commit(size, digest).catch((err) => {
        if (!isAlreadyExists(err)) throw err;
      });
      committed = true;
      return { digest, size };
    } finally {
      await w.close();
      if (!committed) await content.abort(this.ns, ref).catch(() => {});
    }
  }

  /**
   * containerd's ImportIndex for Docker archives: one Docker manifest per manifest.json line,
   * with the platform of its config, in an index naming it once per repo tag.
   */
  async dockerIndex(contents: ArchiveContents): Promise<Index> {
    if (!contents.dockerManifests) {
      throw invalidArgument("unrecognized image format: neither an OCI layout nor a Docker archive");
    }
    if (!Array.isArray(contents.dockerManifests)) throw invalidArgument("manifest.json is not a list");
    const { blobs } = contents;
    for (const [link, target] of contents.symlinks) {
      const blob = blobs.get(target);
      if (!blob) throw invalidArgument(`no target for symlink layer from "${link}" to "${target}"`);
      blobs.set(link, blob);
    }
    const compressed = await this.compressedLayers();
    const manifests: Descriptor[] = [];
    for (const entry of contents.dockerManifests) {
      const configBlob = blobs.get(cleanPath(entry.Config ?? ""));
      if (!configBlob) throw invalidArgument(`image config "${entry.Config}" not found in the archive`);
      const config = { mediaType: MediaTypes.dockerConfig, ...configBlob };
      const layers: Descriptor[] = [];
      for (const file of entry.Layers ?? []) {
        const blob = blobs.get(cleanPath(file));
        if (!blob) throw invalidArgument(`layer "${file}" not found in the archive`);
        const known = compressed.get(blob.digest);
        if (known) {
          await this.lease({ type: "content", id: known.digest });
          layers.push({ mediaType: MediaTypes.dockerLayerGzip, digest: known.digest, size: known.size });
        } else {
          layers.push({ mediaType: await this.layerMediaType(blob.digest), ...blob });
        }
      }
      const desc = await this.writeDocument(
        dockerManifest(config, layers),
        MediaTypes.dockerManifest,
        await this.platformOf(config),
      );
      const tags = entry.RepoTags ?? [];
      if (tags.length === 0) manifests.push(desc);
      for (const tag of tags) {
        const name = normalizeName(tag);
        manifests.push({
          ...desc,
          annotations: { [AnnotationImageName]: name, [AnnotationRefName]: ociReferenceName(name) },
        });
      }
    }
    return { schemaVersion: 2, manifests };
  }

  /**
   * Compressed blobs by the digest of their uncompressed form: containerd's resolveLayers
   * puts one the store has in the manifest in place of a saved (uncompressed) layer.
   */
  private async compressedLayers(): Promise<Map<string, ContentInfo>> {
    const out = new Map<string, ContentInfo>();
    for (const info of await this.deps.content.list(this.ns)) {
      const uncompressed = info.labels[LabelUncompressed];
      if (uncompressed) out.set(uncompressed, info);
    }
    return out;
  }

  /** What containerd 1.6 calls a saved layer: gzip if it is, otherwise a plain tar. */
  private async layerMediaType(digest: string): Promise<string> {
    const stream = await this.deps.content.createReadStream(this.ns, digest);
    const { compression, stream: decompressed } = await decompressStream(stream);
    decompressed.destroy();
    stream.destroy();
    if (compression === "gzip") return MediaTypes.dockerLayerGzip;
    if (compression === "zstd") return MediaTypes.ociLayerZstd;
    return MediaTypes.dockerLayer;
  }

  /** images.Platforms of a single manifest: its config's, normalized, if the config says. */
  private async platformOf(config: Descriptor): Promise<Platform | undefined> {
    const c = parseImageConfig(config, await this.readBlob(config, "image config"));
    if (!c.os || !c.architecture) return undefined;
    return normalize({
      os: c.os,
      architecture: c.architecture,
      ...(c.variant ? { variant: c.variant } : {}),
    });
  }

  private async writeDocument(doc: string, mediaType: string, platform?: Platform): Promise<Descriptor> {
    const data = Buffer.from(doc);
    const { digest, size } = await this.write("manifest", data.length, [data]);
    return { mediaType, digest, size, ...(platform ? { platform } : {}) };
  }

  /** Unpacks an index entry for this platform (once per digest); its image id and chain. */
  unpack(target: Descriptor): Promise<{ id: string; chainId: string }> {
    let p = this.unpacked.get(target.digest);
    if (!p) {
      p = this.unpackTarget(target);
      this.unpacked.set(target.digest, p);
    }
    return p;
  }

  private async unpackTarget(target: Descriptor) {
    let desc = target;
    // An index names the manifest for this platform (maybe through nested indexes), as in a pull.
    while (isIndexType(desc.mediaType)) {
      const chosen = selectManifest(
        parseIndex(desc, await this.readBlob(desc, "image index")),
        this.deps.platform,
      );
      await label(this.deps, this.ns, desc, { [`${LabelGCRefContent}.m.0`]: chosen.digest });
      desc = chosen;
    }
    if (!isManifestType(desc.mediaType)) {
      throw invalidArgument(`unsupported media type ${desc.mediaType} for ${desc.digest}`);
    }
    const manifest = parseManifest(desc, await this.readBlob(desc, "image manifest"));
    const config = parseImageConfig(manifest.config, await this.readBlob(manifest.config, "image config"));
    for (const layer of manifest.layers) {
      if (!(await hasContent(this.deps.content, this.ns, layer.digest)))
        throw missingBlob(layer.digest, "layer");
    }
    const chainId = await unpackImage(this.deps, {
      ns: this.ns,
      leaseId: this.leaseId,
      desc,
      manifest,
      diffIds: diffIdsOf(desc, manifest, config),
    });
    return { id: manifest.config.digest, chainId };
  }

  private async readBlob(desc: Descriptor, what: string): Promise<Buffer> {
    try {
      return await this.deps.content.readBlob(this.ns, desc.digest);
    } catch (err) {
      if (isNotFound(err)) throw missingBlob(desc.digest, what);
      throw err;
    }
  }

  private lease(r: { type: "content" | "ingests"; id: string }): Promise<void> {
    return this.deps.leases.addResource(this.ns, this.leaseId, r);
  }
}

/** Points a record at the image as containerd's import does: update it, or create it if missing. */
async function putImage(store: ImageStore, ns: string, image: Omit<Image, "createdAt" | "updatedAt">) {
  try {
    await store.update(ns, image, ["target", ...Object.keys(image.labels).map((k) => `labels.${k}`)]);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    await store.create(ns, image);
  }
}

function missingBlob(digest: string, what: string) {
  return invalidArgument(`the archive lacks ${what} ${digest}`);
}

/** The manifest containerd writes for a Docker archive, byte for byte (Go's field order). */
export function dockerManifest(config: Descriptor, layers: Descriptor[]): string {
  const d = ({ mediaType, digest, size }: Descriptor) => ({ mediaType, digest, size });
  return JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaTypes.dockerManifest,
    config: d(config),
    layers: layers.map(d),
  });
}

/** The name CRI and berth keep ("busybox:1" → "docker.io/library/busybox:1"); "" stays "". */
function normalizeName(name: string): string {
  if (!name) return "";
  try {
    return parseDockerRef(name).toString();
  } catch (err) {
    throw invalidArgument(`image name "${name}" in the archive: ${messageOf(err)}`);
  }
}

/** Go's path.Clean of a tar entry name, without a leading "./". */
function cleanPath(name: string): string {
  return posix
    .normalize(name)
    .replace(/^(\.\/)+/, "")
    .replace(/\/$/, "");
}

async function readDocument(name: string, size: number, body: AsyncIterable<Buffer>): Promise<Buffer> {
  if (size > maxDocumentSize) {
    throw invalidArgument(`${name} is ${size} bytes, more than the ${maxDocumentSize} berth reads`);
  }
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

function parseJson<T>(name: string, data: Buffer): T {
  try {
    return JSON.parse(data.toString("utf8")) as T;
  } catch (err) {
    throw invalidArgument(`${name} is not valid JSON`, err);
  }
}
