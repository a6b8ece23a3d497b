// berth info: runtime conditions and its verbose configuration (crictl info).
import type { Command } from "commander";
import { RuntimeStatusSchema } from "../cri/gen/runtime/v1/api_pb.js";
import { run } from "./context.js";
import { inspectDocument } from "./inspect.js";
import { formatDocument, parseOutputFormat } from "./output.js";

export function register(program: Command): void {
  program
    .command("info")
    .description("Display information of the container runtime")
    .option("-o, --output <format>", "json or yaml", "json")
    .action(
      run<{ output: string }>(async (cli, opts) => {
        const format = parseOutputFormat(opts.output, "json");
        const res = await cli.runtime().status({ verbose: true });
        cli.print(
          formatDocument(
            inspectDocument(RuntimeStatusSchema, res.status, res.info),
            format === "yaml" ? "yaml" : "json",
          ),
        );
      }),
    );
}
