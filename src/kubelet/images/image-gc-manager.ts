// pkg/kubelet/images/image_gc_manager.go (kubelet 1.28), reading the image filesystem stats as the
// CRI stats provider gives them: the kubelet keeps a record of every image on the node —
// when it first saw it and when it last saw a container use it — and when the image filesystem
// is used at or above the high threshold it removes unused images, least recently used first,
// until usage is back at the low threshold. An image younger than the minimum age, one in use by
// any container (running or not) and the sandbox image are never removed.
import type { ImageServiceClient } from "../../cri/remote-image.js";
import { formatDuration } from "../../lib/duration.js";
import { BerthError, invalidArgument, messageOf, wrap } from "../../lib/errdefs.js";
import type { Logger } from "../../lib/log.js";
import { until } from "../../lib/wait.js";
import type { KubeEvent } from "../events/event-recorder.js";
import type { RuntimePod } from "../kuberuntime/pod-status.js";

/** ImageGCPolicy: the band image GC keeps the image filesystem in. */
export interface ImageGCPolicy {
  /** Usage at or above this percentage starts a collection. */
  highThresholdPercent: number;
  /** A collection frees space down to this percentage. */
  lowThresholdPercent: number;
  /** An image first seen less than this long ago (milliseconds) is never removed. */
  minAgeMs: number;
}

/** container.Image: what image GC reads of a listed image. */
export interface Image {
  id: string;
  /** Bytes. */
  size: number;
  /** The runtime asks for it to be kept. */
  pinned: boolean;
}

/** The kubecontainer.Runtime calls image GC makes. */
export interface ImageGCRuntime {
  listImages(): Promise<Image[]>;
  /** GetPods(all): every pod with all its containers, running or not. */
  getPods(all: boolean): Promise<RuntimePod[]>;
  /** GetImageRef: the image's id, "" when the runtime does not have it. */
  getImageRef(image: string): Promise<string>;
  removeImage(id: string): Promise<void>;
}

/** statsapi.FsStats, the fields image GC reads; a field the runtime or the filesystem did not give is absent. */
export interface FsStats {
  usedBytes?: number;
  capacityBytes?: number;
  availableBytes?: number;
}

/** StatsProvider: the stats of the image filesystem. */
export interface StatsProvider {
  imageFsStats(): Promise<FsStats>;
}

/** The events image GC records on the node (pkg/kubelet/events). */
export const ImageGCEventReason = {
  InvalidDiskCapacity: "InvalidDiskCapacity",
  FreeDiskSpaceFailed: "FreeDiskSpaceFailed",
} as const;

export type NodeEventRecorder = (event: Omit<KubeEvent, "object">) => void;

export interface ImageGCManagerOptions {
  runtime: ImageGCRuntime;
  statsProvider: StatsProvider;
  recorder: NodeEventRecorder;
  policy: ImageGCPolicy;
  /** The pod sandbox image (--pod-infra-container-image): always counted as in use. */
  sandboxImage: string;
  log: Logger;
  /** The clock, in milliseconds since the epoch; tests move it by hand. */
  now?: () => number;
}

/** How often the records are refreshed between collections (upstream's image detection period). */
export const detectImagesPeriodMs = 5 * 60_000;

/** imageRecord: times in milliseconds since the epoch; 0 is "long ago" (upstream's zero time). */
interface ImageRecord {
  firstDetected: number;
  lastUsed: number;
  size: number;
  pinned: boolean;
}

/** NewImageGCManager: thresholds must lie in [0, 100] with low at most high. */
export function newImageGCManager(o: ImageGCManagerOptions): ImageGCManager {
  const { highThresholdPercent: high, lowThresholdPercent: low } = o.policy;
  if (high < 0 || high > 100)
    throw invalidArgument(`invalid HighThresholdPercent ${high}, must be in range [0-100]`);
  if (low < 0 || low > 100)
    throw invalidArgument(`invalid LowThresholdPercent ${low}, must be in range [0-100]`);
  if (low > high) {
    throw invalidArgument(`LowThresholdPercent ${low} can not be higher than HighThresholdPercent ${high}`);
  }
  return new ImageGCManager(o);
}

