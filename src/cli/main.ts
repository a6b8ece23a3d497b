// berth: crictl-compatible commands against any CRI endpoint.
import { Command, CommanderError, Option } from "commander";
import { DefaultEndpoint } from "../cri/endpoint.js";
import { BerthError, messageOf } from "../lib/errdefs.js";
import * as runtime from "./runtime.js";

interface CommandModule {
  register(program: Command): void;
}

/** The daemons, loaded alone when they are what runs. */
const daemons = { runtime: async () => runtime, kubelet: () => import("./kubelet.js") } as const;

/**
 * The whole command tree, in `berth --help` order, loaded on demand: `berth runtime`, a
 * long-lived daemon, loads none of the client commands and their CRI client code.
 */
const commands: readonly (() => Promise<CommandModule>)[] = [
  () => import("./version.js"),
  () => import("./info.js"),
  () => import("./pods.js"),
  () => import("./runp.js"),
  () => import("./pod-actions.js"),
  () => import("./ps.js"),
  () => import("./create.js"),
  () => import("./container-actions.js"),
  () => import("./inspect.js"),
  () => import("./logs.js"),
  () => import("./exec.js"),
  () => import("./stats.js"),
  () => import("./update.js"),
  () => import("./images.js"),
  () => import("./pull.js"),
  () => import("./rmi.js"),
  () => import("./imagefsinfo.js"),
  () => import("./explain.js"),
  () => import("./apply.js"),
  () => import("./get.js"),
  () => import("./describe.js"),
  () => import("./delete.js"),
  () => import("./up.js"),
  daemons.runtime,
  daemons.kubelet,
];

/** The program; with `only`, just that daemon's command (what `berth runtime …` needs). */
export async function newProgram(only?: keyof typeof daemons): Promise<Command> {
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
  const modules = only ? [await daemons[only]()] : await Promise.all(commands.map((load) => load()));
  for (const m of modules) m.register(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const first = argv[0];
  const program = await newProgram(first === "runtime" || first === "kubelet" ? first : undefined);
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
