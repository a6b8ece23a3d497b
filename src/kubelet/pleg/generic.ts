// pkg/kubelet/pleg/generic.go (kubelet 1.28): the generic PLEG. It lists every sandbox and container
// the runtime has (one ListPodSandbox and one ListContainers), compares each container's state with
// the previous list, reads the full status only of pods whose containers changed into the cache, and
// then tells the sync loop what changed.
//
// A container created and removed between two lists is never seen; the kubelet's periodic resync is
// the safety net for that.

import pLimit from "p-limit";
import { PodSandboxState } from "../../cri/gen/runtime/v1/api_pb.js";
import { formatDuration } from "../../lib/duration.js";
import { BerthError } from "../../lib/errdefs.js";
import type { Logger } from "../../lib/log.js";
import { Loop } from "../../lib/wait.js";
import type { Cache } from "../container/cache.js";
import type { Clock } from "../container/helpers.js";
import { ContainerState, type PodStatus } from "../container/runtime.js";
import type { PodRuntime, RuntimeContainer, RuntimePod } from "../kuberuntime/pod-status.js";
import type { KubeletMetrics } from "../metrics/metrics.js";
import {
  DefaultRelistDuration,
  EventChannel,
  PlegChannelCapacity,
  PodLifeCycleEventType,
  type PodLifecycleEvent,
  type PodLifecycleEventGenerator,
  type RelistDuration,
} from "./pleg.js";

/** kubecontainer.State plus "not there", so that appearing and disappearing are transitions too. */
type PlegContainerState = "running" | "exited" | "unknown" | "non-existent";

interface PodRecord {
  old?: RuntimePod;
  current?: RuntimePod;
}

export interface GenericPLEGOptions {
  relistDuration?: RelistDuration;
  channelCapacity?: number;
  clock?: Clock;
  metrics?: Pick<
    KubeletMetrics,
    "plegRelistDuration" | "plegRelistInterval" | "updateRunningPodAndContainerMetrics"
  >;
  log: Logger;
}

export class GenericPLEG implements PodLifecycleEventGenerator {
  private readonly eventChannel: EventChannel<PodLifecycleEvent>;
  private readonly podRecords = new Map<string, PodRecord>();
  /** Pods whose status could not be read during a relist; read again at the next one. */
  private podsToReinspect = new Map<string, RuntimePod>();
  private relistTime?: Date;
  private readonly relistDuration: RelistDuration;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly metrics: GenericPLEGOptions["metrics"];
  // One relist at a time, and one status read into the cache at a time (a relist's and updateCache's).
  private readonly relistLock = pLimit(1);
  private readonly podCacheLock = pLimit(1);
  private running?: Loop;

  constructor(
    private readonly runtime: PodRuntime,
    private readonly cache: Cache,
    opts: GenericPLEGOptions,
  ) {
    this.relistDuration = opts.relistDuration ?? DefaultRelistDuration;
    this.eventChannel = new EventChannel(opts.channelCapacity ?? PlegChannelCapacity);
    this.clock = opts.clock ?? { now: () => Date.now() };
    this.log = opts.log;
    this.metrics = opts.metrics;
  }

  watch(): EventChannel<PodLifecycleEvent> {
    return this.eventChannel;
  }

  /** Relists now and then every relist period after the previous relist finished, until stop(). */
  start(): void {
    if (this.running) return;
    this.running = new Loop(() => this.relist(), this.relistDuration.relistPeriodMs);
  }

  async stop(): Promise<void> {
    const running = this.running;
    this.running = undefined;
    await running?.stop();
  }

  healthy(): { ok: boolean; error?: BerthError } {
    if (this.relistTime === undefined) {
      return { ok: false, error: new BerthError("Unavailable", "pleg has yet to be successful") };
    }
    const elapsedMs = this.clock.now() - this.relistTime.getTime();
    if (elapsedMs > this.relistDuration.relistThresholdMs) {
      return {
        ok: false,
        error: new BerthError(
          "Unavailable",
          `pleg was last seen active ${formatDuration(elapsedMs)} ago; threshold is ${formatDuration(this.relistDuration.relistThresholdMs)}`,
        ),
      };
    }
    return { ok: true };
  }

