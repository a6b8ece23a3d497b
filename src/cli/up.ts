// berth up: a node on this machine running example pods (or yours), until Ctrl-C or
// --duration, then nothing left of it. The node is src/up/.
import { resolve } from "node:path";
import type { Command } from "commander";
import { parseDuration } from "../lib/duration.js";

interface UpFlags {
  filename?: string;
  runtimeEndpoint?: string;
  duration?: string;
}

export function register(program: Command): void {
  program
    .command("up")
    .description(
      "Run a node here: berth runtime and berth kubelet with the example pods (or -f), shown live until " +
        "Ctrl-C or --duration; then everything is removed",
    )
    .option("-f, --filename <path>", "a Pod manifest, or a directory of them (default: berth's examples/)")
    .option("--runtime-endpoint <endpoint>", "use this running CRI runtime instead of starting berth runtime")
    .option("--duration <time>", "stop by itself this long after the pods are created, e.g. 30s")
    .action(async (flags: UpFlags, command: Command) => {
      const durationMs = flags.duration === undefined ? undefined : parseDuration(flags.duration);
      // The global --runtime-endpoint counts when typed, not from the environment's default runtime.
      const global = command.parent?.getOptionValueSource("runtimeEndpoint") === "cli";
      const runtimeEndpoint =
        flags.runtimeEndpoint ?? (global ? command.parent?.opts().runtimeEndpoint : undefined);
      const [{ defaultExamplesDir, loadPodManifests }, { runUp }] = await Promise.all([
        import("../up/manifests.js"),
        import("../up/up.js"),
      ]);
      const source = resolve(flags.filename ?? defaultExamplesDir());
      process.exitCode = await runUp({
        pods: await loadPodManifests(source),
        source,
        ...(runtimeEndpoint ? { runtimeEndpoint } : {}),
        ...(durationMs !== undefined ? { durationMs } : {}),
        out: process.stdout,
        tty: process.stdout.isTTY === true,
      });
    });
}
