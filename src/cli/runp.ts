// berth runp: run a pod sandbox from a crictl-style config file (crictl runp).
import type { Command } from "commander";
import { PodSandboxConfigSchema } from "../cri/gen/runtime/v1/api_pb.js";
import { loadConfigFile } from "./config-file.js";
import { run } from "./context.js";

export function register(program: Command): void {
  program
    .command("runp")
    .description("Run a new pod sandbox")
    .argument("<pod-config>", "pod sandbox config (JSON or YAML)")
    .option("-r, --runtime <handler>", "runtime handler to use")
    .action(
      run<{ runtime?: string }>(async (cli, opts, args) => {
        const config = await loadConfigFile(PodSandboxConfigSchema, args[0] as string);
        // The sandbox image may need pulling: no deadline unless --timeout.
        const res = await cli
          .runtime()
          .runPodSandbox(
            { config, runtimeHandler: opts.runtime ?? "" },
            { timeoutMs: cli.longCallTimeoutMs() },
          );
        cli.print(res.podSandboxId);
      }),
    );
}