  /** Lists the runtime, updates the cache for pods that changed and sends their events; never throws. */
  relist(): Promise<void> {
    return this.relistLock(async () => {
      // The interval runs from the start of the last successful relist, the duration over any relist.
      const started = this.clock.now();
      if (this.relistTime)
        this.metrics?.plegRelistInterval.observe((started - this.relistTime.getTime()) / 1000);
      await this.relistOnce();
      this.metrics?.plegRelistDuration.observe((this.clock.now() - started) / 1000);
    });
  }

  updateCache(pod: RuntimePod, pid: string): Promise<{ error?: unknown; updated: boolean }> {
    return this.updateCacheOf(pod, pid);
  }

  private async relistOnce(): Promise<void> {
    this.log.trace("GenericPLEG: Relisting");
    const timestamp = new Date(this.clock.now());
    let pods: RuntimePod[];
    try {
      pods = await this.runtime.getPods(true);
    } catch (err) {
      this.log.error({ err }, "GenericPLEG: Unable to retrieve pods");
      return;
    }
    this.relistTime = timestamp;
    this.metrics?.updateRunningPodAndContainerMetrics(pods);
    this.setCurrent(pods);

    const eventsByPodID = new Map<string, PodLifecycleEvent[]>();
    for (const [pid, record] of this.podRecords) {
      for (const c of getContainersFromPods(record.old, record.current)) {
        for (const e of computeEvents(pid, record.old, record.current, c.id.id)) {
          const list = eventsByPodID.get(e.id) ?? [];
          list.push(e);
          eventsByPodID.set(e.id, list);
        }
      }
    }

    const needsReinspection = new Map<string, RuntimePod>();
    for (const [pid, events] of eventsByPodID) {
      const pod = this.podRecords.get(pid)?.current;
      // A pod whose status could not be read keeps its old record, so the change shows again next time.
      const { error } = await this.updateCacheOf(pod, pid);
      if (error !== undefined) {
        this.log.debug(
          { err: error, pod: pod && `${pod.namespace}/${pod.name}` },
          "PLEG: Ignoring events for pod",
        );
        if (pod) needsReinspection.set(pid, pod);
        continue;
      }
      this.podsToReinspect.delete(pid);
      this.advanceRecord(pid);
      for (const e of events) {
        // Unknown states say nothing anyone acts on.
        if (e.type === PodLifeCycleEventType.ContainerChanged) continue;
        if (!this.eventChannel.trySend(e))
          this.log.error("Event channel is full, discard this relist() cycle event");
        if (e.type === PodLifeCycleEventType.ContainerDied && pod) {
          const exited = this.cache.get(pid).status?.containerStatuses.find((s) => s.id.id === e.data);
          if (exited) {
            this.log.info(
              { podID: pid, containerID: e.data, exitCode: exited.exitCode },
              "Generic (PLEG): container finished",
            );
          }
        }
      }
    }

    for (const [pid, pod] of this.podsToReinspect) {
      const { error } = await this.updateCacheOf(pod, pid);
      if (error !== undefined) {
        this.log.debug({ err: error, pod: `${pod.namespace}/${pod.name}` }, "PLEG: pod failed reinspection");
        needsReinspection.set(pid, pod);
      }
    }
    // Only now is every pod that changed up to date.
    this.cache.updateTime(timestamp);
    this.podsToReinspect = needsReinspection;
  }

  /** Reads the pod's status into the cache; a pod gone from the runtime is dropped from it. */
  private updateCacheOf(
    pod: RuntimePod | undefined,
    pid: string,
  ): Promise<{ error?: unknown; updated: boolean }> {
    if (pod === undefined) {
      this.log.debug({ podUID: pid }, "PLEG: Delete status for pod");
      this.cache.delete(pid);
      return Promise.resolve({ updated: true });
    }
    return this.podCacheLock(async () => {
      const timestamp = new Date(this.clock.now());
      let status: PodStatus | undefined;
      let error: unknown;
      try {
        status = await this.runtime.getPodStatus(pod.id, pod.name, pod.namespace);
        this.log.debug({ pod: `${pod.namespace}/${pod.name}` }, "PLEG: Write status");
        // Network teardown may race the last status read; the API keeps showing a finished pod's IP.
        status.ips = this.getPodIPs(pid, status);
      } catch (err) {
        error = err;
        this.log.error({ err, pod: `${pod.namespace}/${pod.name}` }, "PLEG: Write status");
      }
      const updated = this.cache.set(pod.id, status, error, timestamp);
      return error === undefined ? { updated } : { error, updated };
    });
  }

