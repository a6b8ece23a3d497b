// berth inspectp: pod sandbox status with verbose info (crictl inspectp).
import type { Command } from "commander";
import { PodSandboxStatusSchema } from "../cri/gen/runtime/v1/api_pb.js";
import { run } from "./context.js";
import { inspectDocument } from "./inspect-document.js";
import { formatDocument, parseOutputFormat } from "./output.js";

export function register(program: Command): void {
  program
    .command("inspectp")
    .description("Display the status of one or more pods")
    .argument("<pod-id...>", "pod ids")
    .option("-o, --output <format>", "json or yaml", "json")
    .action(
      run<{ output: string }>(async (cli, opts, args) => {
        const format = parseOutputFormat(opts.output, "json") === "yaml" ? "yaml" : "json";
        for (const id of args) {
          const res = await cli.runtime().podSandboxStatus({ podSandboxId: id, verbose: true });
          cli.print(formatDocument(inspectDocument(PodSandboxStatusSchema, res.status, res.info), format));
        }
      }),
    );
}
