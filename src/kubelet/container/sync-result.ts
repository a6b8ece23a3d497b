// pkg/kubelet/container/sync_result.go (kubelet 1.28), with the reasons that kuberuntime_container.go
// and images/types.go give failed steps: what each step of syncPod did to what, and why it failed.
import { BerthError, kindOf, messageOf } from "../../lib/errdefs.js";

/** The steps of syncPod and killPod that report a result. */
export const SyncAction = {
  StartContainer: "StartContainer",
  KillContainer: "KillContainer",
  InitContainer: "InitContainer",
  CreatePodSandbox: "CreatePodSandbox",
  ConfigPodSandbox: "ConfigPodSandbox",
  KillPodSandbox: "KillPodSandbox",
} as const;
export type SyncAction = (typeof SyncAction)[keyof typeof SyncAction];

// The brief reasons a failed step carries. They become the container's waiting reason in the
// pod status, so the strings are kubelet's own.

/** The container keeps exiting and the kubelet waits before starting it again. */
export const ErrCrashLoopBackOff = "CrashLoopBackOff";
export const ErrRunContainer = "RunContainerError";
export const ErrKillContainer = "KillContainerError";
export const ErrCreatePodSandbox = "CreatePodSandboxError";
export const ErrConfigPodSandbox = "ConfigPodSandboxError";
export const ErrKillPodSandbox = "KillPodSandboxError";
// kuberuntime_container.go
export const ErrCreateContainerConfig = "CreateContainerConfigError";
export const ErrPreCreateHook = "PreCreateHookError";
export const ErrCreateContainer = "CreateContainerError";
export const ErrPreStartHook = "PreStartHookError";
export const ErrPostStartHook = "PostStartHookError";
// images/types.go
export const ErrImagePullBackOff = "ImagePullBackOff";
export const ErrImageInspect = "ImageInspectError";
export const ErrImagePull = "ErrImagePull";
export const ErrImageNeverPull = "ErrImageNeverPull";
export const ErrRegistryUnavailable = "RegistryUnavailable";
export const ErrInvalidImageName = "InvalidImageName";

export type SyncErrorReason =
  | typeof ErrCrashLoopBackOff
  | typeof ErrRunContainer
  | typeof ErrKillContainer
  | typeof ErrCreatePodSandbox
  | typeof ErrConfigPodSandbox
  | typeof ErrKillPodSandbox
  | typeof ErrCreateContainerConfig
  | typeof ErrPreCreateHook
  | typeof ErrCreateContainer
  | typeof ErrPreStartHook
  | typeof ErrPostStartHook
  | typeof ErrImagePullBackOff
  | typeof ErrImageInspect
  | typeof ErrImagePull
  | typeof ErrImageNeverPull
  | typeof ErrRegistryUnavailable
  | typeof ErrInvalidImageName;

/** The result of one step: the action, its target (a container name, or the pod for sandbox steps). */
export class SyncResult {
  error?: SyncErrorReason;
  /** The detail for a person; `error` is the short reason. */
  message = "";

  constructor(
    readonly action: SyncAction,
    readonly target: string,
  ) {}

  fail(reason: SyncErrorReason, message: string): void {
    this.error = reason;
    this.message = message;
  }
}

/** Everything one syncPod or killPod did. */
export class PodSyncResult {
  syncResults: SyncResult[] = [];
  /** A failure of syncPod itself, outside any step. */
  syncError?: unknown;

  addSyncResult(...results: SyncResult[]): void {
    this.syncResults.push(...results);
  }

  /** Merges another result in; its syncError replaces this one's, as upstream does. */
  addPodSyncResult(other: PodSyncResult): void {
    this.addSyncResult(...other.syncResults);
    this.syncError = other.syncError;
  }

  fail(err: unknown): void {
    this.syncError = err;
  }

  /**
   * One error for every failure, worded as upstream's aggregate: a single message alone, several
   * as "[a, b]" with repeats dropped. It keeps the kind of syncError when that is the only failure.
   */
  error(): BerthError | undefined {
    const messages: string[] = [];
    if (this.syncError !== undefined) messages.push(`failed to SyncPod: ${messageOf(this.syncError)}`);
    for (const r of this.syncResults) {
      if (r.error === undefined) continue;
      messages.push(
        `failed to ${JSON.stringify(r.action)} for ${JSON.stringify(r.target)} with ${r.error}: ${JSON.stringify(r.message)}`,
      );
    }
    if (messages.length === 0) return undefined;
    const unique = [...new Set(messages)];
    const text = unique.length === 1 ? (unique[0] as string) : `[${unique.join(", ")}]`;
    const onlySyncError = this.syncError !== undefined && messages.length === 1;
    return new BerthError(onlySyncError ? kindOf(this.syncError) : "Unknown", text, {
      cause: this.syncError,
    });
  }
}
