// A pull, after containerd 1.6's client.Pull (pull.go) with its unpacker (unpacker.go):
// resolve the reference, fetch the index/manifest/config/layers into the content store
// under a lease, unpack each layer into an overlay snapshot keyed by its chainID as soon
// as it and the layers below it are there, label everything so GC keeps what the image
// needs, then point the image record at the target and drop the lease.
import { randomBytes } from "node:crypto";
import pLimit from "p-limit";
import { invalidArgument, isAlreadyExists, isNotFound, kindOf, wrap } from "../../lib/errdefs.js";
import type { Logger } from "../../lib/log.js";
import { parseDockerRef } from "../../lib/reference/reference.js";
import { type ContentStore, type Descriptor, hasContent, setContentLabels } from "../core/content/content.js";
import type { Image, ImageStore } from "../core/images/image.js";
import { LabelDistributionSource, LabelGCRefContent } from "../core/labels.js";
import type { LeaseManager, LeaseResource } from "../core/leases/leases.js";
import type { Snapshotter } from "../core/snapshots/snapshots.js";
import type { Resolver } from "../remotes/resolver.js";
import { filterPlatforms, limitManifests } from "./handlers.js";
import { isConfigType, isIndexType, isLayerType, isManifestType } from "./media-types.js";
import { type ImageConfig, parseImageConfig, parseIndex, parseManifest } from "./oci.js";
import type { MatchComparer } from "./platforms.js";
import type { PullTracker } from "./progress.js";
import { diffIdsOf, unpackImage } from "./unpacker.js";

export interface PullDeps {
  content: ContentStore;
  images: ImageStore;
  snapshotter: Snapshotter;
  /** Its name in GC labels and lease resources ("overlayfs"). */
  snapshotterName: string;
  leases: LeaseManager;
  log: Logger;
  maxConcurrentDownloads: number;
  platform: MatchComparer;
}

export interface PullRequest {
  ns: string;
  ref: string;
  resolver: Resolver;
  /** Labels of the image record. */
  labels?: Record<string, string>;
  tracker?: PullTracker;
}

export interface PullResult {
  image: Image;
  manifest: Descriptor;
  config: Descriptor;
  imageConfig: ImageConfig;
  /** The snapshot holding the whole unpacked image. */
  chainId: string;
}

/** How long a pull's lease outlives a crashed daemon before GC drops it (containerd: 24h). */
const leaseExpiryMs = 24 * 60 * 60 * 1000;
/** On a pull's lease: the reference it pulls, and the daemon run that pulls it. */
export const LabelPullRef = "berth.io/pull.ref";
const LabelPullRun = "berth.io/pull.run";
/** This daemon run. The root's lock admits one daemon, so a lease of another run lost its pull. */
const thisRun = randomBytes(8).toString("hex");

export async function pull(deps: PullDeps, req: PullRequest): Promise<PullResult> {
  const { ns, resolver } = req;
  const resolved = await resolver.resolve(req.ref).catch((err) => {
    throw wrap(err, `failed to resolve reference "${req.ref}"`);
  });
  const lease = await deps.leases.create(ns, {
    labels: { [LabelPullRef]: resolved.name, [LabelPullRun]: thisRun },
    expireAt: new Date(Date.now() + leaseExpiryMs),
  });
  try {
    const p = new Pull(deps, req, resolved.name, lease.id);
    const { manifest, config, imageConfig, chainId } = await p.run(resolved.descriptor);
    const image = await createOrUpdateImage(deps.images, ns, {
      name: resolved.name,
      target: resolved.descriptor,
      labels: req.labels ?? {},
    });
    await dropLeasesOfKilledPulls(deps, ns, resolved.name);
    return { image, manifest, config, imageConfig, chainId };
  } finally {
    await deps.leases
      .delete(ns, lease.id)
      .catch((err) => deps.log.warn({ err, lease: lease.id }, "lease delete"));
  }
}

/**
 * A pull killed with its daemon leaves its lease until it expires, as containerd does, so
 * that a retry finds the blobs and snapshots it made and resumes its ingests. Once a retry
 * has the image, the image keeps what it needs and those leases keep only leftovers
 * (half-applied snapshots, blobs of an older target): dropped, GC can free them. Removing
 * the image drops them too: nobody wants what they hold any more.
 */
export async function dropLeasesOfKilledPulls(
  deps: Pick<PullDeps, "leases" | "log">,
  ns: string,
  name: string,
): Promise<void> {
  for (const l of await deps.leases.list(ns)) {
    if (l.labels[LabelPullRef] !== name || l.labels[LabelPullRun] === thisRun) continue;
    await deps.leases.delete(ns, l.id).catch((err) => {
      if (!isNotFound(err)) throw wrap(err, `failed to drop lease "${l.id}" of a killed pull of "${name}"`);
    });
    deps.log.info(
      { lease: l.id, image: name, run: l.labels[LabelPullRun] },
      "dropped lease of a killed pull",
    );
  }
}

async function createOrUpdateImage(
  store: ImageStore,
  ns: string,
  image: Omit<Image, "createdAt" | "updatedAt">,
) {
  try {
    return await store.create(ns, image);
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
    return store.update(ns, image, ["target", ...Object.keys(image.labels).map((k) => `labels.${k}`)]);
  }
}

/** containerd's remotes.MakeRefKey: the ingest ref of a blob names its kind and digest. */
function ingestRef(desc: Descriptor): string {
  const kind = isIndexType(desc.mediaType)
    ? "index"
    : isManifestType(desc.mediaType)
      ? "manifest"
      : isLayerType(desc.mediaType)
        ? "layer"
        : isConfigType(desc.mediaType)
          ? "config"
          : "unknown";
  return `${kind}-${desc.digest}`;
}

