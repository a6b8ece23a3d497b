// berth ps: list containers (crictl ps).
import { create } from "@bufbuild/protobuf";
import type { Command } from "commander";
import {
  ContainerFilterSchema,
  ContainerState,
  ContainerStateValueSchema,
  ListContainersResponseSchema,
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
import { collect, containerStateName, parseContainerState, parseLabels } from "./states.js";

interface PsOptions {
  all?: boolean;
  id?: string;
  pod?: string;
  name?: string;
  image?: string;
  label?: string[];
  state?: string;
  latest?: boolean;
  last?: string;
  quiet?: boolean;
  trunc?: boolean;
  output?: string;
}

/** The kubelet's label naming a container's pod; crictl shows it in the POD column. */
const PodNameLabel = "io.kubernetes.pod.name";

export function register(program: Command): void {
  program
    .command("ps")
    .description("List containers")
    .option("-a, --all", "show all containers, not only running ones")
    .option("--id <id>", "filter by container id")
    .option("-p, --pod <id>", "filter by pod id")
    .option("--name <regexp>", "filter by container name (regular expression)")
    .option("--image <regexp>", "filter by image (regular expression)")
    .option("--label <key=value>", "filter by label, repeatable", collect)
    .option("-s, --state <state>", "filter by state: created, running, exited or unknown")
    .option("-l, --latest", "show the most recently created container")
    .option("--last <n>", "show the n most recently created containers")
    .option("-q, --quiet", "only display container ids")
    .option("--no-trunc", "show full ids")
    .option("-o, --output <format>", "json, yaml or table")
    .action(
      run<PsOptions>(async (cli, opts) => {
        const format = parseOutputFormat(opts.output);
        // Without --all or --state crictl shows running containers only.
        const state =
          opts.state !== undefined
            ? parseContainerState(opts.state)
            : opts.all || opts.latest || opts.last
              ? undefined
              : ContainerState.CONTAINER_RUNNING;
        const filter = create(ContainerFilterSchema, {
          id: opts.id ?? "",
          podSandboxId: opts.pod ?? "",
          labelSelector: parseLabels(opts.label),
          state: state === undefined ? undefined : create(ContainerStateValueSchema, { state }),
        });
        const byName = regexpFilter("--name", opts.name);
        const byImage = regexpFilter("--image", opts.image);
        const res = await cli.runtime().listContainers({ filter });
        const containers = newestFirst(
          res.containers.filter((c) => byName(c.metadata?.name ?? "") && byImage(c.image?.image ?? "")),
          opts,
        );
        if (format !== "table") {
          const doc = messageToJson(ListContainersResponseSchema, { ...res, containers });
          return cli.print(formatDocument(doc, format));
        }
        if (opts.quiet)
          return containers.length ? cli.print(containers.map((c) => c.id).join("\n")) : undefined;
        const noTrunc = opts.trunc === false;
        const rows = containers.map((c) => {
          const image = c.image?.image ?? "";
          return [
            truncateId(c.id, noTrunc),
            image.startsWith("sha256:") ? truncateId(image, noTrunc) : image,
            humanAgo(c.createdAt),
            containerStateName(c.state),
            c.metadata?.name ?? "",
            String(c.metadata?.attempt ?? 0),
            truncateId(c.podSandboxId, noTrunc),
            c.labels[PodNameLabel] ?? "unknown",
          ];
        });
        cli.print(
          formatTable(["CONTAINER", "IMAGE", "CREATED", "STATE", "NAME", "ATTEMPT", "POD ID", "POD"], rows),
        );
      }),
    );
}
