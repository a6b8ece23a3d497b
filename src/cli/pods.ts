// berth pods: list pod sandboxes (crictl pods).
import { create } from "@bufbuild/protobuf";
import type { Command } from "commander";
import {
  ListPodSandboxResponseSchema,
  PodSandboxFilterSchema,
  PodSandboxStateValueSchema,
} from "../cri/gen/runtime/v1/api_pb.js";
import { run } from "./context.js";
import { type ListOptions, newestFirst, regexpFilter, withListOptions } from "./list-filters.js";
import {
  formatDocument,
  formatTable,
  humanAgo,
  messageToJson,
  parseOutputFormat,
  truncateId,
} from "./output.js";
import { parseLabels, parsePodState, podStateName } from "./states.js";

interface PodsOptions extends ListOptions {
  namespace?: string;
}

export function register(program: Command): void {
  withListOptions(program.command("pods").description("List pod sandboxes"), "pod", "ready or notready")
    .option("--namespace <regexp>", "filter by pod namespace (regular expression)")
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
