// pkg/kubelet/container/runtime.go (kubelet 1.28): the runtime's view of a pod as the kubelet
// keeps it between syncs — container ids, container states and the pod's sandbox and container statuses.
import type { PodSandboxStatus } from "../../cri/gen/runtime/v1/api_pb.js";
import { invalidArgument } from "../../lib/errdefs.js";

/** A container as the kubelet names it: the runtime's name ("containerd", "berth") and the runtime's id. */
export interface ContainerID {
  type: string;
  id: string;
}

export function buildContainerID(type: string, id: string): ContainerID {
  return { type, id };
}

/** "<type>://<id>", the form pod status and events carry. */
export function containerIDString(c: ContainerID): string {
  return `${c.type}://${c.id}`;
}

/** Reads "<type>://<id>"; surrounding quotes are allowed because the form also travels as JSON. */
export function parseContainerID(text: string): ContainerID {
  const parts = text.replace(/^"+|"+$/g, "").split("://");
  if (parts.length !== 2) throw invalidArgument(`invalid container ID: ${JSON.stringify(text)}`);
  return { type: parts[0] as string, id: parts[1] as string };
}

export function isEmptyContainerID(c: ContainerID): boolean {
  return c.type === "" && c.id === "";
}

/** kubecontainer.State: what the kubelet makes of a CRI container state. */
export const ContainerState = {
  Created: "created",
  Running: "running",
  Exited: "exited",
  Unknown: "unknown",
} as const;
export type ContainerState = (typeof ContainerState)[keyof typeof ContainerState];

/** The resources the runtime reports for a running container (used by in-place resize). */
export interface ContainerResources {
  cpuRequestMilli?: number;
  cpuLimitMilli?: number;
  memoryRequestBytes?: bigint;
  memoryLimitBytes?: bigint;
}

/**
 * kubecontainer.Status: one container instance. Times that upstream leaves at Go's zero time are
 * left out here. In 1.28 `imageID` holds the CRI ContainerStatus.imageRef (there is no separate imageRef).
 */
export interface Status {
  id: ContainerID;
  name: string;
  state: ContainerState;
  createdAt: Date;
  startedAt?: Date;
  finishedAt?: Date;
  exitCode: number;
  /** The image as the pod named it (CRI ContainerStatus.image.image). */
  image: string;
  imageID: string;
  /** hashContainer of the spec the container was created from, read back from its annotation. */
  hash: string;
  restartCount: number;
  reason: string;
  /** The termination message the container wrote before it exited. */
  message: string;
  resources?: ContainerResources;
}

/** kubecontainer.PodStatus: what the runtime has for one pod. */
export interface PodStatus {
  /** The pod's UID. */
  id: string;
  name: string;
  namespace: string;
  ips: string[];
  /** Newest first: the kubelet sorts containers by creation time, so the first match is the latest. */
  containerStatuses: Status[];
  /** Newest first, as the kubelet sorts them. */
  sandboxStatuses: PodSandboxStatus[];
  timeStamp: Date;
}

/** The latest status of the named container (statuses are kept newest first). */
export function findContainerStatusByName(podStatus: PodStatus, containerName: string): Status | undefined {
  return podStatus.containerStatuses.find((s) => s.name === containerName);
}

export function getRunningContainerStatuses(podStatus: PodStatus): Status[] {
  return podStatus.containerStatuses.filter((s) => s.state === ContainerState.Running);
}