  /** getPodIPs: the new IPs, or the cached ones when the new status has none and no sandbox is ready. */
  private getPodIPs(pid: string, status: PodStatus): string[] {
    if (status.ips.length > 0) return status.ips;
    const old = this.cache.get(pid);
    if (old.error !== undefined || !old.status?.ips.length) return status.ips;
    if (status.sandboxStatuses.some((s) => s.state === PodSandboxState.SANDBOX_READY)) return status.ips;
    return old.status.ips;
  }

  private setCurrent(pods: RuntimePod[]): void {
    for (const r of this.podRecords.values()) r.current = undefined;
    for (const pod of pods) {
      const r = this.podRecords.get(pod.id);
      if (r) r.current = pod;
      else this.podRecords.set(pod.id, { current: pod });
    }
  }

  /** podRecords.update: the current list becomes the old one; a pod no longer listed is forgotten. */
  private advanceRecord(pid: string): void {
    const r = this.podRecords.get(pid);
    if (r === undefined) return;
    if (r.current === undefined) {
      this.podRecords.delete(pid);
      return;
    }
    r.old = r.current;
    r.current = undefined;
  }
}

/** Every container and sandbox in either list, once each. */
function getContainersFromPods(...pods: (RuntimePod | undefined)[]): RuntimeContainer[] {
  const seen = new Set<string>();
  const out: RuntimeContainer[] = [];
  for (const p of pods) {
    // Sandboxes are followed as containers.
    for (const c of [...(p?.containers ?? []), ...(p?.sandboxes ?? [])]) {
      if (seen.has(c.id.id)) continue;
      seen.add(c.id.id);
      out.push(c);
    }
  }
  return out;
}

function computeEvents(
  pid: string,
  oldPod: RuntimePod | undefined,
  newPod: RuntimePod | undefined,
  cid: string,
): PodLifecycleEvent[] {
  return generateEvents(
    oldPod?.id ?? newPod?.id ?? pid,
    cid,
    getContainerState(oldPod, cid),
    getContainerState(newPod, cid),
  );
}

function generateEvents(
  id: string,
  cid: string,
  oldState: PlegContainerState,
  newState: PlegContainerState,
): PodLifecycleEvent[] {
  if (newState === oldState) return [];
  const event = (type: PodLifeCycleEventType): PodLifecycleEvent => ({ id, type, data: cid });
  switch (newState) {
    case "running":
      return [event(PodLifeCycleEventType.ContainerStarted)];
    case "exited":
      return [event(PodLifeCycleEventType.ContainerDied)];
    case "unknown":
      return [event(PodLifeCycleEventType.ContainerChanged)];
    case "non-existent":
      // A container removed without being seen dead died first.
      return oldState === "exited"
        ? [event(PodLifeCycleEventType.ContainerRemoved)]
        : [event(PodLifeCycleEventType.ContainerDied), event(PodLifeCycleEventType.ContainerRemoved)];
  }
}

function getContainerState(pod: RuntimePod | undefined, cid: string): PlegContainerState {
  const c = pod?.containers.find((x) => x.id.id === cid) ?? pod?.sandboxes.find((x) => x.id.id === cid);
  return c === undefined ? "non-existent" : convertState(c.state);
}

/** The kubelet does not act on "created" yet, so it counts as unknown. */
function convertState(state: ContainerState): PlegContainerState {
  switch (state) {
    case ContainerState.Running:
      return "running";
    case ContainerState.Exited:
      return "exited";
    default:
      return "unknown";
  }
}
