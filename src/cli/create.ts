// berth create: create a container in a pod from crictl-style config files (crictl create).
import type { Command } from "commander";
import { ContainerConfigSchema, PodSandboxConfigSchema } from "../cri/gen/runtime/v1/api_pb.js";
import { invalidArgument } from "../lib/errdefs.js";
import { loadConfigFile } from "./config-file.js";
import { run } from "./context.js";
import { authConfig } from "./pull.js";

interface CreateOptions {
  pull: boolean;
  creds?: string;
  auth?: string;
}

export function register(program: Command): void {
  program
    .command("create")
    .description("Create a new container in a pod")
    .argument("<pod-id>", "the pod to create the container in")
    .argument("<container-config>", "container config (JSON or YAML)")
    .argument("<pod-config>", "the pod's sandbox config (JSON or YAML)")
    .option("--no-pull", "do not pull the image if it is missing")
    .option("--creds <user:password>", "registry credentials for the pull")
    .option("--auth <base64>", "base64 of user:password for the pull")
    .action(
      run<CreateOptions>(async (cli, opts, args) => {
        const [podSandboxId, containerFile, podFile] = args as [string, string, string];
        const config = await loadConfigFile(ContainerConfigSchema, containerFile);
        const sandboxConfig = await loadConfigFile(PodSandboxConfigSchema, podFile);
        const image = config.image?.image;
        if (!image) throw invalidArgument(`config file ${containerFile}: image.image is required`);
        if (opts.pull) {
          const status = await cli.image().imageStatus({ image: { image } });
          if (!status.image) {
            await cli
              .image()
              .pullImage(
                { image: { image }, auth: authConfig(opts), sandboxConfig },
                { timeoutMs: cli.longCallTimeoutMs() },
              );
          }
        }
        const res = await cli.runtime().createContainer({ podSandboxId, config, sandboxConfig });
        cli.print(res.containerId);
      }),
    );
}
