// After containerd's cmd/containerd-shim-runc-v2/process/init_state.go: a container's init
// process is created, running or stopped, and each state allows its own operations
// (a running process cannot be deleted, a stopped one cannot be started, updated or exec'd
// into). Deleted containers are forgotten by the shim, so they have no state here.
//
// The CRI view follows containerd's pkg/cri: the container state derives from the process
// state, and the reason of an exited container is OOMKilled when the kernel's OOM killer
// hit it (containerd sets it on the TaskOOM event), Unknown when no monitor saw the exit
// (restart.go's unknownExitReason), and otherwise Completed or Error by exit code
// (container_status.go's toCRIContainerStatus).
import { failedPrecondition } from "../lib/errdefs.js";

export interface ExitStatus {
  /** The exit code, or 128 + the signal that ended the process (as conmon and the shell report it). */
  exitCode: number;
  exitedAt: Date;
  /** The kernel's OOM killer killed a process of the container. */
  oomKilled: boolean;
  /**
   * The monitor died without recording the exit: the code is 255 and the time is when that
   * was noticed, as containerd reports a task that vanished.
   */
  monitorLost?: boolean;
}

export interface CreatedState {
  status: "created";
  pid: number;
  createdAt: Date;
}

export interface RunningState {
  status: "running";
  pid: number;
  createdAt: Date;
  startedAt: Date;
}

export interface StoppedState {
  status: "stopped";
  pid: number;
  createdAt: Date;
  /** Absent when the process exited (or was killed) before it was started. */
  startedAt?: Date;
  exit: ExitStatus;
}

export type ProcessState = CreatedState | RunningState | StoppedState;
export type ProcessStatus = ProcessState["status"];

export type Operation = "start" | "delete" | "kill" | "update" | "exec" | "reopenLog";

/** What each state allows, as the methods of init_state.go's createdState, runningState and stoppedState. */
const allowed: { readonly [S in ProcessStatus]: readonly Operation[] } = {
  created: ["start", "delete", "kill", "update", "exec"],
  // Only a running container's log is reopened, as containerd's ReopenContainerLog requires.
  running: ["kill", "update", "exec", "reopenLog"],
  stopped: ["delete", "kill"],
};

/** Throws FailedPrecondition ("cannot start a running process") unless `state` allows `op`. */
export function assertAllowed(state: ProcessState, op: Operation): void {
  if (!allowed[state.status].includes(op)) throw failedPrecondition(`cannot ${op} a ${state.status} process`);
}

/** created → running. */
export function started(state: ProcessState, startedAt: Date): RunningState {
  assertAllowed(state, "start");
  return { status: "running", pid: state.pid, createdAt: state.createdAt, startedAt };
}

/** created or running → stopped; a stopped process keeps its first exit (SetExited is a no-op there). */
export function exited(state: ProcessState, exit: ExitStatus): StoppedState {
  if (state.status === "stopped") return state;
  return {
    status: "stopped",
    pid: state.pid,
    createdAt: state.createdAt,
    ...(state.status === "running" ? { startedAt: state.startedAt } : {}),
    exit,
  };
}

/** CRI's ContainerState, by the names of the runtime.v1 enum. */
export type ContainerState =
  | "CONTAINER_CREATED"
  | "CONTAINER_RUNNING"
  | "CONTAINER_EXITED"
  | "CONTAINER_UNKNOWN";

/** The CRI state of a container whose process state is `state`; undefined when it could not be learnt. */
export function containerState(state: ProcessState | undefined): ContainerState {
  switch (state?.status) {
    case "created":
      return "CONTAINER_CREATED";
    case "running":
      return "CONTAINER_RUNNING";
    case "stopped":
      return "CONTAINER_EXITED";
    default:
      return "CONTAINER_UNKNOWN";
  }
}

export type ExitReason = "Completed" | "Error" | "OOMKilled" | "Unknown";

/** The reason CRI gives for an exited container. */
export function exitReason(exit: ExitStatus): ExitReason {
  if (exit.monitorLost) return "Unknown";
  if (exit.oomKilled) return "OOMKilled";
  return exit.exitCode === 0 ? "Completed" : "Error";
}
