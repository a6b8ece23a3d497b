// pkg/kubelet/container/container_gc.go (kubelet 1.28): the policy for dead containers and the
// front the kubelet's periodic collection calls. The work is the runtime's (kuberuntime/gc.ts);
// this only adds whether every pod source has been seen, which decides whether containers of
// pods the kubelet does not know may go.
import { invalidArgument } from "../../lib/errdefs.js";

/** GCPolicy: which dead containers may be collected. */
export interface GCPolicy {
  /** Minimum age, in milliseconds, at which a container may be collected; 0 for no minimum. */
  minAgeMs: number;
  /** Dead containers kept per (pod UID, container name); below zero for no limit. */
  maxPerPodContainer: number;
  /** Dead containers kept on the node in all; below zero for no limit. */
  maxContainers: number;
}

/** The kubelet's defaults (--minimum-container-ttl-duration 0, --maximum-dead-containers-per-container 1, --maximum-dead-containers -1). */
export const defaultGCPolicy: GCPolicy = { minAgeMs: 0, maxPerPodContainer: 1, maxContainers: -1 };

/** kubecontainer.Runtime's GarbageCollect: what the runtime manager's containerGC offers. */
export interface GarbageCollector {
  garbageCollect(policy: GCPolicy, allSourcesReady: boolean, evictNonDeletedPods: boolean): Promise<void>;
}

/** SourcesReadyProvider: whether every configured pod source has sent its pods at least once. */
export interface SourcesReadyProvider {
  allReady(): boolean;
}

/** GC: dead containers and sandboxes collected by the policy. */
export interface GC {
  garbageCollect(): Promise<void>;
  /** Also the containers of pods that are terminated but not deleted (the eviction manager's call). */
  deleteAllUnusedContainers(): Promise<void>;
}

/** NewContainerGC: a negative minimum age is refused. */
export function newContainerGC(
  runtime: GarbageCollector,
  policy: GCPolicy,
  sourcesReady: SourcesReadyProvider,
): GC {
  if (policy.minAgeMs < 0) {
    throw invalidArgument(`invalid minimum garbage collection age: ${policy.minAgeMs}ms`);
  }
  return {
    garbageCollect: () => runtime.garbageCollect(policy, sourcesReady.allReady(), false),
    deleteAllUnusedContainers: () => runtime.garbageCollect(policy, sourcesReady.allReady(), true),
  };
}
