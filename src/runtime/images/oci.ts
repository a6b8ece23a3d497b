// The OCI image documents berth reads: index, manifest and config (image-spec v1),
// which Docker schema 2 shares field for field.
import { createHash } from "node:crypto";
import { invalidArgument } from "../../lib/errdefs.js";
import type { Descriptor, Platform } from "../core/content/content.js";
import { isIndexType, isManifestType } from "./media-types.js";

export interface Index {
  schemaVersion: number;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

export interface Manifest {
  schemaVersion: number;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

/** The image config: what runs, and the rootfs as uncompressed layer digests. */
export interface ImageConfig extends Partial<Platform> {
  created?: string;
  author?: string;
  config?: {
    User?: string;
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
    Volumes?: Record<string, object>;
    ExposedPorts?: Record<string, object>;
    Labels?: Record<string, string>;
    StopSignal?: string;
  };
  rootfs: { type: string; diff_ids: string[] };
  history?: unknown[];
}

function parseJson<T>(what: string, desc: Descriptor, blob: Buffer): T {
  try {
    return JSON.parse(blob.toString("utf8")) as T;
  } catch (err) {
    throw invalidArgument(`${what} ${desc.digest} is not valid JSON`, err);
  }
}

export function parseIndex(desc: Descriptor, blob: Buffer): Index {
  const index = parseJson<Index>("image index", desc, blob);
  if (!Array.isArray(index.manifests)) throw invalidArgument(`image index ${desc.digest} has no manifests`);
  return index;
}

export function parseManifest(desc: Descriptor, blob: Buffer): Manifest {
  const m = parseJson<Manifest>("image manifest", desc, blob);
  if (!m.config?.digest || !Array.isArray(m.layers)) {
    throw invalidArgument(`image manifest ${desc.digest} lacks a config or layers`);
  }
  return m;
}

export function parseImageConfig(desc: Descriptor, blob: Buffer): ImageConfig {
  const c = parseJson<ImageConfig>("image config", desc, blob);
  if (!Array.isArray(c.rootfs?.diff_ids))
    throw invalidArgument(`image config ${desc.digest} has no rootfs.diff_ids`);
  return c;
}

/** The blobs a manifest or index points at, in order; nothing for other blobs. */
export function childrenOf(desc: Descriptor, blob: Buffer): Descriptor[] {
  if (isIndexType(desc.mediaType)) return parseIndex(desc, blob).manifests;
  if (isManifestType(desc.mediaType)) {
    const m = parseManifest(desc, blob);
    return [m.config, ...m.layers];
  }
  return [];
}

/**
 * Identity of a stack of layers (image-spec's ChainID): the first layer's diffID, then
 * sha256 of "<parent chainID> <diffID>" for each next layer. Snapshots are keyed by it.
 */
export function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const diffId of diffIds) {
    const parent = out.at(-1);
    out.push(parent ? `sha256:${createHash("sha256").update(`${parent} ${diffId}`).digest("hex")}` : diffId);
  }
  return out;
}
