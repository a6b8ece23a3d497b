// Unpacking an image's layers and labelling what they keep alive, after containerd 1.6's
// unpacker.go: each layer in order into a snapshot keyed by its chainID (unless one is
// there already), the layer labelled with its diffID, the config with the top snapshot and
// the manifest with its config and layers. A pull runs it while layers download; an
// archive import once every blob is in the content store.
import { randomBytes } from "node:crypto";
import { failedPrecondition, isNotFound } from "../../lib/errdefs.js";
import type { Logger } from "../../lib/log.js";
import { type ContentStore, type Descriptor, setContentLabels } from "../core/content/content.js";
import { LabelGCRefContent, LabelGCRefSnapshot, LabelUncompressed } from "../core/labels.js";
import type { LeaseManager, LeaseResource } from "../core/leases/leases.js";
import type { Snapshotter } from "../core/snapshots/snapshots.js";
import { chainIds, type ImageConfig, type Manifest } from "./oci.js";
import type { PullTracker } from "./progress.js";
import { unpackLayer } from "./unpack.js";

export interface UnpackerDeps {
  content: ContentStore;
  snapshotter: Snapshotter;
  /** Its name in GC labels and lease resources ("overlayfs"). */
  snapshotterName: string;
  leases: LeaseManager;
  log: Logger;
}

export interface UnpackImage {
  ns: string;
  /** The lease that holds the snapshots while they are made. */
  leaseId: string;
  /** The manifest's descriptor and its document. */
  desc: Descriptor;
  manifest: Manifest;
  /** From the image config, one per layer (see diffIdsOf). */
  diffIds: string[];
  tracker?: PullTracker;
  /** Settles when layer `i` is in the content store (a pull's download); by default all are. */
  layerReady?: (i: number) => Promise<unknown>;
}

/** The config's diffIDs, checked to pair one to one with the manifest's layers. */
export function diffIdsOf(desc: Descriptor, manifest: Manifest, config: ImageConfig): string[] {
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== manifest.layers.length) {
    throw failedPrecondition(
      `manifest ${desc.digest} has ${manifest.layers.length} layers but its config lists ${diffIds.length} diff ids`,
    );
  }
  return diffIds;
}

/** Unpacks the layers in order and labels them; returns the chainID of the whole image. */
export async function unpackImage(deps: UnpackerDeps, u: UnpackImage): Promise<string> {
  const { manifest, diffIds } = u;
  const chain = chainIds(diffIds);
  for (const [i, layer] of manifest.layers.entries()) {
    await u.layerReady?.(i);
    await unpackOne(deps, u, layer, diffIds[i] as string, chain[i] as string, chain[i - 1]);
  }
  const chainId = chain.at(-1) as string;
  await label(deps, u.ns, manifest.config, { [`${LabelGCRefSnapshot}${deps.snapshotterName}`]: chainId });
  await label(deps, u.ns, u.desc, {
    [`${LabelGCRefContent}.config`]: manifest.config.digest,
    ...Object.fromEntries(manifest.layers.map((l, i) => [`${LabelGCRefContent}.l.${i}`, l.digest])),
  });
  return chainId;
}

async function unpackOne(
  deps: UnpackerDeps,
  u: UnpackImage,
  layer: Descriptor,
  diffId: string,
  chainId: string,
  parent: string | undefined,
) {
  const { ns, tracker } = u;
  const { snapshotter, snapshotterName, content } = deps;
  const type = `snapshots/${snapshotterName}` as const;
  // Leased before it is looked at, so that a collection running meanwhile keeps it; with the
  // key it would be made under, in the same transaction.
  const key = `extract-${randomBytes(8).toString("hex")} ${chainId}`;
  await lease(deps, u, { type, id: chainId }, { type, id: key });
  const exists = await snapshotter.stat(ns, chainId).then(
    () => true,
    (err) => (isNotFound(err) ? false : Promise.reject(err)),
  );
  if (!exists) {
    tracker?.update(layer, { state: "unpacking" });
    await unpackLayer({ ns, snapshotter, content, log: deps.log }, { layer, diffId, chainId, parent, key });
  }
  await label(deps, ns, layer, { [LabelUncompressed]: diffId });
  tracker?.update(layer, { state: "unpacked", offset: layer.size });
}

function lease(deps: UnpackerDeps, u: UnpackImage, ...rs: LeaseResource[]): Promise<void> {
  return deps.leases.addResource(u.ns, u.leaseId, ...rs);
}

/** Sets the named labels of a blob, leaving its others alone. */
export function label(
  deps: Pick<UnpackerDeps, "content">,
  ns: string,
  desc: Descriptor,
  labels: Record<string, string>,
): Promise<void> {
  return setContentLabels(deps.content, ns, desc.digest, labels);
}
