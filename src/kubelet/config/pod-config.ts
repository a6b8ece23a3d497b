// Port of kubelet 1.28 pkg/kubelet/config/config.go (PodConfig, podStorage) and the PodUpdate types of
// pkg/kubelet/types/pod_update.go: sources send what they hold (SET) or changes (ADD, UPDATE, DELETE,
// REMOVE), and PodConfig merges them per source into the incremental stream the sync loop consumes:
// REMOVE, ADD, UPDATE, DELETE, then RECONCILE, only for what actually changed.
import { isDeepStrictEqual } from "node:util";
import type { Pod } from "kubernetes-types/core/v1.js";
import type { Logger } from "../../lib/log.js";
import type { MutablePod } from "./common.js";

/** Static pods from staticPodPath. */
export const FileSource = "file";
/**
 * berth's local API (server/local-api.ts). Upstream's "api" names the API server; berth's local API plays
 * that part on a node without one, so its pods are not static pods and are deleted through it.
 */
export const ApiSource = "api";
/** Reserved for an API server source. */
export const ApiserverSource = "apiserver";
/** The source of the SET that sync() sends: every source. */
export const AllSource = "*";

export const ConfigSourceAnnotationKey = "kubernetes.io/config.source";
export const ConfigMirrorAnnotationKey = "kubernetes.io/config.mirror";
export const ConfigFirstSeenAnnotationKey = "kubernetes.io/config.seen";
export const ConfigHashAnnotationKey = "kubernetes.io/config.hash";

/**
 * SET: the source's whole set of pods. ADD, UPDATE, DELETE (graceful: the pod has a deletionTimestamp),
 * REMOVE: changes. RECONCILE: only the status changed.
 */
export type PodOperation = "SET" | "ADD" | "UPDATE" | "DELETE" | "REMOVE" | "RECONCILE";

export interface PodUpdate {
  op: PodOperation;
  pods: Pod[];
  source: string;
}

/** GetPodSource: the source PodConfig annotated the pod with. */
export function getPodSource(pod: Pod): string | undefined {
  return pod.metadata?.annotations?.[ConfigSourceAnnotationKey];
}

/** IsStaticPod: a pod that no API holds, so the kubelet alone decides its life. */
export function isStaticPod(pod: Pod): boolean {
  const source = getPodSource(pod);
  return source !== undefined && source !== ApiSource && source !== ApiserverSource;
}

/** GetPodFullName: "<name>_<namespace>", unique among the pods of a node. */
export function getPodFullName(pod: Pod): string {
  return `${pod.metadata?.name ?? ""}_${pod.metadata?.namespace ?? ""}`;
}

export interface PodConfigOptions {
  logger?: Logger;
  /** The clock for the first-seen annotation. */
  now?: () => Date;
}

interface Changes {
  adds: Pod[];
  updates: Pod[];
  deletes: Pod[];
  removes: Pod[];
  reconciles: Pod[];
}

/**
 * Merges the sources into one ordered stream of updates (upstream's PodConfig in its
 * PodConfigNotificationIncremental mode, the one the kubelet runs). The stream has one reader: the sync
 * loop iterates updates(signal), or takes them with next() after waiting on ready().
 */
export class PodConfig implements AsyncIterable<PodUpdate> {
  /** source → uid → the pod as last merged. */
  private readonly podsBySource = new Map<string, Map<string, Pod>>();
  private readonly sources = new Set<string>();
  private readonly sourcesSeen = new Set<string>();
  private readonly queue: PodUpdate[] = [];
  private wake: (() => void) | undefined;

  constructor(private readonly opts: PodConfigOptions = {}) {}

  /** Registers a source; what it sends through the returned function is merged at once. */
  channel(source: string): (update: PodUpdate) => void {
    this.sources.add(source);
    return (update) => this.merge(source, update);
  }

  /**
   * SeenAllSources: every registered source is in `seenSources` (the sources whose updates the kubelet
   * has handled) and has sent a SET. Until then the kubelet must not treat pods it runs but does not
   * know as orphans: their source may simply not have spoken yet.
   */
  seenAllSources(seenSources: ReadonlySet<string>): boolean {
    for (const source of this.sources) {
      if (!seenSources.has(source) || !this.sourcesSeen.has(source)) return false;
    }
    return true;
  }

