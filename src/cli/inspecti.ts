// berth inspecti: image status with the runtime's verbose info (crictl inspecti).
import type { Command } from "commander";
import { ImageSchema } from "../cri/gen/runtime/v1/api_pb.js";
import { notFound } from "../lib/errdefs.js";
import { run } from "./context.js";
import { inspectDocument } from "./inspect-document.js";
import { formatDocument, parseOutputFormat } from "./output.js";

export function register(program: Command): void {
  program
    .command("inspecti")
    .description("Return the status of one or more images")
    .argument("<image...>", "image references or ids")
    .option("-o, --output <format>", "json or yaml", "json")
    .action(
      run<{ output: string }>(async (cli, opts, args) => {
        const format = parseOutputFormat(opts.output, "json") === "yaml" ? "yaml" : "json";
        for (const ref of args) {
          const res = await cli.image().imageStatus({ image: { image: ref }, verbose: true });
          if (!res.image) throw notFound(`image "${ref}" not found`);
          cli.print(formatDocument(inspectDocument(ImageSchema, res.image, res.info), format));
        }
      }),
    );
}
