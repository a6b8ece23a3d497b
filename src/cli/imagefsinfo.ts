// berth imagefsinfo: usage of the image filesystem (crictl imagefsinfo).
import type { Command } from "commander";
import { FilesystemUsageSchema } from "../cri/gen/runtime/v1/api_pb.js";
import { run } from "./context.js";
import { formatDocument, messageToJson, parseOutputFormat } from "./output.js";

export function register(program: Command): void {
  program
    .command("imagefsinfo")
    .description("Return image filesystem info")
    .option("-o, --output <format>", "json or yaml", "json")
    .action(
      run<{ output: string }>(async (cli, opts) => {
        const format = parseOutputFormat(opts.output, "json") === "yaml" ? "yaml" : "json";
        const res = await cli.image().imageFsInfo({});
        for (const fs of res.imageFilesystems) {
          cli.print(formatDocument({ status: messageToJson(FilesystemUsageSchema, fs) }, format));
        }
      }),
    );
}
