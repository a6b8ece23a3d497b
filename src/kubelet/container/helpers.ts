// pkg/kubelet/container/helpers.go ShouldContainerBeRestarted (kubelet 1.28), with the crash-loop
// back-off the kubelet applies before a restart: client-go's flowcontrol.Backoff, the key
// kuberuntime/helpers.go getStableKey builds, and kuberuntime_manager.go doBackOff.

import type { Container, Pod } from "kubernetes-types/core/v1.js";
import { formatDuration } from "../../lib/duration.js";
import { hashContainer } from "./hash.js";
import { ContainerState, findContainerStatusByName, type PodStatus } from "./runtime.js";
import { ErrCrashLoopBackOff } from "./sync-result.js";

/** Whether a container that is not running should be started (again), by the pod's restartPolicy. */
export function shouldContainerBeRestarted(container: Container, pod: Pod, podStatus: PodStatus): boolean {
  // A pod being deleted only winds down.
  if (pod.metadata?.deletionTimestamp) return false;
  const status = findContainerStatusByName(podStatus, container.name);
  // Never started, or every instance was garbage collected.
  if (status === undefined) return true;
  if (status.state === ContainerState.Running) return false;
  // Created but not started, or lost track of: the runtime may have failed it, so go again.
  if (status.state === ContainerState.Unknown || status.state === ContainerState.Created) return true;
  const policy = pod.spec?.restartPolicy;
  if (policy === "Never") return false;
  if (policy === "OnFailure" && status.exitCode === 0) return false;
  return true;
}

/** The kubelet's crash-loop back-off: 10 s after the first failure, doubling up to 5 min. */
export const backOffPeriodMs = 10_000;
export const maxContainerBackOffMs = 300_000;

/** Milliseconds since the epoch; tests pass a clock they move by hand. */
export interface Clock {
  now(): number;
}

const systemClock: Clock = { now: () => Date.now() };

interface BackoffEntry {
  backoffMs: number;
  lastUpdateMs: number;
}

/**
 * client-go's flowcontrol.Backoff without jitter (the kubelet uses none): a delay per key that starts
 * at `initialMs`, doubles with each failure up to `maxMs`, and starts over once a key has been quiet
 * for twice `maxMs`.
 */
export class Backoff {
  private readonly entries = new Map<string, BackoffEntry>();

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
    private readonly clock: Clock = systemClock,
  ) {}

  /** The current delay for `id`; 0 when it has none. */
  get(id: string): number {
    return this.entries.get(id)?.backoffMs ?? 0;
  }

  /** Records a failure at `eventTimeMs`: the first delay, or the next doubling. */
  next(id: string, eventTimeMs: number): void {
    let entry = this.entries.get(id);
    if (entry === undefined || this.hasExpired(eventTimeMs, entry.lastUpdateMs)) {
      entry = { backoffMs: this.initialMs, lastUpdateMs: 0 };
      this.entries.set(id, entry);
    } else {
      entry.backoffMs = Math.min(entry.backoffMs * 2, this.maxMs);
    }
    entry.lastUpdateMs = this.clock.now();
  }

  reset(id: string): void {
    this.entries.delete(id);
  }

  /** Whether less than the current delay has passed since `eventTimeMs`. */
  isInBackOffSince(id: string, eventTimeMs: number): boolean {
    const entry = this.entries.get(id);
    if (entry === undefined || this.hasExpired(eventTimeMs, entry.lastUpdateMs)) return false;
    return this.clock.now() - eventTimeMs < entry.backoffMs;
  }

  /** Whether `eventTimeMs` falls within the current delay after the last recorded failure. */
  isInBackOffSinceUpdate(id: string, eventTimeMs: number): boolean {
    const entry = this.entries.get(id);
    if (entry === undefined || this.hasExpired(eventTimeMs, entry.lastUpdateMs)) return false;
    return eventTimeMs - entry.lastUpdateMs < entry.backoffMs;
  }

  /** Drops keys not updated for twice the maximum; the kubelet calls this during housekeeping. */
  gc(): void {
    const now = this.clock.now();
    for (const [id, entry] of this.entries) {
      if (now - entry.lastUpdateMs > this.maxMs * 2) this.entries.delete(id);
    }
  }

  deleteEntry(id: string): void {
    this.entries.delete(id);
  }

  /** Quiet for twice the maximum counts as recovered, so the delay starts over. */
  private hasExpired(eventTimeMs: number, lastUpdateMs: number): boolean {
    return eventTimeMs - lastUpdateMs > this.maxMs * 2;
  }
}

/**
 * The back-off key of a pod's container. It includes the spec's hash, so a changed container starts
 * with a fresh delay.
 */
export function getStableKey(pod: Pod, container: Container): string {
  const m = pod.metadata;
  return `${m?.name ?? ""}_${m?.namespace ?? ""}_${m?.uid ?? ""}_${container.name}_${hashContainer(container)}`;
}

/**
 * Whether starting `container` again must wait (kuberuntime_manager.go doBackOff). Counted from the
 * finish of its latest exited instance; when not waiting, that exit is recorded as one more failure.
 * The caller records the BackOff event upstream sends with the refusal.
 */
export function doBackOff(
  pod: Pod,
  container: Container,
  podStatus: PodStatus,
  backOff: Backoff,
): { reason: typeof ErrCrashLoopBackOff; message: string } | undefined {
  const exited = podStatus.containerStatuses.find(
    (s) => s.name === container.name && s.state === ContainerState.Exited,
  );
  if (exited === undefined) return undefined;
  const finishedAtMs = exited.finishedAt?.getTime() ?? 0;
  const key = getStableKey(pod, container);
  if (backOff.isInBackOffSince(key, finishedAtMs)) {
    const m = pod.metadata;
    const podName = `${m?.name ?? ""}_${m?.namespace ?? ""}(${m?.uid ?? ""})`;
    return {
      reason: ErrCrashLoopBackOff,
      message: `back-off ${formatDuration(backOff.get(key))} restarting failed container=${container.name} pod=${podName}`,
    };
  }
  backOff.next(key, finishedAtMs);
  return undefined;
}
