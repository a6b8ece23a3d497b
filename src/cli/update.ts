// berth update: change a running container's cgroup resources through
// UpdateContainerResources (crictl update). Only the flags given are sent.
import { create } from "@bufbuild/protobuf";
import type { Command } from "commander";
import { LinuxContainerResourcesSchema } from "../cri/gen/runtime/v1/api_pb.js";
import { invalidArgument } from "../lib/errdefs.js";
import { run } from "./context.js";
import { ramInBytes } from "./resource-units.js";

interface UpdateOptions {
  cpuPeriod?: string;
  cpuQuota?: string;
  cpuShare?: string;
  cpusetCpus?: string;
  cpusetMems?: string;
  memory?: string;
}

function wholeNumber(flag: string, value: string | undefined): bigint {
  if (value === undefined) return 0n;
  if (!/^-?\d+$/.test(value)) throw invalidArgument(`${flag} "${value}": want a whole number`);
  return BigInt(value);
}

export function register(program: Command): void {
  program
    .command("update")
    .description("Update one or more running containers' resources")
    .argument("<container-id...>", "container ids")
    .option("--cpu-period <us>", "CPU CFS period in microseconds")
    .option("--cpu-quota <us>", "CPU CFS quota in microseconds")
    .option("--cpu-share <shares>", "CPU shares (relative weight)")
    .option("--cpuset-cpus <cpus>", "CPUs to allow, e.g. 0-1")
    .option("--cpuset-mems <mems>", "memory nodes to allow, e.g. 0")
    .option("--memory <size>", "memory limit, e.g. 128m")
    .action(
      run<UpdateOptions>(async (cli, opts, args) => {
        const linux = create(LinuxContainerResourcesSchema, {
          cpuPeriod: wholeNumber("--cpu-period", opts.cpuPeriod),
          cpuQuota: wholeNumber("--cpu-quota", opts.cpuQuota),
          cpuShares: wholeNumber("--cpu-share", opts.cpuShare),
          cpusetCpus: opts.cpusetCpus ?? "",
          cpusetMems: opts.cpusetMems ?? "",
          memoryLimitInBytes: opts.memory === undefined ? 0n : ramInBytes(opts.memory),
        });
        for (const containerId of args) {
          await cli.runtime().updateContainerResources({ containerId, linux });
          cli.print(containerId);
        }
      }),
    );
}
