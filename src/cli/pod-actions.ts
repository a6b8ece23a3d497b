// berth stopp / rmp: stop and remove pod sandboxes (crictl stopp, rmp).
import type { Command } from "commander";
import { PodSandboxState } from "../cri/gen/runtime/v1/api_pb.js";
import { invalidArgument } from "../lib/errdefs.js";
import { run } from "./context.js";

export function register(program: Command): void {
  program
    .command("stopp")
    .description("Stop one or more running pods")
    .argument("<pod-id...>", "pod ids")
    .action(
      run(async (cli, _opts, args) => {
        for (const id of args) {
          await cli.runtime().stopPodSandbox({ podSandboxId: id }, { timeoutMs: cli.longCallTimeoutMs() });
          cli.print(`Stopped sandbox ${id}`);
        }
      }),
    );
  program
    .command("rmp")
    .description("Remove one or more pods")
    .argument("[pod-id...]", "pod ids")
    .option("-f, --force", "stop pods that are still ready before removing them")
    .option("-a, --all", "remove all pods")
    .action(
      run<{ force?: boolean; all?: boolean }>(async (cli, opts, args) => {
        const runtime = cli.runtime();
        const pods = opts.all ? (await runtime.listPodSandbox({})).items.map((p) => p.id) : args;
        if (!opts.all && pods.length === 0) throw invalidArgument("rmp: name at least one pod, or use --all");
        for (const id of pods) {
          if (opts.force) {
            const status = await runtime.podSandboxStatus({ podSandboxId: id });
            if (status.status?.state === PodSandboxState.SANDBOX_READY) {
              await runtime.stopPodSandbox({ podSandboxId: id }, { timeoutMs: cli.longCallTimeoutMs() });
            }
          }
          await runtime.removePodSandbox({ podSandboxId: id }, { timeoutMs: cli.longCallTimeoutMs() });
          cli.print(`Removed sandbox ${id}`);
        }
      }),
    );
}