class Pull {
  private readonly limit;
  private readonly sourceLabel: Record<string, string>;

  constructor(
    private readonly deps: PullDeps,
    private readonly req: PullRequest,
    private readonly name: string,
    private readonly leaseId: string,
  ) {
    this.limit = pLimit(deps.maxConcurrentDownloads);
    const ref = parseDockerRef(name);
    this.sourceLabel = { [`${LabelDistributionSource}${ref.domain}`]: ref.path };
  }

  async run(target: Descriptor) {
    let desc = target;
    // An index names the manifest for this platform (maybe through nested indexes).
    while (isIndexType(desc.mediaType)) {
      const index = parseIndex(desc, await this.fetchSmall(desc));
      const chosen = limitManifests(
        filterPlatforms(index.manifests, this.deps.platform),
        this.deps.platform,
        1,
      );
      await setContentLabels(
        this.deps.content,
        this.req.ns,
        desc.digest,
        Object.fromEntries(chosen.map((m, i) => [`${LabelGCRefContent}.m.${i}`, m.digest])),
      );
      desc = chosen[0] as Descriptor;
    }
    if (!isManifestType(desc.mediaType)) {
      throw invalidArgument(`unsupported media type ${desc.mediaType} for ${desc.digest}`);
    }
    const manifest = parseManifest(desc, await this.fetchSmall(desc));
    for (const l of manifest.layers) this.req.tracker?.update(l, { state: "waiting" });
    // The config and the layers download together, as containerd's fetch handler dispatches a
    // manifest's children; unpacking follows the layers in order as each one lands.
    const downloads = manifest.layers.map((l) => this.limit(() => this.fetch(l)));
    // A failure is seen where its layer is awaited; until then it must not count as unhandled.
    for (const d of downloads) d.catch(() => {});
    let imageConfig: ImageConfig;
    let chainId: string;
    try {
      imageConfig = parseImageConfig(manifest.config, await this.fetchSmall(manifest.config));
      chainId = await unpackImage(this.deps, {
        ns: this.req.ns,
        leaseId: this.leaseId,
        desc,
        manifest,
        diffIds: diffIdsOf(desc, manifest, imageConfig),
        tracker: this.req.tracker,
        layerReady: (i) => downloads[i] as Promise<void>,
      });
    } finally {
      // Let in-flight downloads settle before the lease goes, whatever happened.
      await Promise.allSettled(downloads);
    }
    return { manifest: desc, config: manifest.config, imageConfig, chainId };
  }

  private async fetchSmall(desc: Descriptor): Promise<Buffer> {
    await this.fetch(desc);
    return this.deps.content.readBlob(this.req.ns, desc.digest);
  }

  /** Fetches one blob into the content store unless the namespace has it already. */
  private async fetch(desc: Descriptor): Promise<void> {
    const { ns, tracker } = this.req;
    const { content } = this.deps;
    // Leased before it is looked at or written, so that a collection running meanwhile (an
    // image removed, which shared it) keeps it until the labels do; as containerd's writer.
    // The ingest it would be written through is leased in the same transaction.
    const ref = ingestRef(desc);
    await this.lease({ type: "content", id: desc.digest }, { type: "ingests", id: ref });
    if (await hasContent(content, ns, desc.digest)) {
      tracker?.update(desc, { state: "exists", offset: desc.size });
      return;
    }
    const w = await this.openWriter(ref, desc);
    if (!w) {
      tracker?.update(desc, { state: "exists", offset: desc.size });
      return;
    }
    try {
      let offset = w.offset;
      // An ingest whole but not committed (its daemon killed in between) only needs the
      // commit: a Range from its end would be refused, as containerd's fetch knows.
      if (offset < desc.size) {
        // The writer verifies the digest on commit; the stream need not hash it too.
        const stream = await this.req.resolver.fetch(this.name, desc, { offset, verifyDigest: false });
        tracker?.update(desc, { state: "downloading", offset });
        for await (const chunk of stream) {
          await w.write(chunk);
          offset += chunk.length;
          tracker?.update(desc, { offset });
        }
      }
      await w.commit(desc.size, desc.digest, { labels: this.sourceLabel }).catch((err) => {
        if (!isAlreadyExists(err)) throw err;
      });
      tracker?.update(desc, { state: "downloaded", offset: desc.size });
    } catch (err) {
      throw wrap(err, `failed to copy ${desc.digest}`);
    } finally {
      await w.close();
    }
  }

  /** A writer for the blob, or none when it turns out to be there already. */
  private async openWriter(ref: string, desc: Descriptor) {
    const { ns } = this.req;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.deps.content.writer(ns, {
          ref,
          expected: { digest: desc.digest, size: desc.size },
        });
      } catch (err) {
        if (isAlreadyExists(err)) return undefined;
        // Another pull of the same blob holds the ingest: wait for it, as containerd does.
        if (kindOf(err) !== "Unavailable" || attempt > 600) throw err;
        await new Promise((r) => setTimeout(r, Math.min(1000, 10 * 2 ** attempt)));
        if (await hasContent(this.deps.content, ns, desc.digest)) return undefined;
      }
    }
  }

  private lease(...rs: LeaseResource[]): Promise<void> {
    return this.deps.leases.addResource(this.req.ns, this.leaseId, ...rs);
  }
}