  /** Sync: queues a SET of every pod, from AllSource. */
  sync(): void {
    this.push({ op: "SET", pods: this.mergedState(), source: AllSource });
  }

  /** MergedState: a copy of every pod of every source. */
  mergedState(): Pod[] {
    return [...this.podsBySource.values()].flatMap((pods) =>
      [...pods.values()].map((p) => structuredClone(p)),
    );
  }

  /** The next queued update, if any. */
  next(): PodUpdate | undefined {
    return this.queue.shift();
  }

  /** Resolves when an update is queued (at once if one is), or when `signal` aborts. */
  ready(signal?: AbortSignal): Promise<void> {
    if (this.queue.length > 0 || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.wake;
      const onAbort = () => resolve();
      signal?.addEventListener("abort", onAbort, { once: true });
      this.wake = () => {
        signal?.removeEventListener("abort", onAbort);
        previous?.();
        resolve();
      };
    });
  }

  /** The merged updates as they come, until `signal` aborts: the sync loop's config channel. */
  async *updates(signal?: AbortSignal): AsyncGenerator<PodUpdate> {
    while (!signal?.aborted) {
      await this.ready(signal);
      const update = signal?.aborted ? undefined : this.next();
      if (update) yield update;
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<PodUpdate> {
    return this.updates();
  }

  private push(update: PodUpdate): void {
    this.queue.push(update);
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** Merge: applies one source's update and queues the changes it makes, in upstream's order. */
  private merge(source: string, update: PodUpdate): void {
    const seenBefore = this.sourcesSeen.has(source);
    const c = this.mergeChanges(source, update);
    const firstSet = !seenBefore && this.sourcesSeen.has(source);
    const send = (op: PodOperation, pods: Pod[]) => {
      if (pods.length > 0) this.push({ op, pods: pods.map((p) => structuredClone(p)), source });
    };
    send("REMOVE", c.removes);
    send("ADD", c.adds);
    send("UPDATE", c.updates);
    send("DELETE", c.deletes);
    // An empty ADD on a source's first SET tells the kubelet the source is ready.
    if (firstSet && c.adds.length === 0 && c.updates.length === 0 && c.deletes.length === 0) {
      this.push({ op: "ADD", pods: [], source });
    }
    send("RECONCILE", c.reconciles);
  }

  private mergeChanges(source: string, update: PodUpdate): Changes {
    const c: Changes = { adds: [], updates: [], deletes: [], removes: [], reconciles: [] };
    let pods = this.podsBySource.get(source) ?? new Map<string, Pod>();

    // Updates `oldPods` with `newPods`, keeping the results in `into` (the same map unless this is a SET).
    const updatePods = (newPods: Pod[], oldPods: Map<string, Pod>, into: Map<string, Pod>) => {
      for (const incoming of this.filterInvalidPods(newPods, source)) {
        const ref = structuredClone(incoming);
        ref.metadata = { ...ref.metadata, annotations: { ...ref.metadata?.annotations } };
        (ref.metadata.annotations as Record<string, string>)[ConfigSourceAnnotationKey] = source;
        const uid = ref.metadata.uid ?? "";
        const existing = oldPods.get(uid);
        if (existing) {
          into.set(uid, existing);
          const { needUpdate, needReconcile, needGracefulDelete } = checkAndUpdatePod(existing, ref);
          if (needUpdate) c.updates.push(existing);
          else if (needReconcile) c.reconciles.push(existing);
          else if (needGracefulDelete) c.deletes.push(existing);
          continue;
        }
        (ref.metadata.annotations as Record<string, string>)[ConfigFirstSeenAnnotationKey] = formatTimestamp(
          this.opts.now?.() ?? new Date(),
        );
        into.set(uid, ref);
        c.adds.push(ref);
      }
    };

    switch (update.op) {
      case "ADD":
      case "UPDATE":
      case "DELETE":
        updatePods(update.pods, pods, pods);
        break;
      case "REMOVE":
        for (const pod of update.pods) {
          const uid = pod.metadata?.uid ?? "";
          const existing = pods.get(uid);
          if (!existing) continue;
          pods.delete(uid);
          c.removes.push(existing);
        }
        break;
      case "SET": {
        this.sourcesSeen.add(source);
        const oldPods = pods;
        pods = new Map();
        updatePods(update.pods, oldPods, pods);
        for (const [uid, existing] of oldPods) {
          if (!pods.has(uid)) c.removes.push(existing);
        }
        break;
      }
      default:
        this.opts.logger?.warn({ source, op: update.op }, "received invalid update type");
    }
    this.podsBySource.set(source, pods);
    return c;
  }

  /** Pods of one update are assumed valid one by one; this only drops a second pod with a taken name. */
  private filterInvalidPods(pods: Pod[], source: string): Pod[] {
    const names = new Set<string>();
    return pods.filter((pod, index) => {
      const name = getPodFullName(pod);
      if (names.has(name)) {
        this.opts.logger?.warn(
          { index, pod: `${pod.metadata?.namespace}/${pod.metadata?.name}`, source },
          "pod failed validation due to duplicate pod name, ignoring",
        );
        return false;
      }
      names.add(name);
      return true;
    });
  }
}

/** The annotations the kubelet itself sets; a change in them is no change to the pod. */
const localAnnotations = [ConfigSourceAnnotationKey, ConfigMirrorAnnotationKey, ConfigFirstSeenAnnotationKey];

function withoutLocalAnnotations(annotations: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(annotations ?? {})) if (!localAnnotations.includes(k)) out[k] = v;
  return out;
}

/** Whether `ref` changes what the kubelet acts on: spec, labels, deletion, the annotations not its own. */
export function podsDifferSemantically(existing: Pod, ref: Pod): boolean {
  return !(
    isDeepStrictEqual(existing.spec, ref.spec) &&
    isDeepStrictEqual(existing.metadata?.labels, ref.metadata?.labels) &&
    existing.metadata?.deletionTimestamp === ref.metadata?.deletionTimestamp &&
    existing.metadata?.deletionGracePeriodSeconds === ref.metadata?.deletionGracePeriodSeconds &&
    isDeepStrictEqual(
      withoutLocalAnnotations(existing.metadata?.annotations),
      withoutLocalAnnotations(ref.metadata?.annotations),
    )
  );
}

/**
 * checkAndUpdatePod: brings `existing` up to `ref` and says what that was. A change to spec, labels,
 * annotations or deletion is an update (a graceful delete when a deletionTimestamp appears); a change
 * to the status alone is a reconcile. At most one is true.
 */
export function checkAndUpdatePod(
  existing: MutablePod,
  ref: Pod,
): { needUpdate: boolean; needReconcile: boolean; needGracefulDelete: boolean } {
  const result = { needUpdate: false, needReconcile: false, needGracefulDelete: false };
  if (!podsDifferSemantically(existing, ref)) {
    if (!isDeepStrictEqual(existing.status, ref.status)) {
      // The kubelet is the source of truth of a pod's status: a source that says otherwise is reconciled.
      existing.status = ref.status;
      result.needReconcile = true;
    }
    return result;
  }
  existing.metadata ??= {};
  const meta = existing.metadata;
  const refMeta = ref.metadata ?? {};
  existing.spec = ref.spec;
  meta.labels = refMeta.labels;
  meta.deletionTimestamp = refMeta.deletionTimestamp;
  meta.deletionGracePeriodSeconds = refMeta.deletionGracePeriodSeconds;
  existing.status = ref.status;
  // The source's annotations, with the kubelet's own kept as they were (the first-seen time above all).
  const annotations = { ...refMeta.annotations };
  for (const key of localAnnotations) {
    const kept = meta.annotations?.[key];
    if (kept !== undefined) annotations[key] = kept;
  }
  meta.annotations = annotations;
  if (refMeta.deletionTimestamp) result.needGracefulDelete = true;
  else result.needUpdate = true;
  return result;
}

/** kubetypes.Timestamp.GetString: RFC 3339 with the fraction's trailing zeros dropped, as Go prints it. */
export function formatTimestamp(d: Date): string {
  return d
    .toISOString()
    .replace(/(\.\d*?)0+Z$/, "$1Z")
    .replace(/\.Z$/, "Z");
}
