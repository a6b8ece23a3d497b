// The kubelet's events (client-go's EventRecorder and pkg/kubelet/events/event.go): what
// happened to a pod, with kubelet's reasons, kept per pod for `berth describe pod` and
// logged. Without an API server there is no Event object to post; a repeated event is
// counted, as the apiserver's event correlator would.
import type { Pod } from "kubernetes-types/core/v1.js";
import type { Logger } from "../../lib/log.js";

/** An event on the pod (or its node) as the generators report it. */
export interface KubeEvent {
  object: "Pod" | "Node";
  type: "Normal" | "Warning";
  reason: string;
  message: string;
}
export type RecordEvent = (event: KubeEvent) => void;

/** pkg/kubelet/events/event.go reasons. */
export const Reason = {
  CreatedContainer: "Created",
  StartedContainer: "Started",
  FailedToCreateContainer: "Failed",
  FailedToStartContainer: "Failed",
  KillingContainer: "Killing",
  BackOffStartContainer: "BackOff",
  ExceededGracePeriod: "ExceededGracePeriod",
  FailedPostStartHook: "FailedPostStartHook",
  FailedPreStopHook: "FailedPreStopHook",
  PullingImage: "Pulling",
  PulledImage: "Pulled",
  FailedToPullImage: "Failed",
  BackOffPullImage: "BackOff",
  ErrImageNeverPull: "ErrImageNeverPull",
  SandboxChanged: "SandboxChanged",
  FailedCreatePodSandBox: "FailedCreatePodSandBox",
  FailedStatusPodSandBox: "FailedPodSandBoxStatus",
  FailedMountVolume: "FailedMount",
  Unhealthy: "Unhealthy",
  ProbeWarning: "ProbeWarning",
  ContainerGCFailed: "ContainerGCFailed",
  ImageGCFailed: "ImageGCFailed",
} as const;

export interface RecordedEvent {
  type: "Normal" | "Warning";
  reason: string;
  message: string;
  /** e.g. "spec.containers{web}" for an event about one container. */
  fieldPath: string;
  count: number;
  firstTimestamp: Date;
  lastTimestamp: Date;
}

/** Events kept per pod; older ones drop off. */
const maxEventsPerPod = 100;

export class EventRecorder {
  private readonly byPod = new Map<string, RecordedEvent[]>();

  constructor(private readonly log: Logger) {}

  /** Records an event about `pod` (or one of its containers, by field path). */
  record(pod: Pod, e: Omit<KubeEvent, "object"> & { fieldPath?: string }): void {
    const uid = pod.metadata?.uid ?? "";
    const fieldPath = e.fieldPath ?? "";
    const now = new Date();
    const list = this.byPod.get(uid) ?? [];
    const same = list.find(
      (x) => x.reason === e.reason && x.message === e.message && x.fieldPath === fieldPath,
    );
    if (same) {
      same.count++;
      same.lastTimestamp = now;
    } else {
      list.push({
        type: e.type,
        reason: e.reason,
        message: e.message,
        fieldPath,
        count: 1,
        firstTimestamp: now,
        lastTimestamp: now,
      });
      if (list.length > maxEventsPerPod) list.shift();
      this.byPod.set(uid, list);
    }
    const line = {
      pod: `${pod.metadata?.namespace}/${pod.metadata?.name}`,
      type: e.type,
      reason: e.reason,
      object: fieldPath || undefined,
    };
    if (e.type === "Warning") this.log.warn(line, e.message);
    else this.log.info(line, e.message);
  }

  /** A RecordEvent bound to a pod, for the generators; events about the node are only logged. */
  forPod(pod: Pod): RecordEvent {
    return (e) => {
      if (e.object === "Node") this.recordNode(e);
      else this.record(pod, e);
    };
  }

  /** An event about the node (upstream's nodeRef): there is no node object to keep it on, so it is logged. */
  recordNode(e: Omit<KubeEvent, "object">): void {
    const line = { node: true, type: e.type, reason: e.reason };
    if (e.type === "Warning") this.log.warn(line, e.message);
    else this.log.info(line, e.message);
  }

  eventsFor(uid: string): readonly RecordedEvent[] {
    return this.byPod.get(uid) ?? [];
  }

  forget(uid: string): void {
    this.byPod.delete(uid);
  }
}

/** The field path of a container in events: spec.containers{name} or spec.initContainers{name}. */
export function containerFieldPath(pod: Pod, name: string): string {
  const init = pod.spec?.initContainers?.some((c) => c.name === name);
  return init ? `spec.initContainers{${name}}` : `spec.containers{${name}}`;
}