export class ImageGCManager {
  private readonly imageRecords = new Map<string, ImageRecord>();
  private initialized = false;
  private readonly now: () => number;

  constructor(private readonly o: ImageGCManagerOptions) {
    this.now = o.now ?? Date.now;
  }

  /**
   * Start: refreshes the records until `signal` aborts. The first detection dates every image
   * already on the node as seen long ago, so that a kubelet restart does not make them young again.
   */
  start(signal: AbortSignal): Promise<void> {
    return until(
      async () => {
        try {
          await this.detectImages(this.initialized ? this.now() : 0);
          this.initialized = true;
        } catch (err) {
          this.o.log.info({ err: messageOf(err) }, "Failed to monitor images");
        }
      },
      detectImagesPeriodMs,
      signal,
    );
  }

  /**
   * detectImages: records images first seen at `detectTime`, marks the ones containers use as used
   * now, and forgets images no longer on the node. The ids in use.
   */
  async detectImages(detectTime: number): Promise<Set<string>> {
    const imagesInUse = new Set<string>();
    // The sandbox image is always in use, whether or not a sandbox runs now.
    const sandboxRef = await this.o.runtime.getImageRef(this.o.sandboxImage).catch(() => "");
    if (sandboxRef !== "") imagesInUse.add(sandboxRef);
    const images = await this.o.runtime.listImages();
    const pods = await this.o.runtime.getPods(true);
    for (const pod of pods) {
      for (const c of pod.containers) {
        this.o.log.trace(
          { pod: `${pod.namespace}/${pod.name}`, container: c.name, imageID: c.imageID },
          "Container uses image",
        );
        imagesInUse.add(c.imageID);
      }
    }
    const now = this.now();
    const current = new Set<string>();
    for (const image of images) {
      current.add(image.id);
      let record = this.imageRecords.get(image.id);
      if (!record) {
        record = { firstDetected: detectTime, lastUsed: 0, size: 0, pinned: false };
        this.imageRecords.set(image.id, record);
      }
      if (imagesInUse.has(image.id)) record.lastUsed = now;
      record.size = image.size;
      record.pinned = image.pinned;
    }
    for (const id of this.imageRecords.keys()) if (!current.has(id)) this.imageRecords.delete(id);
    return imagesInUse;
  }

  /**
   * GarbageCollect: when the image filesystem is used at or above the high threshold, frees enough
   * to bring it to the low one; failing to find that much is an error and a FreeDiskSpaceFailed event.
   */
  async garbageCollect(): Promise<void> {
    const fsStats = await this.o.statsProvider.imageFsStats();
    const capacity = fsStats.capacityBytes ?? 0;
    let available = fsStats.availableBytes ?? 0;
    if (available > capacity) {
      this.o.log.info({ available, capacity }, "Availability is larger than capacity");
      available = capacity;
    }
    if (capacity === 0) {
      const err = new BerthError("Unknown", "invalid capacity 0 on image filesystem");
      this.o.recorder({
        type: "Warning",
        reason: ImageGCEventReason.InvalidDiskCapacity,
        message: err.message,
      });
      throw err;
    }
    const { highThresholdPercent: high, lowThresholdPercent: low } = this.o.policy;
    // Integer percentages, as upstream computes them.
    const usagePercent = 100 - Math.trunc((available * 100) / capacity);
    if (usagePercent < high) return;
    const amountToFree = Math.trunc((capacity * (100 - low)) / 100) - available;
    this.o.log.info(
      { usage: usagePercent, highThreshold: high, amountToFree, lowThreshold: low },
      "Disk usage on image filesystem is over the high threshold, trying to free bytes down to the low threshold",
    );
    const freed = await this.freeSpace(amountToFree, this.now());
    if (freed < amountToFree) {
      const err = new BerthError(
        "Unknown",
        `Failed to garbage collect required amount of images. Attempted to free ${amountToFree} bytes, but only found ${freed} bytes eligible to free.`,
      );
      this.o.recorder({
        type: "Warning",
        reason: ImageGCEventReason.FreeDiskSpaceFailed,
        message: err.message,
      });
      throw err;
    }
  }

