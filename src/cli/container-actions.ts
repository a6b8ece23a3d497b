// berth start / stop / rm: container lifecycle (crictl start, stop, rm).
import type { Command } from "commander";
import { ContainerState } from "../cri/gen/runtime/v1/api_pb.js";
import { invalidArgument } from "../lib/errdefs.js";
import { run } from "./context.js";

/** The grace period of `stop` when none is given, as crictl's default. */
const DefaultStopTimeoutSeconds = 0;

export function register(program: Command): void {
  program
    .command("start")
    .description("Start one or more created containers")
    .argument("<container-id...>", "container ids")
    .action(
      run(async (cli, _opts, args) => {
        for (const id of args) {
          await cli.runtime().startContainer({ containerId: id });
          cli.print(id);
        }
      }),
    );
  program
    .command("stop")
    .description("Stop one or more running containers")
    .argument("<container-id...>", "container ids")
    .option(
      "-t, --timeout <seconds>",
      "seconds to wait before killing the container",
      String(DefaultStopTimeoutSeconds),
    )
    .action(
      run<{ timeout: string }>(async (cli, opts, args) => {
        const grace = Number(opts.timeout);
        if (!Number.isInteger(grace) || grace < 0)
          throw invalidArgument(`--timeout "${opts.timeout}": want whole seconds`);
        for (const id of args) {
          // The call lasts as long as the grace period, so the deadline grows with it.
          await cli
            .runtime()
            .stopContainer(
              { containerId: id, timeout: BigInt(grace) },
              { timeoutMs: cli.timeoutMs + grace * 1000 },
            );
          cli.print(id);
        }
      }),
    );
  program
    .command("rm")
    .description("Remove one or more containers")
    .argument("[container-id...]", "container ids")
    .option("-f, --force", "stop running containers before removing them")
    .option("-a, --all", "remove all containers")
    .action(
      run<{ force?: boolean; all?: boolean }>(async (cli, opts, args) => {
        const runtime = cli.runtime();
        const ids = opts.all ? (await runtime.listContainers({})).containers.map((c) => c.id) : args;
        if (!opts.all && ids.length === 0)
          throw invalidArgument("rm: name at least one container, or use --all");
        for (const id of ids) {
          const status = await runtime.containerStatus({ containerId: id });
          if (status.status?.state === ContainerState.CONTAINER_RUNNING) {
            if (!opts.force) {
              throw invalidArgument(`container ${id} is running: stop it first, or use rm --force`);
            }
            await runtime.stopContainer({ containerId: id, timeout: 0n });
          }
          await runtime.removeContainer({ containerId: id });
          cli.print(id);
        }
      }),
    );
}
