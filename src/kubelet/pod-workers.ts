// The pod workers (pkg/kubelet/pod_workers.go): one serialized worker per pod, so that a
// pod is never synced twice at once, and the life of a pod as upstream tracks it —
// syncPod while it should run, syncTerminatingPod once it must stop (deleted, or finished
// for good), syncTerminatedPod once nothing of it runs, then forgotten. An update that
// arrives while a sync runs waits, and only the latest one is kept; a kill sticks.
// Before a sync, the worker waits until the runtime cache holds a status newer than its
// last sync, so it never decides on what it has just changed itself.
import type { Pod } from "kubernetes-types/core/v1.js";
import { messageOf } from "../lib/errdefs.js";
import type { Logger } from "../lib/log.js";
import type { PodStatus } from "./container/runtime.js";
import type { RuntimePod } from "./kuberuntime/pod-status.js";
import type { KubeletMetrics } from "./metrics/metrics.js";

/** Why the kubelet asks for a sync (kubetypes.SyncPodType). */
export type SyncPodType = "create" | "update" | "sync" | "kill";

export interface UpdatePodOptions {
  updateType: SyncPodType;
  /** The pod as configured; absent for a pod only the runtime knows (an orphan to kill). */
  pod?: Pod;
  /** For an orphan: what runs of it. */
  runningPod?: RuntimePod;
  /** A grace period that replaces the pod's own for this kill. */
  gracePeriodOverride?: number;
  /** When the kubelet asked for this work (ms since the epoch; default: when updatePod is called). */
  startTime?: number;
}

/** What the workers call: the kubelet's pod-level sync functions. */
export interface PodSyncer {
  /** Resolves true when the pod has reached a terminal phase and should be terminated. */
  syncPod(updateType: SyncPodType, pod: Pod, podStatus: PodStatus): Promise<boolean>;
  syncTerminatingPod(pod: Pod, podStatus: PodStatus, gracePeriodOverride?: number): Promise<void>;
  syncTerminatingRuntimePod(runningPod: RuntimePod): Promise<void>;
  syncTerminatedPod(pod: Pod, podStatus: PodStatus): Promise<void>;
}

/** The runtime cache (kubecontainer.Cache): a status at least as new as asked for, or the error reading it. */
export interface PodStatusCache {
  getNewerThan(uid: string, minTime: Date): Promise<{ status?: PodStatus; error?: unknown }>;
}

type WorkType = "sync" | "terminating" | "terminated";

interface PodSyncStatus {
  pod?: Pod;
  runningPod?: RuntimePod;
  pending?: UpdatePodOptions;
  working: boolean;
  terminatingAt?: Date;
  terminatedAt?: Date;
  /** syncTerminatedPod has run: the worker is done with this pod. */
  finished: boolean;
  /** Deleted (a deletionTimestamp) or gone from its source (a kill): its content may go once terminated. */
  deleted?: boolean;
  gracePeriodOverride?: number;
  /** When the last sync started: the next one waits for a newer status. */
  lastSyncTime: Date;
  /** When the pod is due for its next periodic sync. */
  nextSyncAt: number;
}

export interface PodWorkersOptions {
  /** syncFrequency: how long after a successful sync a pod is synced again (default 60 s). */
  resyncIntervalMs?: number;
  /** How long after a failed sync (default 10 s, the kubelet's backOffPeriod). */
  backOffPeriodMs?: number;
  /** kubelet_pod_worker_duration_seconds: from the request to the end of each sync. */
  metrics?: Pick<KubeletMetrics, "podWorkerDuration">;
  log: Logger;
}

/** The jitter upstream adds to requeues (workerResyncIntervalJitterFactor 0.5, workerBackOffPeriodJitterFactor 0.5). */
function jitter(ms: number): number {
  return ms + Math.random() * ms * 0.5;
}

export class PodWorkers {
  private readonly statuses = new Map<string, PodSyncStatus>();
  private readonly resyncIntervalMs: number;
  private readonly backOffPeriodMs: number;

  constructor(
    private readonly syncer: PodSyncer,
    private readonly cache: PodStatusCache,
    private readonly o: PodWorkersOptions,
  ) {
    this.resyncIntervalMs = o.resyncIntervalMs ?? 60_000;
    this.backOffPeriodMs = o.backOffPeriodMs ?? 10_000;
  }

  /** UpdatePod: records the update and makes sure the pod's worker runs. */
  updatePod(o: UpdatePodOptions): void {
    const uid = o.pod?.metadata?.uid ?? o.runningPod?.id ?? "";
    if (uid === "") return;
    let s = this.statuses.get(uid);
    if (!s) {
      // A pod first seen already finished (a restart finding a completed pod) is not started again.
      s = { working: false, finished: false, lastSyncTime: new Date(0), nextSyncAt: 0 };
      this.statuses.set(uid, s);
    }
    if (s.finished) return;
    if (o.pod) s.pod = o.pod;
    if (o.runningPod) s.runningPod = o.runningPod;
    const deleted = o.pod?.metadata?.deletionTimestamp !== undefined;
    if (deleted || o.updateType === "kill") s.deleted = true;
    if ((o.updateType === "kill" || deleted || !o.pod) && !s.terminatingAt) {
      s.terminatingAt = new Date();
      s.gracePeriodOverride = o.gracePeriodOverride;
    }
    // Only the latest update counts, but a kill is never replaced by something milder.
    const update = { ...o, startTime: o.startTime ?? Date.now() };
    s.pending = s.pending?.updateType === "kill" ? { ...update, updateType: "kill" } : update;
    if (!s.working) this.startWorker(uid, s);
  }

