// berth inspect / inspectp / inspecti: a status with the runtime's verbose info
// (crictl inspect, inspectp, inspecti), one document per id.
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import type { Command } from "commander";
import { ContainerStatusSchema, ImageSchema, PodSandboxStatusSchema } from "../cri/gen/runtime/v1/api_pb.js";
import { notFound } from "../lib/errdefs.js";
import { type Cli, run } from "./context.js";
import { formatDocument, messageToJson, parseOutputFormat } from "./output.js";

interface Inspected<D extends DescMessage> {
  status?: MessageShape<D>;
  info: Record<string, string>;
}

function inspectCommand<D extends DescMessage>(
  program: Command,
  spec: {
    name: string;
    description: string;
    argument: string;
    schema: D;
    fetch: (cli: Cli, id: string) => Promise<Inspected<D>>;
  },
): void {
  program
    .command(spec.name)
    .description(spec.description)
    .argument(`<${spec.argument}...>`, `${spec.argument}s`)
    .option("-o, --output <format>", "json or yaml", "json")
    .action(
      run<{ output: string }>(async (cli, opts, args) => {
        const format = parseOutputFormat(opts.output, "json") === "yaml" ? "yaml" : "json";
        for (const id of args) {
          const { status, info } = await spec.fetch(cli, id);
          cli.print(formatDocument(inspectDocument(spec.schema, status, info), format));
        }
      }),
    );
}

/**
 * The document crictl prints: the status message plus the verbose info map, whose
 * values are JSON when the runtime says so.
 */
export function inspectDocument<D extends DescMessage>(
  schema: D,
  status: MessageShape<D> | undefined,
  info: Record<string, string> = {},
): Record<string, unknown> {
  const doc: Record<string, unknown> = { status: status ? messageToJson(schema, status) : null };
  for (const [key, value] of Object.entries(info)) {
    try {
      doc[key] = JSON.parse(value);
    } catch {
      doc[key] = value;
    }
  }
  return doc;
}

export function register(program: Command): void {
  inspectCommand(program, {
    name: "inspect",
    description: "Display the status of one or more containers",
    argument: "container-id",
    schema: ContainerStatusSchema,
    fetch: async (cli, id) => cli.runtime().containerStatus({ containerId: id, verbose: true }),
  });
  inspectCommand(program, {
    name: "inspectp",
    description: "Display the status of one or more pods",
    argument: "pod-id",
    schema: PodSandboxStatusSchema,
    fetch: async (cli, id) => cli.runtime().podSandboxStatus({ podSandboxId: id, verbose: true }),
  });
  inspectCommand(program, {
    name: "inspecti",
    description: "Return the status of one or more images",
    argument: "image",
    schema: ImageSchema,
    fetch: async (cli, ref) => {
      const res = await cli.image().imageStatus({ image: { image: ref }, verbose: true });
      if (!res.image) throw notFound(`image "${ref}" not found`);
      return { status: res.image, info: res.info };
    },
  });
}
