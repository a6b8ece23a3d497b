// pkg/kubelet/container/cache.go (kubelet 1.28): the PLEG writes each pod's status here with the time
// it started reading it; pod workers wait for a status newer than their last sync before syncing again.
import { BerthError } from "../../lib/errdefs.js";
import type { PodStatus } from "./runtime.js";

/** A pod's cached status, or the error the runtime answered instead. */
export interface CacheEntry {
  status?: PodStatus;
  error?: unknown;
}

interface Data extends CacheEntry {
  modified: Date;
}

interface Subscriber {
  minTime: Date;
  resolve(entry: CacheEntry): void;
}

/**
 * The pod status cache. A pod the cache has nothing for has no sandbox or container in the runtime
 * (as of the last relist), so it reads as an empty status rather than a miss.
 */
export class Cache {
  private readonly pods = new Map<string, Data>();
  /** When the whole cache was last known current: every pod's entry is at least this fresh. */
  private timestamp?: Date;
  private readonly subscribers = new Map<string, Subscriber[]>();

  get(id: string): CacheEntry {
    const { status, error } = this.entry(id);
    return error === undefined ? { status } : { status, error };
  }

  /**
   * Waits until the cache holds the pod's status from after `minTime`, either its own entry or because
   * the whole cache was refreshed after it. Aborting the signal rejects with a Canceled error.
   */
  getNewerThan(id: string, minTime: Date, signal?: AbortSignal): Promise<CacheEntry> {
    const ready = this.getIfNewerThan(id, minTime);
    if (ready !== undefined) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(canceled(id));
        return;
      }
      const onAbort = () => {
        this.unsubscribe(id, sub);
        reject(canceled(id));
      };
      const sub: Subscriber = {
        minTime,
        resolve: (entry) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(entry);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      const list = this.subscribers.get(id) ?? [];
      list.push(sub);
      this.subscribers.set(id, list);
    });
  }

  /** Records the pod's status (or the error reading it) as read at `timestamp`; always taken with the generic PLEG. */
  set(id: string, status: PodStatus | undefined, error: unknown, timestamp: Date): boolean {
    this.pods.set(id, { status, error, modified: timestamp });
    this.notify(id, timestamp);
    return true;
  }

  delete(id: string): void {
    this.pods.delete(id);
  }

  /** Marks the whole cache current as of `timestamp`, after a relist has updated every pod that changed. */
  updateTime(timestamp: Date): void {
    this.timestamp = timestamp;
    for (const id of [...this.subscribers.keys()]) this.notify(id, timestamp);
  }

  private entry(id: string): Data {
    return this.pods.get(id) ?? { status: emptyStatus(id), modified: new Date(0) };
  }

  private getIfNewerThan(id: string, minTime: Date): CacheEntry | undefined {
    const d = this.pods.get(id);
    const globalTimestampIsNewer = this.timestamp !== undefined && this.timestamp > minTime;
    if (d === undefined) return globalTimestampIsNewer ? this.get(id) : undefined;
    return d.modified > minTime || globalTimestampIsNewer ? this.get(id) : undefined;
  }

  private notify(id: string, timestamp: Date): void {
    const list = this.subscribers.get(id);
    if (list === undefined) return;
    const waiting = list.filter((s) => timestamp < s.minTime);
    for (const s of list) if (!(timestamp < s.minTime)) s.resolve(this.get(id));
    if (waiting.length === 0) this.subscribers.delete(id);
    else this.subscribers.set(id, waiting);
  }

  private unsubscribe(id: string, sub: Subscriber): void {
    const rest = (this.subscribers.get(id) ?? []).filter((s) => s !== sub);
    if (rest.length === 0) this.subscribers.delete(id);
    else this.subscribers.set(id, rest);
  }
}

function emptyStatus(id: string): PodStatus {
  return {
    id,
    name: "",
    namespace: "",
    ips: [],
    containerStatuses: [],
    sandboxStatuses: [],
    timeStamp: new Date(0),
  };
}

function canceled(id: string): BerthError {
  return new BerthError("Canceled", `waiting for a newer status of pod ${id} was canceled`);
}
