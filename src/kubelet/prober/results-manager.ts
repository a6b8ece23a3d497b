// pkg/kubelet/prober/results/results_manager.go (kubelet 1.28): the latest result of one kind of probe
// for each container, by container id, and a stream of the changes. The kubelet's sync loop reads the
// stream (a liveness failure restarts a container, a readiness change regenerates the pod's status);
// computePodActions and the status generator read the cache.
import type { Pod } from "kubernetes-types/core/v1.js";
import { type ContainerID, containerIDString } from "../container/runtime.js";
import type { ProbeResult, ProbeResults } from "../kuberuntime/pod-actions.js";
import { EventChannel } from "../pleg/pleg.js";

/** A result that changed: for which container of which pod. */
export interface ResultUpdate {
  containerID: ContainerID;
  result: ProbeResult;
  podUID: string;
}

/**
 * Upstream's channel holds 20 and makes a worker wait when full. Here a full channel drops the update
 * instead, so it is made large enough never to fill while the sync loop reads it; the result stays in
 * the cache, so the pod's next periodic sync acts on it all the same.
 */
const updatesCapacity = 1000;

export class ResultsManager implements ProbeResults {
  private readonly cache = new Map<string, ProbeResult>();
  /** Updates: one per change of a container's result (a removal sends none). */
  readonly updates = new EventChannel<ResultUpdate>(updatesCapacity);

  get(id: ContainerID): ProbeResult | undefined {
    return this.cache.get(containerIDString(id));
  }

  /** Set: caches the result; a new or different one is sent on updates. */
  set(id: ContainerID, result: ProbeResult, pod: Pod): void {
    const key = containerIDString(id);
    if (this.cache.get(key) === result) return;
    this.cache.set(key, result);
    this.updates.trySend({ containerID: id, result, podUID: pod.metadata?.uid ?? "" });
  }

  remove(id: ContainerID): void {
    this.cache.delete(containerIDString(id));
  }
}
