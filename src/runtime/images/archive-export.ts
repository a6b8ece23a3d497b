// Writing images to an OCI archive, after containerd 1.6's images/archive/exporter.go
// (`ctr images export`): oci-layout, an index.json listing each image's target annotated
// with its name, and every blob the images need on this platform, checked against its
// digest on the way, in a tar sorted by name. The file is written beside the destination
// and renamed into place, so it appears whole or not at all.
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { open, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import * as tarStream from "tar-stream";
import { failedPrecondition, invalidArgument, isNotFound, notFound, wrap } from "../../lib/errdefs.js";
import { isSha256Digest } from "../content/digest.js";
import type { ContentStore, Descriptor } from "../core/content/content.js";
import { AnnotationImageName, AnnotationRefName, ociReferenceName } from "./archive-reference.js";
import { filterPlatforms } from "./handlers.js";
import { isIndexType, isManifestType } from "./media-types.js";
import { parseIndex, parseManifest } from "./oci.js";
import type { MatchComparer } from "./platforms.js";

export interface ExportDeps {
  content: ContentStore;
  platform: MatchComparer;
}

export interface ExportImage {
  /** The name written into the annotations; "" for none. */
  name: string;
  /** An index or manifest descriptor. */
  target: Descriptor;
}

export interface ExportRequest {
  ns: string;
  /** Where the archive goes on this node; replaced if it exists. */
  path: string;
  images: ExportImage[];
}

/** One tar entry: a directory, a small document, or a blob streamed from the content store. */
type TarRecord = { name: string; mode: number } & (
  | { kind: "dir" }
  | { kind: "data"; data: Buffer }
  | { kind: "blob"; digest: string; size: number }
);

/** Writes the archive; returns its size in bytes. */
export async function exportArchive(deps: ExportDeps, req: ExportRequest): Promise<number> {
  const manifests = req.images.map((i) => (i.name ? withName(i.target, i.name) : i.target));
  const blobs = new Map<string, Descriptor>();
  for (const m of manifests) {
    if (!isIndexType(m.mediaType) && !isManifestType(m.mediaType)) {
      throw invalidArgument(`only manifests may be exported, not ${m.digest} of media type ${m.mediaType}`);
    }
    await collectBlobs(deps, req.ns, m, blobs);
  }
  const records: TarRecord[] = [
    { kind: "data", name: "oci-layout", mode: 0o444, data: json({ imageLayoutVersion: "1.0.0" }) },
    { kind: "data", name: "index.json", mode: 0o644, data: json({ schemaVersion: 2, manifests }) },
    { kind: "dir", name: "blobs/", mode: 0o755 },
    { kind: "dir", name: "blobs/sha256/", mode: 0o755 },
    ...[...blobs.values()].map(
      (b): TarRecord => ({
        kind: "blob",
        name: `blobs/sha256/${b.digest.slice("sha256:".length)}`,
        mode: 0o444,
        digest: b.digest,
        size: b.size,
      }),
    ),
  ];
  records.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return writeArchive(deps.content, req.ns, req.path, records);
}

/** addNameAnnotation: the target with the full name and the OCI ref name (the tag). */
function withName(target: Descriptor, name: string): Descriptor {
  return {
    ...target,
    annotations: {
      ...target.annotations,
      [AnnotationImageName]: name,
      [AnnotationRefName]: ociReferenceName(name),
    },
  };
}

/** The blob and what it needs: an index's manifests for this platform, a manifest's config and layers. */
async function collectBlobs(deps: ExportDeps, ns: string, desc: Descriptor, blobs: Map<string, Descriptor>) {
  if (blobs.has(desc.digest)) return;
  if (!isSha256Digest(desc.digest)) throw invalidArgument(`unsupported digest "${desc.digest}"`);
  const info = await deps.content.info(ns, desc.digest).catch((err) => {
    throw isNotFound(err) ? notFound(`content ${desc.digest} (${desc.mediaType}) is not in the store`) : err;
  });
  blobs.set(desc.digest, { ...desc, size: info.size });
  let children: Descriptor[] = [];
  if (isIndexType(desc.mediaType)) {
    children = filterPlatforms(
      parseIndex(desc, await deps.content.readBlob(ns, desc.digest)).manifests,
      deps.platform,
    );
  } else if (isManifestType(desc.mediaType)) {
    const m = parseManifest(desc, await deps.content.readBlob(ns, desc.digest));
    children = [m.config, ...m.layers];
  }
  for (const c of children) await collectBlobs(deps, ns, c, blobs);
}

async function writeArchive(content: ContentStore, ns: string, path: string, records: TarRecord[]) {
  const dir = dirname(path);
  await stat(dir).catch((err) => {
    throw (err as NodeJS.ErrnoException).code === "ENOENT"
      ? notFound(`directory "${dir}" does not exist`)
      : wrap(err, `failed to write to "${dir}"`);
  });
  const tmp = join(dir, `.${basename(path)}.tmp-${randomBytes(6).toString("hex")}`);
  const pack = tarStream.pack();
  const written = pipeline(pack, createWriteStream(tmp, { flags: "wx", mode: 0o644 }));
  try {
    for (const r of records) await writeRecord(content, ns, pack, r);
    pack.finalize();
    await written;
    // Durable before it takes the destination's name.
    const file = await open(tmp, "r");
    try {
      await file.sync();
    } finally {
      await file.close();
    }
    const { size } = await stat(tmp);
    await rename(tmp, path);
    return size;
  } catch (err) {
    pack.destroy(err as Error);
    await written.catch(() => {});
    await rm(tmp, { force: true });
    throw err;
  }
}

const mtime = new Date(0);

async function writeRecord(content: ContentStore, ns: string, pack: tarStream.Pack, r: TarRecord) {
  if (r.kind === "dir") {
    pack.entry({ name: r.name, type: "directory", mode: r.mode, mtime });
    return;
  }
  if (r.kind === "data") {
    pack.entry({ name: r.name, type: "file", mode: r.mode, mtime }, r.data);
    return;
  }
  const source = await content.createReadStream(ns, r.digest);
  const entryDone = new Promise<void>((resolve, reject) => {
    const sink = pack.entry({ name: r.name, type: "file", mode: r.mode, mtime, size: r.size }, (err) =>
      err ? reject(err) : resolve(),
    );
    copyVerified(source, sink, r.digest).catch((err) => {
      source.destroy();
      sink.destroy(err);
      reject(err);
    });
  });
  await entryDone;
}

/** Copies a blob into its tar entry, checking on the way that it still has its digest. */
async function copyVerified(source: AsyncIterable<Buffer>, sink: NodeJS.WritableStream, digest: string) {
  const hash = createHash("sha256");
  for await (const chunk of source) {
    hash.update(chunk);
    if (!sink.write(chunk)) await once(sink, "drain");
  }
  const actual = `sha256:${hash.digest("hex")}`;
  if (actual !== digest) throw failedPrecondition(`content ${digest} in the store has digest ${actual}`);
  sink.end();
}

/** Go's encoding/json of a document: descriptors with their fields in the spec's order. */
function json(doc: unknown): Buffer {
  return Buffer.from(JSON.stringify(doc, (_k, v) => (isDescriptor(v) ? ordered(v) : v)));
}

function isDescriptor(v: unknown): v is Descriptor {
  return typeof v === "object" && v !== null && "digest" in v && "mediaType" in v && "size" in v;
}

function ordered({ mediaType, digest, size, urls, annotations, platform }: Descriptor): Descriptor {
  return {
    mediaType,
    digest,
    size,
    ...(urls ? { urls } : {}),
    ...(annotations ? { annotations: sortedKeys(annotations) } : {}),
    ...(platform ? { platform } : {}),
  };
}

function sortedKeys(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
