// berth: crictl-compatible commands against any CRI endpoint.
import { Command, CommanderError, Option } from "commander";
import { DefaultEndpoint } from "../cri/endpoint.js";
import { BerthError, messageOf } from "../lib/errdefs.js";
import * as containerActions from "./container-actions.js";
import * as create from "./create.js";
import * as exec from "./exec.js";
import * as imagefsinfo from "./imagefsinfo.js";
import * as images from "./images.js";
import * as info from "./info.js";
import * as inspect from "./inspect.js";
import * as logs from "./logs.js";
import * as podActions from "./pod-actions.js";
import * as pods from "./pods.js";
import * as ps from "./ps.js";
import * as pull from "./pull.js";
import * as rmi from "./rmi.js";
import * as runp from "./runp.js";
import * as runtime from "./runtime.js";
import * as stats from "./stats.js";
import * as update from "./update.js";
import * as version from "./version.js";

/** The whole command tree, in `berth --help` order. */
const commands = [
  version,
  info,
  pods,
  runp,
  podActions,
  ps,
  create,
  containerActions,
  inspect,
  logs,
  exec,
  stats,
  update,
  images,
  pull,
  rmi,
  imagefsinfo,
  runtime,
];

export function newProgram(): Command {
  const program = new Command("berth")
    .description("berth: a Kubernetes node in TypeScript. These commands talk CRI to any runtime endpoint.")
    .addOption(
      new Option("-r, --runtime-endpoint <endpoint>", "CRI runtime endpoint")
        .env("CONTAINER_RUNTIME_ENDPOINT")
        .default(DefaultEndpoint),
    )
    .addOption(
      new Option("-i, --image-endpoint <endpoint>", "CRI image endpoint (default: the runtime endpoint)").env(
        "IMAGE_SERVICE_ENDPOINT",
      ),
    )
    .addOption(new Option("-t, --timeout <duration>", "deadline of each call, e.g. 30s").default("30s"))
    .option("-D, --debug", "show stack traces of errors")
    .enablePositionalOptions()
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride();
  for (const c of commands) c.register(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = newProgram();
  try {
    await program.parseAsync(argv, { from: "user" });
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (err) {
    // Commander has already printed usage errors and help.
    if (err instanceof CommanderError) return err.exitCode;
    const debug = program.opts().debug === true;
    process.stderr.write(`berth: ${err instanceof BerthError || !debug ? messageOf(err) : String(err)}\n`);
    if (debug && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    return 1;
  }
}
