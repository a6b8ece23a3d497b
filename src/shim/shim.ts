// The per-container monitor as berth's runtime sees it: one small interface, as CRI-O's
// RuntimeImpl (internal/oci/oci.go) stands in front of conmon, so that the monitor can be
// replaced without touching the runtime. The monitor runs the container through runc,
// writes its output in the CRI log format, records its exit code, exit time and OOM kill,
// and outlives the daemon: after a restart, recover() finds it again.
import type { LinuxResources } from "../runc/oci-spec.js";
import type { CreatedState, ExitStatus, ProcessState, RunningState } from "./process-state.js";

export interface CreateOptions {
  /** The container id, also runc's. */
  id: string;
  /** The OCI bundle: config.json, and the rootfs it names. The monitor keeps its control fifo there. */
  bundle: string;
  /** The CRI log file (its directory must exist). */
  logPath: string;
  /** A name for the monitor's own logs (default: the id). */
  name?: string;
  /** An existing cgroup (a path under each hierarchy's root) the monitor is moved into before it starts anything. */
  monitorCgroup?: string;
  /** Bytes after which the log file is truncated and started again (default: no limit). */
  logSizeMax?: number;
  noPivot?: boolean;
  noNewKeyring?: boolean;
}

export interface ExecSyncOptions {
  /** The command, run with the rest of the container's process spec (env, cwd, user). */
  args: string[];
  /** Seconds after which the command and its process group are killed; 0 waits forever (CRI's ExecSync timeout). */
  timeout: number;
}

export interface ExecSyncResult {
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number;
}

export interface Shim {
  /** Starts the monitor, which runs `runc create`; resolves with the init process's pid. */
  create(opts: CreateOptions): Promise<CreatedState>;
  /** `runc start`. */
  start(id: string): Promise<RunningState>;
  /** The process state, with the exit status once the monitor has recorded it. */
  state(id: string): Promise<ProcessState>;
  /** Signals the init process, or every process of the container with `all`. */
  kill(id: string, signal: NodeJS.Signals, opts?: { all?: boolean }): Promise<void>;
  /** Resolves when the init process has exited and the monitor has recorded it. */
  wait(id: string, signal?: AbortSignal): Promise<ExitStatus>;
  /** Removes a created or stopped container (a created one is killed first) and everything the monitor kept for it. */
  delete(id: string): Promise<void>;
  /**
   * Runs a command in the container and collects its output. Throws DeadlineExceeded when
   * the timeout ends it, even if a child it left in the background holds its output open.
   */
  execSync(id: string, opts: ExecSyncOptions): Promise<ExecSyncResult>;
  /** Makes the monitor reopen the log file, after the kubelet has rotated (renamed) it. */
  reopenLog(id: string): Promise<void>;
  /** `runc update`: new cgroup limits for a created or running container. */
  update(id: string, resources: LinuxResources): Promise<void>;
  /** After a daemon restart: finds the container's monitor and state again from what it left on disk. */
  recover(id: string): Promise<ProcessState>;
}
