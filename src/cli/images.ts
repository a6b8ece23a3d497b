// berth images: list images (crictl images); import and export are its subcommands.
import { create } from "@bufbuild/protobuf";
import type { Command } from "commander";
import {
  ImageFilterSchema,
  ImageSpecSchema,
  ListImagesResponseSchema,
} from "../cri/gen/runtime/v1/api_pb.js";
import { run } from "./context.js";
import * as imagesExport from "./images-export.js";
import * as imagesImport from "./images-import.js";
import {
  formatDocument,
  formatTable,
  humanSize,
  messageToJson,
  parseOutputFormat,
  truncateId,
} from "./output.js";

interface ImagesOptions {
  quiet?: boolean;
  digests?: boolean;
  trunc?: boolean;
  output?: string;
}

/** "repo:tag" → [repo, tag], leaving a registry port alone. */
export function splitRepoTag(ref: string): [string, string] {
  const slash = ref.lastIndexOf("/");
  const colon = ref.lastIndexOf(":");
  return colon > slash ? [ref.slice(0, colon), ref.slice(colon + 1)] : [ref, "<none>"];
}

export function register(program: Command): void {
  const images = program
    .command("images")
    .alias("image")
    .description("List images")
    .argument("[image]", "only images of this reference")
    .option("-q, --quiet", "only show image ids")
    .option("--digests", "show digests")
    .option("--no-trunc", "show full ids")
    .option("-o, --output <format>", "json, yaml or table")
    .action(
      run<ImagesOptions>(async (cli, opts, args) => {
        const format = parseOutputFormat(opts.output);
        const filter = args[0]
          ? create(ImageFilterSchema, { image: create(ImageSpecSchema, { image: args[0] }) })
          : undefined;
        const res = await cli.image().listImages({ filter });
        if (format !== "table")
          return cli.print(formatDocument(messageToJson(ListImagesResponseSchema, res), format));
        if (opts.quiet)
          return res.images.length ? cli.print(res.images.map((i) => i.id).join("\n")) : undefined;
        const noTrunc = opts.trunc === false;
        const rows: string[][] = [];
        for (const img of res.images) {
          const digest = img.repoDigests[0]?.split("@")[1] ?? "<none>";
          const refs = img.repoTags.length
            ? img.repoTags.map(splitRepoTag)
            : [[img.repoDigests[0]?.split("@")[0] ?? "<none>", "<none>"] as [string, string]];
          for (const [repo, tag] of refs) {
            const row = [repo, tag];
            if (opts.digests) row.push(truncateId(digest, noTrunc));
            row.push(truncateId(img.id, noTrunc), humanSize(img.size));
            rows.push(row);
          }
        }
        const header = opts.digests
          ? ["IMAGE", "TAG", "DIGEST", "IMAGE ID", "SIZE"]
          : ["IMAGE", "TAG", "IMAGE ID", "SIZE"];
        cli.print(formatTable(header, rows));
      }),
    );
  // `berth images` alone still lists; these two are ctr's `images import|export`.
  imagesImport.register(images);
  imagesExport.register(images);
}