  /** The pods whose periodic sync is due (the kubelet's work queue, read by its sync ticker). */
  podsDueForSync(now = Date.now()): Pod[] {
    const due: Pod[] = [];
    for (const s of this.statuses.values()) {
      if (!s.working && !s.pending && !s.finished && s.pod && s.nextSyncAt <= now) due.push(s.pod);
    }
    return due;
  }

  isPodTerminationRequested(uid: string): boolean {
    return this.statuses.get(uid)?.terminatingAt !== undefined;
  }

  isPodKnownTerminated(uid: string): boolean {
    return this.statuses.get(uid)?.terminatedAt !== undefined;
  }

  /** ShouldPodRuntimeBeRemoved: nothing of a terminated pod, or of one never seen, may run. */
  shouldPodRuntimeBeRemoved(uid: string): boolean {
    const s = this.statuses.get(uid);
    return s === undefined || s.terminatedAt !== undefined;
  }

  /** ShouldPodContentBeRemoved: a deleted pod's once it is terminated; one never seen has none to keep. */
  shouldPodContentBeRemoved(uid: string): boolean {
    const s = this.statuses.get(uid);
    return s === undefined || (s.deleted === true && s.terminatedAt !== undefined);
  }

  /** The pods the workers know, and where each is in its life. */
  knownPods(): Map<string, WorkType | "finished"> {
    const out = new Map<string, WorkType | "finished">();
    for (const [uid, s] of this.statuses) out.set(uid, s.finished ? "finished" : workType(s));
    return out;
  }

  /** SyncKnownPods: forgets finished pods that are no longer desired. */
  syncKnownPods(desired: ReadonlySet<string>): void {
    for (const [uid, s] of this.statuses) {
      if (s.finished && !s.working && !desired.has(uid)) this.statuses.delete(uid);
    }
  }

  private startWorker(uid: string, s: PodSyncStatus): void {
    s.working = true;
    void this.podWorkerLoop(uid, s).finally(() => {
      s.working = false;
    });
  }

  private async podWorkerLoop(uid: string, s: PodSyncStatus): Promise<void> {
    while (s.pending && !s.finished) {
      const update = s.pending;
      s.pending = undefined;
      const work = workType(s);
      const log = this.o.log.child({ podUID: uid, pod: podName(s), work });
      let failed = false;
      try {
        if (work === "terminating" && !s.pod && s.runningPod) {
          // An orphan: only the runtime knows it, so there is nothing to terminate but what runs.
          await this.syncer.syncTerminatingRuntimePod(s.runningPod);
          s.terminatedAt = new Date();
          s.finished = true;
          continue;
        }
        const pod = s.pod;
        if (!pod) continue;
        const cached = await this.cache.getNewerThan(uid, s.lastSyncTime);
        if (cached.error !== undefined || !cached.status) throw cached.error ?? new Error("no status cached");
        const status = cached.status;
        if (work === "sync") {
          const isTerminal = await this.syncer.syncPod(update.updateType, pod, status);
          if (isTerminal) {
            s.terminatingAt = new Date();
            s.pending ??= { updateType: "sync", pod };
          }
        } else if (work === "terminating") {
          await this.syncer.syncTerminatingPod(pod, status, s.gracePeriodOverride);
          s.terminatedAt = new Date();
          s.pending ??= { updateType: "sync", pod };
        } else {
          await this.syncer.syncTerminatedPod(pod, status);
          s.finished = true;
        }
      } catch (err) {
        failed = true;
        log.error({ err: messageOf(err) }, "error syncing pod, skipping");
      } finally {
        // Upstream labels the last step "terminated" and every other by its update type.
        const operation_type = work === "terminated" ? "terminated" : update.updateType;
        if (update.startTime !== undefined)
          this.o.metrics?.podWorkerDuration.observe(
            { operation_type },
            (Date.now() - update.startTime) / 1000,
          );
      }
      // After the sync, as upstream: the next one waits for a status read after what this one did,
      // so a container it just started is never started again from a stale status.
      s.lastSyncTime = new Date();
      // completeWork: back off after a failure, resync later after a success; a failed
      // terminating or terminated step is retried after the back-off.
      s.nextSyncAt = Date.now() + jitter(failed ? this.backOffPeriodMs : this.resyncIntervalMs);
      if (failed && work !== "sync") {
        setTimeout(() => {
          if (!s.finished && !s.working && !s.pending && s.pod)
            this.updatePod({ updateType: "sync", pod: s.pod });
        }, this.backOffPeriodMs).unref();
      }
    }
  }
}

function workType(s: PodSyncStatus): WorkType {
  if (s.terminatedAt) return "terminated";
  if (s.terminatingAt) return "terminating";
  return "sync";
}

function podName(s: PodSyncStatus): string {
  const m = s.pod?.metadata;
  return m ? `${m.namespace}/${m.name}` : `${s.runningPod?.namespace}/${s.runningPod?.name}`;
}
