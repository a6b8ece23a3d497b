// berth version: the runtime's name and versions (crictl version).
import type { Command } from "commander";
import { VersionResponseSchema } from "../cri/gen/runtime/v1/api_pb.js";
import { run } from "./context.js";
import { formatDocument, messageToJson, parseOutputFormat } from "./output.js";

/** The CRI version the client speaks, sent as VersionRequest.version. */
export const KubeRuntimeAPIVersion = "0.1.0";

export function register(program: Command): void {
  program
    .command("version")
    .description("Display runtime version information")
    .option("-o, --output <format>", "json, yaml or table")
    .action(
      run<{ output?: string }>(async (cli, opts) => {
        const format = parseOutputFormat(opts.output);
        const v = await cli.runtime().version({ version: KubeRuntimeAPIVersion });
        if (format !== "table")
          return cli.print(formatDocument(messageToJson(VersionResponseSchema, v), format));
        cli.print(
          [
            `Version:  ${v.version}`,
            `RuntimeName:  ${v.runtimeName}`,
            `RuntimeVersion:  ${v.runtimeVersion}`,
            `RuntimeApiVersion:  ${v.runtimeApiVersion}`,
          ].join("\n"),
        );
      }),
    );
}
