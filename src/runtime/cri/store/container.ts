// A container as the CRI plugin keeps it (containerd's pkg/cri/store/container): metadata
// written once at CreateContainer, and a status that every transition updates, both
// persisted as extensions of the container's record so that a restart finds them again.
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { type ContainerConfig, ContainerConfigSchema } from "../../../cri/gen/runtime/v1/api_pb.js";
import type { Spec } from "../../../runc/oci-spec.js";

export const ContainerMetadataExtension = "berth.cri.container";
export const ContainerStatusExtension = "berth.cri.status";

export interface ContainerMetadata {
  id: string;
  /** makeContainerName: <name>_<pod name>_<pod namespace>_<pod uid>_<attempt>. */
  name: string;
  sandboxId: string;
  config: ContainerConfig;
  /** The image id (config digest) it was created from. */
  imageRef: string;
  /** Host path of its CRI log; "" when the kubelet gave no log directory or path. */
  logPath: string;
  /** The image's STOPSIGNAL, or "" for SIGTERM. */
  stopSignal: string;
}

export interface ContainerStatus {
  /** Nanoseconds since the epoch; 0 when not yet. */
  createdAt: bigint;
  startedAt: bigint;
  finishedAt: bigint;
  exitCode: number;
  pid: number;
  reason: string;
  message: string;
  /** RemoveContainer has begun: the container takes no other operation. */
  removing: boolean;
  /** The exit was not seen (the monitor was gone after a restart). */
  unknown: boolean;
}

export interface CriContainer {
  id: string;
  metadata: ContainerMetadata;
  status: ContainerStatus;
  spec: Spec;
  /** Resolves when the exit has been recorded and the task deleted. */
  exited?: Promise<void>;
}

export interface StoredContainerMetadata extends Omit<ContainerMetadata, "config"> {
  config: Uint8Array;
}

export type StoredContainerStatus = Record<
  keyof Pick<ContainerStatus, "createdAt" | "startedAt" | "finishedAt">,
  string
> &
  Omit<ContainerStatus, "createdAt" | "startedAt" | "finishedAt">;

export function encodeContainerMetadata(m: ContainerMetadata): StoredContainerMetadata {
  return { ...m, config: toBinary(ContainerConfigSchema, m.config) };
}

export function decodeContainerMetadata(s: StoredContainerMetadata): ContainerMetadata {
  return { ...s, config: fromBinary(ContainerConfigSchema, s.config) };
}

export function encodeContainerStatus(s: ContainerStatus): StoredContainerStatus {
  return {
    ...s,
    createdAt: String(s.createdAt),
    startedAt: String(s.startedAt),
    finishedAt: String(s.finishedAt),
  };
}

export function decodeContainerStatus(s: StoredContainerStatus): ContainerStatus {
  return {
    ...s,
    createdAt: BigInt(s.createdAt),
    startedAt: BigInt(s.startedAt),
    finishedAt: BigInt(s.finishedAt),
  };
}
