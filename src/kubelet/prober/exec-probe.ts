// pkg/probe/exec/exec.go (kubelet 1.28) with the command runner it drives: kuberuntime's RunInContainer
// over CRI ExecSync, and the remote runtime client's reading of a deadline as a timed-out command.
// Exit code 0 is success, any other failure; a command that outlives timeoutSeconds is a failure too
// (ExecProbeTimeout, on in 1.28). Only a runtime that cannot run the command at all makes an error.
import type { RuntimeServiceClient } from "../../cri/remote-runtime.js";
import { BerthError, kindOf } from "../../lib/errdefs.js";
import type { ContainerID } from "../container/runtime.js";
import type { Outcome } from "./probe.js";

/** How much of the command's output the probe keeps. */
export const maxReadLength = 10 * 1024;

/** What a command run in a container gave back: stdout then stderr, and its exit code. */
export interface CommandResult {
  output: Uint8Array;
  exitCode: number;
}

/** kubecontainer.CommandRunner: runs a command in a container, failing with a TimeoutError past the timeout. */
export interface CommandRunner {
  runInContainer(
    id: ContainerID,
    cmd: string[],
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<CommandResult>;
}

/** The command did not finish within the probe's timeout. */
export class TimeoutError extends BerthError {
  constructor(message: string) {
    super("DeadlineExceeded", message);
  }
}

/** ExecProbe: the probe's result from running the command. */
export async function execProbe(run: () => Promise<CommandResult>): Promise<Outcome> {
  try {
    const { output, exitCode } = await run();
    const data = Buffer.from(output.subarray(0, maxReadLength)).toString("utf8");
    return { result: exitCode === 0 ? "success" : "failure", output: data };
  } catch (err) {
    // There is no output to show for a command that was cut off: the event says it timed out.
    if (err instanceof TimeoutError) return { result: "failure", output: err.message };
    return { result: "unknown", output: "", error: err as Error };
  }
}

/**
 * RunInContainer over CRI ExecSync. The runtime enforces the timeout (in whole seconds, as CRI carries
 * it); the call itself may take the kubelet's runtimeRequestTimeout longer, for the runtime to clean up.
 */
export function criCommandRunner(
  runtime: RuntimeServiceClient,
  runtimeRequestTimeoutMs: number,
): CommandRunner {
  return {
    async runInContainer(id, cmd, timeoutMs, signal) {
      const timeoutSeconds = Math.trunc(timeoutMs / 1000);
      try {
        const resp = await runtime.execSync(
          { containerId: id.id, cmd, timeout: BigInt(timeoutSeconds) },
          // No timeout means no deadline at all, as upstream.
          { timeoutMs: timeoutMs === 0 ? 0 : runtimeRequestTimeoutMs + timeoutMs, signal },
        );
        return { output: Buffer.concat([resp.stdout, resp.stderr]), exitCode: resp.exitCode };
      } catch (err) {
        if (kindOf(err) === "DeadlineExceeded")
          throw new TimeoutError(`command ${JSON.stringify(cmd.join(" "))} timed out`);
        throw err;
      }
    },
  };
}
