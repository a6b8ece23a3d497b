// berth pods: list pod sandboxes (crictl pods).
import { create } from "@bufbuild/protobuf";
import type { Command } from "commander";
import {
  ListPodSandboxResponseSchema,
  PodSandboxFilterSchema,
  PodSandboxStateValueSchema,
} from "../cri/gen/runtime/v1/api_pb.js";
import { run } from "./context.js";
import { newestFirst, regexpFilter } from "./list-filters.js";
import {
  formatDocument,
  formatTable,
  humanAgo,
  messageToJson,
  parseOutputFormat,
  truncateId,
} from "./output.js";
import { collect, parseLabels, parsePodState, podStateName } from "./states.js";

interface PodsOptions {
  id?: string;
  name?: string;
  namespace?: string;
  label?: string[];
  state?: string;
  latest?: boolean;
  last?: string;
  quiet?: boolean;
  trunc?: boolean;
  output?: string;
}

export function register(program: Command): void {
  program
    .command("pods")
    .description("List pod sandboxes")
    .option("--id <id>", "filter by pod id")
    .option("--name <regexp>", "filter by pod name (regular expression)")
    .option("--namespace <regexp>", "filter by pod namespace (regular expression)")
    .option("--label <key=value>", "filter by label, repeatable", collect)
    .option("-s, --state <state>", "filter by state: ready or notready")
    .option("-l, --latest", "show the most recently created pod")
    .option("--last <n>", "show the n most recently created pods")
    .option("-q, --quiet", "only display pod ids")
    .option("--no-trunc", "show full ids")
    .option("-o, --output <format>", "json, yaml or table")
    .action(
      run<PodsOptions>(async (cli, opts) => {
        const format = parseOutputFormat(opts.output);
        const filter = create(PodSandboxFilterSchema, {
          id: opts.id ?? "",
          labelSelector: parseLabels(opts.label),
          state: opts.state
            ? create(PodSandboxStateValueSchema, { state: parsePodState(opts.state) })
            : undefined,
        });
        const byName = regexpFilter("--name", opts.name);
        const byNamespace = regexpFilter("--namespace", opts.namespace);
        const res = await cli.runtime().listPodSandbox({ filter });
        const pods = newestFirst(
          res.items.filter((p) => byName(p.metadata?.name ?? "") && byNamespace(p.metadata?.namespace ?? "")),
          opts,
        );
        if (format !== "table") {
          const doc = messageToJson(ListPodSandboxResponseSchema, { ...res, items: pods });
          return cli.print(formatDocument(doc, format));
        }
        const noTrunc = opts.trunc === false;
        if (opts.quiet) return pods.length ? cli.print(pods.map((p) => p.id).join("\n")) : undefined;
        const rows = pods.map((p) => [
          truncateId(p.id, noTrunc),
          humanAgo(p.createdAt),
          podStateName(p.state),
          p.metadata?.name ?? "",
          p.metadata?.namespace ?? "",
          String(p.metadata?.attempt ?? 0),
          p.runtimeHandler || "(default)",
        ]);
        cli.print(
          formatTable(["POD ID", "CREATED", "STATE", "NAME", "NAMESPACE", "ATTEMPT", "RUNTIME"], rows),
        );
      }),
    );
}
