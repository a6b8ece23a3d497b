// pkg/kubelet/pleg/pleg.go (kubelet 1.28): pod lifecycle events, what produces them, and the bounded
// channel they travel on to the kubelet's sync loop.
import { BerthError } from "../../lib/errdefs.js";
import type { RuntimePod } from "../kuberuntime/pod-status.js";

export const PodLifeCycleEventType = {
  /** The container is now running. */
  ContainerStarted: "ContainerStarted",
  /** The container has exited. */
  ContainerDied: "ContainerDied",
  /** The exited container is gone from the runtime. */
  ContainerRemoved: "ContainerRemoved",
  /** The pod changed in a way no single event above describes. */
  PodSync: "PodSync",
  /** The container's state is now unknown; not sent, since nothing acts on it. */
  ContainerChanged: "ContainerChanged",
} as const;
export type PodLifeCycleEventType = (typeof PodLifeCycleEventType)[keyof typeof PodLifeCycleEventType];

export interface PodLifecycleEvent {
  /** The pod's UID. */
  id: string;
  type: PodLifeCycleEventType;
  /** The runtime's id of the container (or sandbox) the event is about. */
  data: string;
}

/** How often the PLEG lists the runtime, and how long without a list makes it unhealthy. */
export interface RelistDuration {
  relistPeriodMs: number;
  relistThresholdMs: number;
}

/** The kubelet's plegRelistPeriod and plegRelistThreshold. */
export const DefaultRelistDuration: RelistDuration = {
  relistPeriodMs: 1000,
  relistThresholdMs: 3 * 60 * 1000,
};
/** The kubelet's plegChannelCapacity. */
export const PlegChannelCapacity = 1000;

/** PodLifecycleEventGenerator. */
export interface PodLifecycleEventGenerator {
  start(): void;
  /** Stops relisting; resolves once a relist in progress has finished. */
  stop(): Promise<void>;
  watch(): EventChannel<PodLifecycleEvent>;
  /** Whether the last successful relist is recent enough; the error says why not. */
  healthy(): { ok: boolean; error?: BerthError };
  /** Reads the pod's status from the runtime into the cache now; `updated` says whether the cache took it. */
  updateCache(pod: RuntimePod, pid: string): Promise<{ error?: unknown; updated: boolean }>;
}

/**
 * A bounded queue with one reader, like a buffered Go channel: a sender that finds it full drops the
 * value (trySend answers false) instead of waiting, as the PLEG drops events rather than stall.
 */
export class EventChannel<T> {
  private readonly items: T[] = [];
  private readonly receivers: ((v: T) => void)[] = [];

  constructor(readonly capacity: number) {}

  get length(): number {
    return this.items.length;
  }

  trySend(value: T): boolean {
    const receiver = this.receivers.shift();
    if (receiver !== undefined) {
      receiver(value);
      return true;
    }
    if (this.items.length >= this.capacity) return false;
    this.items.push(value);
    return true;
  }

  tryReceive(): T | undefined {
    return this.items.shift();
  }

  /** The next value, waiting for one if needed; aborting the signal rejects with a Canceled error. */
  receive(signal?: AbortSignal): Promise<T> {
    if (this.items.length > 0) return Promise.resolve(this.items.shift() as T);
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(new BerthError("Canceled", "receive canceled"));
        return;
      }
      const receiver = (v: T) => {
        signal?.removeEventListener("abort", onAbort);
        resolve(v);
      };
      const onAbort = () => {
        const i = this.receivers.indexOf(receiver);
        if (i >= 0) this.receivers.splice(i, 1);
        reject(new BerthError("Canceled", "receive canceled"));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.receivers.push(receiver);
    });
  }
}
