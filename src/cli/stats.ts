// berth stats / statsp: container and pod resource usage from CRI stats
// (crictl stats, statsp). CPU % needs two samples --seconds apart.
import { setTimeout as sleep } from "node:timers/promises";
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import type { Command } from "commander";
import {
  ListContainerStatsResponseSchema,
  ListPodSandboxStatsResponseSchema,
} from "../cri/gen/runtime/v1/api_pb.js";
import { invalidArgument } from "../lib/errdefs.js";
import { type Cli, run } from "./context.js";
import { type CpuSample, cpuPercent, cpuSample } from "./cpu-percent.js";
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

interface StatsSpec<D extends DescMessage, S> {
  name: string;
  description: string;
  argument: string;
  /** Flags beyond the shared ones. */
  extraOptions?: (cmd: Command) => Command;
  schema: D;
  list: (cli: Cli, opts: StatsOptions, id: string) => Promise<MessageShape<D> & { stats: S[] }>;
  idOf: (s: S) => string;
  cpuOf: (s: S) => CpuSample | undefined;
  header: string[];
  row: (s: S, id: string, cpu: string) => string[];
}

function statsCommand<D extends DescMessage, S>(program: Command, spec: StatsSpec<D, S>): void {
  let cmd = program
    .command(spec.name)
    .description(spec.description)
    .argument(`[${spec.argument}]`, `only this ${spec.argument.replace(/-id$/, "")}`)
    .option("--id <id>", `filter by ${spec.argument.replace(/-/, " ")}`)
    .option("--label <key=value>", "filter by label, repeatable", collect)
    .option("-s, --seconds <n>", "sample interval for CPU %", "1")
    .option("--no-trunc", "show full ids")
    .option("-o, --output <format>", "json, yaml or table");
  cmd = spec.extraOptions?.(cmd) ?? cmd;
  cmd.action(
    run<StatsOptions>(async (cli, opts, args) => {
      const format = parseOutputFormat(opts.output);
      const seconds = Number(opts.seconds);
      if (!Number.isInteger(seconds) || seconds < 1) {
        throw invalidArgument(`--seconds "${opts.seconds}": want a whole number ≥ 1`);
      }
      const id = args[0] ?? opts.id ?? "";
      const first = await spec.list(cli, opts, id);
      await sleep(seconds * 1000);
      const second = await spec.list(cli, opts, id);
      if (format !== "table") return cli.print(formatDocument(messageToJson(spec.schema, second), format));
      const before = new Map(first.stats.map((s) => [spec.idOf(s), spec.cpuOf(s)]));
      const rows = second.stats.map((s) => {
        const sid = spec.idOf(s);
        const cpu = cpuPercent(before.get(sid), spec.cpuOf(s)).toFixed(2);
        return spec.row(s, truncateId(sid, opts.trunc === false), cpu);
      });
      cli.print(formatTable(spec.header, rows));
    }),
  );
}

export function register(program: Command): void {
  statsCommand(program, {
    name: "stats",
    description: "List container resource usage statistics",
    argument: "container-id",
    extraOptions: (cmd) => cmd.option("-p, --pod <id>", "filter by pod id"),
    schema: ListContainerStatsResponseSchema,
    list: (cli, opts, id) =>
      cli.runtime().listContainerStats({
        filter: { id, podSandboxId: opts.pod ?? "", labelSelector: parseLabels(opts.label) },
      }),
    idOf: (s) => s.attributes?.id ?? "",
    cpuOf: (s) => cpuSample(s.cpu),
    header: ["CONTAINER", "NAME", "CPU %", "MEM", "DISK", "INODES"],
    row: (s, id, cpu) => [
      id,
      s.attributes?.metadata?.name ?? "",
      cpu,
      humanSize(s.memory?.workingSetBytes?.value ?? 0n),
      humanSize(s.writableLayer?.usedBytes?.value ?? 0n),
      String(s.writableLayer?.inodesUsed?.value ?? 0n),
    ],
  });
  statsCommand(program, {
    name: "statsp",
    description: "List pod resource usage statistics",
    argument: "pod-id",
    schema: ListPodSandboxStatsResponseSchema,
    list: (cli, opts, id) =>
      cli.runtime().listPodSandboxStats({ filter: { id, labelSelector: parseLabels(opts.label) } }),
    idOf: (s) => s.attributes?.id ?? "",
    cpuOf: (s) => cpuSample(s.linux?.cpu),
    header: ["POD", "POD ID", "CPU %", "MEM"],
    row: (s, id, cpu) => [
      s.attributes?.metadata?.name ?? "",
      id,
      cpu,
      humanSize(s.linux?.memory?.workingSetBytes?.value ?? 0n),
    ],
  });
}