  /** DeleteUnusedImages: every image that may go, goes. */
  async deleteUnusedImages(): Promise<void> {
    this.o.log.info("Attempting to delete unused images");
    await this.freeSpace(Number.MAX_SAFE_INTEGER, this.now());
  }

  /**
   * freeSpace: removes unused, unpinned images old enough, least recently used first (ties: first
   * detected first), until `bytesToFree` are freed. The bytes freed; failed removals are reported
   * together after the others were tried.
   */
  async freeSpace(bytesToFree: number, freeTime: number): Promise<number> {
    const imagesInUse = await this.detectImages(freeTime);
    const candidates: (ImageRecord & { id: string })[] = [];
    for (const [id, record] of this.imageRecords) {
      if (imagesInUse.has(id)) {
        this.o.log.trace({ imageID: id }, "Image ID is being used");
        continue;
      }
      if (record.pinned) {
        this.o.log.trace({ imageID: id }, "Image is pinned, skipping garbage collection");
        continue;
      }
      candidates.push({ id, ...record });
    }
    candidates.sort((a, b) =>
      a.lastUsed === b.lastUsed ? a.firstDetected - b.firstDetected : a.lastUsed - b.lastUsed,
    );
    const deletionErrors: string[] = [];
    let spaceFreed = 0;
    for (const image of candidates) {
      // Images in use were just given a newer lastUsed.
      if (image.lastUsed >= freeTime) {
        this.o.log.trace(
          { imageID: image.id },
          "Image ID was used too recently, not eligible for garbage collection",
        );
        continue;
      }
      // Just pulled, perhaps for a container about to start.
      const age = freeTime - image.firstDetected;
      if (age < this.o.policy.minAgeMs) {
        this.o.log.trace(
          { imageID: image.id, age: formatDuration(age), minAge: formatDuration(this.o.policy.minAgeMs) },
          "Image ID's age is less than the policy's minAge, not eligible for garbage collection",
        );
        continue;
      }
      this.o.log.info({ imageID: image.id, size: image.size }, "Removing image to free bytes");
      try {
        await this.o.runtime.removeImage(image.id);
      } catch (err) {
        deletionErrors.push(messageOf(err));
        continue;
      }
      this.imageRecords.delete(image.id);
      spaceFreed += image.size;
      if (spaceFreed >= bytesToFree) break;
    }
    if (deletionErrors.length > 0) {
      throw new BerthError(
        "Unknown",
        `wanted to free ${bytesToFree} bytes, but freed ${spaceFreed} bytes space with errors in image deletion: [${deletionErrors.join(", ")}]`,
      );
    }
    return spaceFreed;
  }
}

/** kuberuntime_image.go ListImages, GetImageRef and RemoveImage over the CRI image service. */
export function criImageGCRuntime(
  images: ImageServiceClient,
  getPods: (all: boolean) => Promise<RuntimePod[]>,
): ImageGCRuntime {
  return {
    listImages: async () =>
      (await images.listImages({})).images.map((i) => ({ id: i.id, size: Number(i.size), pinned: i.pinned })),
    getPods,
    getImageRef: async (image) => (await images.imageStatus({ image: { image } })).image?.id ?? "",
    removeImage: async (id) => {
      await images.removeImage({ image: { image: id } }).catch((err) => {
        throw wrap(err, `failed to remove image ${JSON.stringify(id)}`);
      });
    },
  };
}
