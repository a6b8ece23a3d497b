// Port of kubelet 1.28 pkg/kubelet/images (image_manager.go, puller.go, helpers.go, types.go) with the
// two kuberuntime_image.go calls it makes (GetImageRef, PullImage): startContainer's first step, which
// makes sure the container's image is on the node before the container is configured.

import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Container, Pod } from "kubernetes-types/core/v1.js";
import pLimit from "p-limit";
import type { ImageSpecSchema, PodSandboxConfigSchema } from "../../cri/gen/runtime/v1/api_pb.js";
import type { ImageServiceClient } from "../../cri/remote-image.js";
import { formatDuration } from "../../lib/duration.js";
import { BerthError, type ErrorKind, kindOf, messageOf } from "../../lib/errdefs.js";
import { parseNormalizedNamed } from "../../lib/reference/reference.js";
import { Backoff, backOffPeriodMs, type Clock, maxContainerBackOffMs } from "../container/helpers.js";
import {
  ErrImageInspect,
  ErrImageNeverPull,
  ErrImagePull,
  ErrImagePullBackOff,
  ErrInvalidImageName,
  ErrRegistryUnavailable,
} from "../container/sync-result.js";

type ImageSpec = MessageInitShape<typeof ImageSpecSchema>;
type PodSandboxConfig = MessageInitShape<typeof PodSandboxConfigSchema>;

/** Why ensureImageExists failed; the container's waiting reason in the pod status. */
export type ImageErrorReason =
  | typeof ErrImagePullBackOff
  | typeof ErrImageInspect
  | typeof ErrImagePull
  | typeof ErrImageNeverPull
  | typeof ErrRegistryUnavailable
  | typeof ErrInvalidImageName;

/** A failed ensureImageExists: `reason` for the SyncResult, the message for a person. */
export class ImageError extends BerthError {
  constructor(
    readonly reason: ImageErrorReason,
    message: string,
    kind: ErrorKind,
    cause?: unknown,
  ) {
    super(kind, message, { cause });
  }
}

/** The reasons of the events the image manager records (pkg/kubelet/events). */
export const ImageEventReason = {
  PullingImage: "Pulling",
  PulledImage: "Pulled",
  FailedToPullImage: "Failed",
  FailedToInspectImage: "InspectFailed",
  ErrImageNeverPullPolicy: "ErrImageNeverPull",
  BackOffPullImage: "BackOff",
} as const;
export type ImageEventReason = (typeof ImageEventReason)[keyof typeof ImageEventReason];

/** An event about a container's image; upstream records it on the container's reference in the pod. */
export interface ImageEvent {
  pod: Pod;
  container: Container;
  type: "Normal" | "Warning";
  reason: ImageEventReason;
  message: string;
}
export type ImageEventRecorder = (event: ImageEvent) => void;

export interface ImageManagerOptions {
  recorder?: ImageEventRecorder;
  /** --serialize-image-pulls: one pull at a time, the others queued (default true, as the kubelet's). */
  serializeImagePulls?: boolean;
  /** maxParallelImagePulls: a cap on pulls at once when they are not serialized; unset or < 1 is none. */
  maxParallelImagePulls?: number;
  /** registryPullQPS: pulls started per second, 0 for no limit (default 5). */
  registryPullQPS?: number;
  /** registryBurst: pulls that may start at once within registryPullQPS (default 10). */
  registryBurst?: number;
  /** The clock of the pull back-off; tests move it by hand. */
  clock?: Clock;
  /** The first back-off after a failed pull, doubling per failure up to maxBackOffMs (10 s and 5 min). */
  backOffPeriodMs?: number;
  maxBackOffMs?: number;
}

export interface EnsuredImage {
  /** The image's id in the runtime, for CreateContainer. */
  imageRef: string;
  /** What happened: the Pulled event's message. */
  message: string;
}

export interface ImageManager {
  /**
   * Makes sure the image of `container` is present, pulling it as its imagePullPolicy says.
   * Fails with an ImageError.
   */
  ensureImageExists(
    pod: Pod,
    container: Container,
    podSandboxConfig?: PodSandboxConfig,
  ): Promise<EnsuredImage>;
}

