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
import { type ListOptions, newestFirst, regexpFilter, withListOptions } from "./list-filters.js";
import {
  formatDocument,
  formatTable,
  humanAgo,
  messageToJson,
  parseOutputFormat,
  truncateId,
} from "./output.js";
import { containerStateName, parseContainerState, parseLabels } from "./states.js";

interface PsOptions extends ListOptions {
  all?: boolean;
  pod?: string;
  image?: string;
}

/** The kubelet's label naming a container's pod; crictl shows it in the POD column. */
const PodNameLabel = "io.kubernetes.pod.name";

export function register(program: Command): void {
  withListOptions(
    program.command("ps").description("List containers"),
    "container",
    "created, running, exited or unknown",
  )
    .option("-a, --all", "show all containers, not only running ones")
    .option("-p, --pod <id>", "filter by pod id")
    .option("--image <regexp>", "filter by image (regular expression)")
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
