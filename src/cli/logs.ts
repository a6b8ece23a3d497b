// berth logs: print a container's log, read from the CRI log file the runtime
// writes (crictl logs). -f follows it until the container stops.
import { open } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import type { Command } from "commander";
import { ContainerState } from "../cri/gen/runtime/v1/api_pb.js";
import { failedPrecondition, invalidArgument } from "../lib/errdefs.js";
import { run } from "./context.js";
import { LogLineJoiner, type LogRecord, parseCriLogLine } from "./cri-log.js";

interface LogsOptions {
  follow?: boolean;
  tail?: string;
  timestamps?: boolean;
}

const followPollMs = 200;

export function register(program: Command): void {
  program
    .command("logs")
    .description("Fetch the logs of a container")
    .argument("<container-id>", "container id")
    .option("-f, --follow", "follow the log until the container stops")
    .option("--tail <lines>", "number of lines to show from the end (-1 for all)", "-1")
    .option("-t, --timestamps", "show timestamps")
    .action(
      run<LogsOptions>(async (cli, opts, args) => {
        const tail = Number(opts.tail ?? "-1");
        if (!Number.isInteger(tail) || tail < -1)
          throw invalidArgument(`--tail "${opts.tail}": want a whole number`);
        const id = args[0] as string;
        const status = (await cli.runtime().containerStatus({ containerId: id })).status;
        if (!status?.logPath) throw failedPrecondition(`container ${id} has no log path`);
        const print = (r: LogRecord) => {
          const line = `${opts.timestamps ? `${r.timestamp} ` : ""}${r.message}\n`;
          (r.stream === "stderr" ? process.stderr : process.stdout).write(line);
        };
        const running = async () =>
          (await cli.runtime().containerStatus({ containerId: id })).status?.state ===
          ContainerState.CONTAINER_RUNNING;
        await readLog(status.logPath, { tail, follow: opts.follow === true, running }, print);
      }),
    );
}

/** Prints whole log lines from a CRI log file; keeps polling while following and the container runs. */
async function readLog(
  path: string,
  opts: { tail: number; follow: boolean; running: () => Promise<boolean> },
  print: (r: LogRecord) => void,
): Promise<void> {
  const file = await open(path, "r").catch((err: NodeJS.ErrnoException) => {
    throw failedPrecondition(
      `cannot read log file ${path}: ${err.code === "ENOENT" ? "no such file" : err.message}`,
    );
  });
  try {
    const joiner = new LogLineJoiner();
    let offset = 0;
    let rest = "";
    let first = true;
    for (;;) {
      const { size } = await file.stat();
      if (size > offset) {
        const buf = Buffer.alloc(size - offset);
        const { bytesRead } = await file.read(buf, 0, buf.length, offset);
        offset += bytesRead;
        const lines = (rest + buf.subarray(0, bytesRead).toString("utf8")).split("\n");
        rest = lines.pop() ?? "";
        const records = lines.flatMap((l) => {
          const rec = parseCriLogLine(l);
          const whole = rec && joiner.push(rec);
          return whole ? [whole] : [];
        });
        const shown =
          first && opts.tail >= 0 ? records.slice(Math.max(0, records.length - opts.tail)) : records;
        for (const r of shown) print(r);
      }
      first = false;
      if (!opts.follow) return;
      if (size === offset && !(await opts.running())) return;
      await sleep(followPollMs);
    }
  } finally {
    await file.close();
  }
}
