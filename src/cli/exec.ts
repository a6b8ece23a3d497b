// berth exec: run a command in a running container via ExecSync and pass on its
// output and exit code (crictl exec -s). Interactive exec needs the streaming
// server and comes later.
import type { Command } from "commander";
import { invalidArgument } from "../lib/errdefs.js";
import { ExitCode, run } from "./context.js";

export function register(program: Command): void {
  program
    .command("exec")
    .description("Run a command in a running container")
    .argument("<container-id>", "container id")
    .argument("<command...>", "command and its arguments")
    .option("-s, --sync", "run synchronously (the only mode for now)")
    .option("--timeout <seconds>", "stop the command after this many seconds (0: no limit)", "0")
    .passThroughOptions()
    .action(
      run<{ timeout: string }>(async (cli, opts, args) => {
        const [containerId, ...cmd] = args as [string, ...string[]];
        const timeout = Number(opts.timeout);
        if (!Number.isInteger(timeout) || timeout < 0)
          throw invalidArgument(`--timeout "${opts.timeout}": want whole seconds`);
        const res = await cli
          .runtime()
          .execSync(
            { containerId, cmd, timeout: BigInt(timeout) },
            { timeoutMs: timeout > 0 ? cli.timeoutMs + timeout * 1000 : cli.longCallTimeoutMs() },
          );
        process.stdout.write(res.stdout);
        process.stderr.write(res.stderr);
        return new ExitCode(res.exitCode);
      }),
    );
}
