// berth inspect: container status with verbose info (crictl inspect).
import type { Command } from "commander";
import { ContainerStatusSchema } from "../cri/gen/runtime/v1/api_pb.js";
import { run } from "./context.js";
import { inspectDocument } from "./inspect-document.js";
import { formatDocument, parseOutputFormat } from "./output.js";

export function register(program: Command): void {
  program
    .command("inspect")
    .description("Display the status of one or more containers")
    .argument("<container-id...>", "container ids")
    .option("-o, --output <format>", "json or yaml", "json")
    .action(
      run<{ output: string }>(async (cli, opts, args) => {
        const format = parseOutputFormat(opts.output, "json") === "yaml" ? "yaml" : "json";
        for (const id of args) {
          const res = await cli.runtime().containerStatus({ containerId: id, verbose: true });
          cli.print(formatDocument(inspectDocument(ContainerStatusSchema, res.status, res.info), format));
        }
      }),
    );
}
