// Per-blob pull progress, published to whoever watches a reference (berth's own
// PullProgress stream; CRI has none). Cheap when nobody listens: a pull only updates a map.
import { EventEmitter, on } from "node:events";
import { messageOf } from "../../lib/errdefs.js";

export type BlobState = "waiting" | "downloading" | "downloaded" | "exists" | "unpacking" | "unpacked";

export interface BlobProgress {
  digest: string;
  mediaType: string;
  size: number;
  offset: number;
  state: BlobState;
}

export interface PullProgressEvent {
  /** The normalized reference being pulled. */
  image: string;
  blobs: BlobProgress[];
  done: boolean;
  error?: string;
}

/** One pull's blobs, in the order first seen. */
export class PullTracker {
  private readonly blobs = new Map<string, BlobProgress>();
  private timer?: NodeJS.Timeout;

  constructor(
    readonly image: string,
    private readonly publish: (e: PullProgressEvent) => void,
    private readonly intervalMs: number,
  ) {}

  update(desc: { digest: string; mediaType: string; size: number }, change: Partial<BlobProgress>): void {
    const b = this.blobs.get(desc.digest) ?? { ...desc, offset: 0, state: "waiting" as BlobState };
    this.blobs.set(desc.digest, { ...b, ...change });
    // Byte counts change per chunk: coalesce them; state changes go out at once.
    if (change.state !== undefined) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.intervalMs);
  }

  finish(error?: unknown): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.publish({
      image: this.image,
      blobs: this.snapshot(),
      done: true,
      error: error ? messageOf(error) : undefined,
    });
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.publish({ image: this.image, blobs: this.snapshot(), done: false });
  }

  private snapshot(): BlobProgress[] {
    return [...this.blobs.values()].map((b) => ({ ...b }));
  }
}

export class ProgressHub {
  private readonly events = new EventEmitter().setMaxListeners(0);

  constructor(private readonly intervalMs = 100) {}

  /** A tracker for a pull of `image` (normalized), publishing to its watchers. */
  track(image: string): PullTracker {
    return new PullTracker(image, (e) => this.events.emit(image, e), this.intervalMs);
  }

  /**
   * Events for pulls of `image` until one finishes, or `signal` aborts. The first event,
   * empty, says the watch is in place: a client can start the pull after receiving it.
   */
  async *watch(image: string, signal?: AbortSignal): AsyncGenerator<PullProgressEvent> {
    const events = on(this.events, image, { signal });
    yield { image, blobs: [], done: false };
    try {
      for await (const [event] of events) {
        yield event as PullProgressEvent;
        if ((event as PullProgressEvent).done) return;
      }
    } catch (err) {
      if ((err as Error).name !== "AbortError") throw err;
    }
  }
}
