// berth stats / statsp: container and pod resource usage from CRI stats
// (crictl stats, statsp). CPU % needs two samples --seconds apart.
import { setTimeout as sleep } from "node:timers/promises";
import { create } from "@bufbuild/protobuf";
import type { Command } from "commander";
import {
  ContainerStatsFilterSchema,
  ListContainerStatsResponseSchema,
  ListPodSandboxStatsResponseSchema,
  PodSandboxStatsFilterSchema,
} from "../cri/gen/runtime/v1/api_pb.js";
import { invalidArgument } from "../lib/errdefs.js";
import { run } from "./context.js";
import { cpuPercent, cpuSample } from "./cpu-percent.js";
import {
  formatDocument,
  formatTable,
  humanSize,
  messageToJson,
  parseOutputFormat,
  truncateId,
} from "./output.js";
import { collect, parseLabels } from "./states.js";

interface StatsOptions {
  id?: string;
  pod?: string;
  label?: string[];
  seconds: string;
  output?: string;
  trunc?: boolean;
}

function interval(opts: StatsOptions): number {
  const s = Number(opts.seconds);
  if (!Number.isInteger(s) || s < 1)
    throw invalidArgument(`--seconds "${opts.seconds}": want a whole number ≥ 1`);
  return s * 1000;
}

export function register(program: Command): void {
  program
    .command("stats")
    .description("List container resource usage statistics")
    .argument("[container-id]", "only this container")
    .option("--id <id>", "filter by container id")
    .option("-p, --pod <id>", "filter by pod id")
    .option("--label <key=value>", "filter by label, repeatable", collect)
    .option("-s, --seconds <n>", "sample interval for CPU %", "1")
    .option("--no-trunc", "show full ids")
    .option("-o, --output <format>", "json, yaml or table")
    .action(
      run<StatsOptions>(async (cli, opts, args) => {
        const format = parseOutputFormat(opts.output);
        const filter = create(ContainerStatsFilterSchema, {
          id: args[0] ?? opts.id ?? "",
          podSandboxId: opts.pod ?? "",
          labelSelector: parseLabels(opts.label),
        });
        const first = await cli.runtime().listContainerStats({ filter });
        await sleep(interval(opts));
        const second = await cli.runtime().listContainerStats({ filter });
        if (format !== "table")
          return cli.print(formatDocument(messageToJson(ListContainerStatsResponseSchema, second), format));
        const before = new Map(first.stats.map((s) => [s.attributes?.id ?? "", cpuSample(s.cpu)]));
        const rows = second.stats.map((s) => {
          const id = s.attributes?.id ?? "";
          return [
            truncateId(id, opts.trunc === false),
            s.attributes?.metadata?.name ?? "",
            cpuPercent(before.get(id), cpuSample(s.cpu)).toFixed(2),
            humanSize(s.memory?.workingSetBytes?.value ?? 0n),
            humanSize(s.writableLayer?.usedBytes?.value ?? 0n),
            String(s.writableLayer?.inodesUsed?.value ?? 0n),
          ];
        });
        cli.print(formatTable(["CONTAINER", "NAME", "CPU %", "MEM", "DISK", "INODES"], rows));
      }),
    );
  program
    .command("statsp")
    .description("List pod resource usage statistics")
    .argument("[pod-id]", "only this pod")
    .option("--id <id>", "filter by pod id")
    .option("--label <key=value>", "filter by label, repeatable", collect)
    .option("-s, --seconds <n>", "sample interval for CPU %", "1")
    .option("--no-trunc", "show full ids")
    .option("-o, --output <format>", "json, yaml or table")
    .action(
      run<StatsOptions>(async (cli, opts, args) => {
        const format = parseOutputFormat(opts.output);
        const filter = create(PodSandboxStatsFilterSchema, {
          id: args[0] ?? opts.id ?? "",
          labelSelector: parseLabels(opts.label),
        });
        const first = await cli.runtime().listPodSandboxStats({ filter });
        await sleep(interval(opts));
        const second = await cli.runtime().listPodSandboxStats({ filter });
        if (format !== "table")
          return cli.print(formatDocument(messageToJson(ListPodSandboxStatsResponseSchema, second), format));
        const before = new Map(first.stats.map((s) => [s.attributes?.id ?? "", cpuSample(s.linux?.cpu)]));
        const rows = second.stats.map((s) => {
          const id = s.attributes?.id ?? "";
          return [
            s.attributes?.metadata?.name ?? "",
            truncateId(id, opts.trunc === false),
            cpuPercent(before.get(id), cpuSample(s.linux?.cpu)).toFixed(2),
            humanSize(s.linux?.memory?.workingSetBytes?.value ?? 0n),
          ];
        });
        cli.print(formatTable(["POD", "POD ID", "CPU %", "MEM"], rows));
      }),
    );
}