export function newImageManager(
  imageService: ImageServiceClient,
  opts: ImageManagerOptions = {},
): ImageManager {
  const clock = opts.clock ?? { now: () => Date.now() };
  const backOff = new Backoff(
    opts.backOffPeriodMs ?? backOffPeriodMs,
    opts.maxBackOffMs ?? maxContainerBackOffMs,
    clock,
  );
  const limiter = throttleImagePulling(opts.registryPullQPS ?? 5, opts.registryBurst ?? 10);
  const puller = newImagePuller(opts.serializeImagePulls ?? true, opts.maxParallelImagePulls);

  // kuberuntime's PullImage without credentials: berth has no keyring yet.
  const pullImage = async (spec: ImageSpec, sandboxConfig?: PodSandboxConfig): Promise<PullResult> => {
    const start = performance.now();
    if (limiter !== undefined && !limiter.tryAccept())
      throw new BerthError("ResourceExhausted", "pull QPS exceeded.");
    const { imageRef } = await imageService.pullImage({ image: spec, sandboxConfig });
    return { imageRef, pullDurationMs: performance.now() - start };
  };

  const ensureImageExists = async (
    pod: Pod,
    container: Container,
    podSandboxConfig?: PodSandboxConfig,
  ): Promise<EnsuredImage> => {
    const record = (type: ImageEvent["type"], reason: ImageEventReason, message: string) =>
      opts.recorder?.({ pod, container, type, reason, message });
    const name = container.image ?? "";
    const quoted = JSON.stringify(name);

    let image: string;
    try {
      image = applyDefaultImageTag(name);
    } catch (err) {
      const msg = `Failed to apply default image tag ${quoted}: ${messageOf(err)}`;
      record("Warning", ImageEventReason.FailedToInspectImage, msg);
      throw new ImageError(ErrInvalidImageName, msg, "InvalidArgument", err);
    }

    // The pod's annotations go with the image, so a runtime may pick by them (a platform, a handler).
    const spec: ImageSpec = { image, annotations: { ...pod.metadata?.annotations } };
    let imageRef: string;
    try {
      imageRef = (await imageService.imageStatus({ image: spec, verbose: false })).image?.id ?? "";
    } catch (err) {
      const msg = `Failed to inspect image ${quoted}: ${messageOf(err)}`;
      record("Warning", ImageEventReason.FailedToInspectImage, msg);
      throw new ImageError(ErrImageInspect, msg, kindOf(err), err);
    }

    const present = imageRef !== "";
    if (!shouldPullImage(container, present)) {
      if (present) {
        const msg = `Container image ${quoted} already present on machine`;
        record("Normal", ImageEventReason.PulledImage, msg);
        return { imageRef, message: msg };
      }
      const msg = `Container image ${quoted} is not present with pull policy of Never`;
      record("Warning", ImageEventReason.ErrImageNeverPullPolicy, msg);
      throw new ImageError(ErrImageNeverPull, msg, "FailedPrecondition");
    }

    // Keyed by pod and image as written, so one pod's failing pulls do not hold back another's.
    const backOffKey = `${pod.metadata?.uid ?? ""}_${name}`;
    if (backOff.isInBackOffSinceUpdate(backOffKey, clock.now())) {
      const msg = `Back-off pulling image ${quoted}`;
      record("Normal", ImageEventReason.BackOffPullImage, msg);
      throw new ImageError(ErrImagePullBackOff, msg, "Unavailable");
    }
    record("Normal", ImageEventReason.PullingImage, `Pulling image ${quoted}`);
    const start = performance.now();
    let result: PullResult;
    try {
      result = await puller(() => pullImage(spec, podSandboxConfig));
    } catch (err) {
      record(
        "Warning",
        ImageEventReason.FailedToPullImage,
        `Failed to pull image ${quoted}: ${messageOf(err)}`,
      );
      backOff.next(backOffKey, clock.now());
      throw evalCRIPullErr(container, err);
    }
    // The second duration includes the time queued behind other pulls.
    const msg = `Successfully pulled image ${quoted} in ${formatDuration(result.pullDurationMs)} (${formatDuration(performance.now() - start)} including waiting)`;
    record("Normal", ImageEventReason.PulledImage, msg);
    backOff.gc();
    return { imageRef: result.imageRef, message: msg };
  };

  return { ensureImageExists };
}

/** Whether to pull, by the container's pull policy and whether the image is already present. */
export function shouldPullImage(container: Container, imagePresent: boolean): boolean {
  switch (container.imagePullPolicy) {
    case "Always":
      return true;
    case "IfNotPresent":
      return !imagePresent;
    default:
      // Never, and an undefaulted policy, which the API server never leaves empty.
      return false;
  }
}

/**
 * Adds ":latest" to an image with neither tag nor digest. The name itself stays as written, not made
 * fully qualified, so that which registry a short name means is left to the runtime.
 */
export function applyDefaultImageTag(image: string): string {
  let named: ReturnType<typeof parseNormalizedNamed>;
  try {
    named = parseNormalizedNamed(image);
  } catch (err) {
    throw new BerthError(
      "InvalidArgument",
      `couldn't parse image name ${JSON.stringify(image)}: ${messageOf(err)}`,
      {
        cause: err,
      },
    );
  }
  return named.tag === undefined && named.digest === undefined ? `${image}:latest` : image;
}

/**
 * The reason for a failed pull. A runtime that knows the registry is down says so by starting its
 * message with "RegistryUnavailable" (CRI's errors package); the kind is lost on the wire, the text is not.
 */
export function evalCRIPullErr(container: Container, err: unknown): ImageError {
  const text = messageOf(err);
  if (text.startsWith(ErrRegistryUnavailable)) {
    const detail = text.slice(ErrRegistryUnavailable.length);
    const msg = `image pull failed for ${container.image ?? ""} because the registry is unavailable${detail}`;
    return new ImageError(ErrRegistryUnavailable, msg, "Unavailable", err);
  }
  return new ImageError(ErrImagePull, text, kindOf(err), err);
}

interface PullResult {
  imageRef: string;
  /** The CRI call alone, without the wait in the puller's queue. */
  pullDurationMs: number;
}

type ImagePuller = (pull: () => Promise<PullResult>) => Promise<PullResult>;

/**
 * The serial puller keeps one pull in flight and queues the rest, so pulls do not compete for the
 * node's bandwidth and disk; the parallel one starts each at once, up to maxParallelImagePulls.
 */
function newImagePuller(serialized: boolean, maxParallelImagePulls: number | undefined): ImagePuller {
  if (serialized) return pLimit(1);
  if (maxParallelImagePulls !== undefined && maxParallelImagePulls >= 1) return pLimit(maxParallelImagePulls);
  return (pull) => pull();
}

/**
 * client-go's token bucket (golang.org/x/time/rate) as TryAccept uses it: it starts full with `burst`
 * tokens and refills at `qps` a second; a pull takes one or is refused. A burst of 0 refuses every pull.
 */
class TokenBucket {
  private tokens: number;
  private last = performance.now();

  constructor(
    private readonly qps: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }

  tryAccept(): boolean {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.qps);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** A limit on pulls per second; none when qps is 0. */
function throttleImagePulling(qps: number, burst: number): TokenBucket | undefined {
  return qps === 0 ? undefined : new TokenBucket(qps, burst);
}
