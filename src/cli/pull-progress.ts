// Following a pull through berth.v1.Images PullProgress, the stream berth's runtime offers
// beside CRI: subscribed before PullImage is called, so no event of the pull is missed.
import { setTimeout as sleep } from "node:timers/promises";
import type { PullProgressEvent } from "../cri/gen/berth/v1/images_pb.js";
import type { BerthImagesClient } from "../cri/remote-berth-images.js";
import { kindOf } from "../lib/errdefs.js";

export interface ProgressWatch {
  /** Waits up to `waitMs` for the pull's last event, then unsubscribes. */
  stop(waitMs: number): Promise<void>;
}

/**
 * Subscribes to the progress of pulls of `image` and returns once the server has the
 * subscription in place (its first, empty event); undefined when the runtime has no such
 * stream (containerd).
 */
export async function watchPullProgress(
  client: BerthImagesClient,
  image: string,
  onEvent: (e: PullProgressEvent) => void,
): Promise<ProgressWatch | undefined> {
  const abort = new AbortController();
  const events = client
    .pullProgress({ image }, { signal: abort.signal, timeoutMs: 0 })
    [Symbol.asyncIterator]();
  try {
    await events.next();
  } catch (err) {
    abort.abort();
    if (kindOf(err) === "NotImplemented") return undefined;
    throw err;
  }
  const followed = (async () => {
    for (let next = await events.next(); !next.done; next = await events.next()) {
      onEvent(next.value);
      if (next.value.done) return;
    }
  })().catch(() => {
    // The bars are a nicety: a broken stream leaves the pull alone.
  });
  return {
    async stop(waitMs) {
      await Promise.race([followed, sleep(waitMs)]);
      abort.abort();
      await followed;
    },
  };
}
