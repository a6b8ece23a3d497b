// The runtime's image side, what containerd's client gives its CRI plugin: pulls with
// per-host registry config and CRI auth, a description of each image (its id, size,
// snapshot chain and config, read from the content store and cached by target digest,
// since content never changes), and removal followed by garbage collection.
import type { AuthConfig } from "../../cri/gen/runtime/v1/api_pb.js";
import { isNotFound } from "../../lib/errdefs.js";
import type { Logger } from "../../lib/log.js";
import { parseDockerRef } from "../../lib/reference/reference.js";
import type { ContentStore, Descriptor } from "../core/content/content.js";
import type { Image, ImageStore } from "../core/images/image.js";
import type { LeaseManager } from "../core/leases/leases.js";
import type { Snapshotter } from "../core/snapshots/snapshots.js";
import type { GarbageCollector } from "../gc/gc.js";
import { newResolver } from "../remotes/resolver.js";
import { type ExportImage, exportArchive } from "./archive-export.js";
import { type ImportedImage, type ImportRequest, importArchive } from "./archive-import.js";
import { selectManifest } from "./handlers.js";
import { isIndexType } from "./media-types.js";
import { chainIds, type ImageConfig, parseImageConfig, parseIndex, parseManifest } from "./oci.js";
import { defaultMatcher, type MatchComparer } from "./platforms.js";
import { ProgressHub } from "./progress.js";
import { dropLeasesOfKilledPulls, type PullResult, pull } from "./pull.js";

export interface ImageManagerOptions {
  content: ContentStore;
  images: ImageStore;
  snapshotter: Snapshotter;
  snapshotterName: string;
  leases: LeaseManager;
  gc: GarbageCollector;
  log: Logger;
  /** hosts.toml root: <registryConfigDir>/<host>/hosts.toml. */
  registryConfigDir: string;
  maxConcurrentDownloads: number;
  platform?: MatchComparer;
}

/** What an image record's target amounts to on this platform. */
export interface ImageDescription {
  /** The config digest: the image id. */
  id: string;
  manifest: Descriptor;
  config: ImageConfig;
  /** The snapshot of the whole unpacked image. */
  chainId: string;
  /** Bytes of every blob the image uses here: index, manifest, config, layers. */
  size: number;
}

export class ImageManager {
  readonly progress = new ProgressHub();
  private readonly platform: MatchComparer;
  private readonly described = new Map<string, ImageDescription>();

  constructor(private readonly opts: ImageManagerOptions) {
    this.platform = opts.platform ?? defaultMatcher();
  }

  get images(): ImageStore {
    return this.opts.images;
  }

  async pull(
    ns: string,
    ref: string,
    opts: { auth?: AuthConfig; labels?: Record<string, string> } = {},
  ): Promise<PullResult> {
    const resolver = newResolver({
      log: this.opts.log,
      configDir: this.opts.registryConfigDir,
      auth: opts.auth,
    });
    const tracker = this.progress.track(parseDockerRef(ref).toString());
    try {
      const result = await pull(
        { ...this.opts, platform: this.platform },
        { ns, ref, resolver, labels: opts.labels, tracker },
      );
      tracker.finish();
      return result;
    } catch (err) {
      tracker.finish(err);
      throw err;
    } finally {
      await resolver.close();
    }
  }

  /** Imports an image archive on the node; what a failed import stored is collected at once. */
  async importArchive(ns: string, req: Omit<ImportRequest, "ns">): Promise<ImportedImage[]> {
    try {
      return await importArchive({ ...this.opts, platform: this.platform }, { ...req, ns });
    } catch (err) {
      await this.opts.gc
        .collect()
        .catch((gcErr) => this.opts.log.warn({ err: gcErr }, "garbage collection after a failed import"));
      throw err;
    }
  }

  /** Writes images to an OCI archive on the node; returns its size in bytes. */
  exportArchive(ns: string, path: string, images: ExportImage[]): Promise<number> {
    return exportArchive({ content: this.opts.content, platform: this.platform }, { ns, path, images });
  }

  /** The image's id, size, chain and config; NotFound if its content is missing here. */
  async describe(ns: string, image: Image): Promise<ImageDescription> {
    const key = `${ns}/${image.target.digest}`;
    const cached = this.described.get(key);
    if (cached) return cached;
    const { content } = this.opts;
    let desc = image.target;
    let size = 0;
    while (isIndexType(desc.mediaType)) {
      size += desc.size;
      desc = selectManifest(parseIndex(desc, await content.readBlob(ns, desc.digest)), this.platform);
    }
    const manifest = parseManifest(desc, await content.readBlob(ns, desc.digest));
    const config = parseImageConfig(manifest.config, await content.readBlob(ns, manifest.config.digest));
    size += desc.size + manifest.config.size + manifest.layers.reduce((n, l) => n + l.size, 0);
    const d: ImageDescription = {
      id: manifest.config.digest,
      manifest: desc,
      config,
      chainId: chainIds(config.rootfs.diff_ids).at(-1) ?? "",
      size,
    };
    this.described.set(key, d);
    return d;
  }

  /**
   * Deletes image records by name (a missing one is fine) and the leases that killed pulls
   * of them left, then collects what they held.
   */
  async remove(ns: string, names: string[]): Promise<void> {
    for (const name of names) {
      await this.opts.images.delete(ns, name).catch((err) => {
        if (!isNotFound(err)) throw err;
      });
      await dropLeasesOfKilledPulls(this.opts, ns, name);
    }
    await this.opts.gc.collect();
  }
}
