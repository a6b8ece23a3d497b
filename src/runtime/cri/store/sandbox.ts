// A pod sandbox as the CRI plugin keeps it (containerd's pkg/cri/store/sandbox): its
// metadata, persisted as an extension of the infra container's record, and its status,
// which is learnt again from the task after a restart.
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { type PodSandboxConfig, PodSandboxConfigSchema } from "../../../cri/gen/runtime/v1/api_pb.js";
import type { SetupResult } from "../../cni/cni.js";
import type { SandboxFiles } from "../sandbox-files.js";

export const SandboxMetadataExtension = "berth.cri.sandbox";

export interface SandboxMetadata {
  id: string;
  /** makeSandboxName: <name>_<namespace>_<uid>_<attempt>. */
  name: string;
  config: PodSandboxConfig;
  /** "" for a pod on the host network. */
  netnsPath: string;
  ip: string;
  additionalIps: string[];
  runtimeHandler: string;
  cniResult?: SetupResult;
  files: SandboxFiles;
  cgroupsPath: string;
  /** Nanoseconds since the epoch. */
  createdAt: bigint;
}

export type SandboxState = "ready" | "notready" | "unknown";

export interface Sandbox {
  id: string;
  metadata: SandboxMetadata;
  state: SandboxState;
  /** The infra process; 0 once it is gone. */
  pid: number;
  /** Resolves when the infra process has exited and its task is deleted. */
  exited?: Promise<void>;
  /** Set while StopPodSandbox runs, so concurrent stops share one. */
  stopping?: Promise<void>;
}

/** What the record's extension holds: the config as protobuf bytes, times as strings. */
export interface StoredSandboxMetadata extends Omit<SandboxMetadata, "config" | "createdAt"> {
  config: Uint8Array;
  createdAt: string;
}

export function encodeSandboxMetadata(m: SandboxMetadata): StoredSandboxMetadata {
  return { ...m, config: toBinary(PodSandboxConfigSchema, m.config), createdAt: String(m.createdAt) };
}

export function decodeSandboxMetadata(s: StoredSandboxMetadata): SandboxMetadata {
  return {
    ...s,
    config: fromBinary(PodSandboxConfigSchema, s.config),
    createdAt: BigInt(s.createdAt),
  };
}
