// berth runtime: the containerd-role daemon (containerd's cmd/containerd/command/main.go),
// with containerd's flags so that several can run side by side, and `config default`.
//
// The daemon's modules (the plugins, the server) are imported when the daemon starts, so
// that the client commands do not load them; and the daemon tunes V8 before it loads them.
import type { Command } from "commander";
import { tuneDaemonHeap } from "../lib/daemon-heap.js";
import { messageOf } from "../lib/errdefs.js";
import { newLogger } from "../lib/log.js";
import { untilSignal } from "../lib/signals.js";
import {
  type ConfigFlags,
  DefaultConfigPath,
  defaultConfig,
  defaultServerConfig,
  formatConfig,
  loadConfig,
} from "../runtime/config.js";
import type { Daemon } from "../runtime/daemon.js";

export function register(program: Command): void {
  // Shown, not set: a commander default would override the config file.
  const d = defaultServerConfig();
  const runtime = program
    .command("runtime")
    .description("Run the berth runtime daemon: CRI on a unix socket, logs as JSON lines on stderr")
    .option("-c, --config <path>", `config file (default ${DefaultConfigPath}, optional there)`)
    .option(
      "-a, --address <endpoint>",
      `socket to serve CRI on: unix:///path or /path (default ${d.grpc.address})`,
    )
    .option("--root <dir>", `directory for persistent data (default ${d.root})`)
    .option("--state <dir>", `directory for state that does not survive a reboot (default ${d.state})`)
    .option("-l, --log-level <level>", `error, warn, info, debug or trace (default ${d.debug.level})`)
    .action(async (flags: ConfigFlags) => {
      process.exitCode = await runDaemon(flags);
    });
  runtime
    .command("config")
    .description("Information on the runtime's config")
    .command("default")
    .description("Print the default config")
    .action(async () => {
      const { builtins } = await import("../runtime/builtins.js");
      process.stdout.write(formatConfig(defaultConfig(builtins), builtins));
    });
}

/** Runs until SIGTERM or SIGINT; the exit code. A failed start is one error line and 1. */
async function runDaemon(flags: ConfigFlags): Promise<number> {
  tuneDaemonHeap();
  const log = newLogger("info");
  let daemon: Daemon;
  try {
    const [{ builtins }, { startDaemon }, { pluginUri }, { CriVersion }, { berthVersion }] =
      await Promise.all([
        import("../runtime/builtins.js"),
        import("../runtime/daemon.js"),
        import("../runtime/plugin.js"),
        import("../runtime/cri/version.js"),
        import("../runtime/version.js"),
      ]);
    const { config, path, unknownKeys } = await loadConfig(flags, builtins);
    log.level = config.debug.level;
    if (unknownKeys.length > 0)
      log.warn({ config: path, keys: unknownKeys }, "ignoring unknown keys in config");
    daemon = await startDaemon({ config, plugins: builtins, log });
    log.info(
      {
        version: berthVersion(),
        criVersion: CriVersion,
        node: process.version,
        pid: process.pid,
        config: path ?? null,
        root: config.root,
        state: config.state,
        address: daemon.endpoint,
        plugins: daemon.plugins.map((l) => pluginUri(l.plugin)),
      },
      "berth runtime started",
    );
  } catch (err) {
    log.error({ err: messageOf(err) }, "berth runtime failed to start");
    return 1;
  }
  const signal = await untilSignal(log);
  log.info({ signal }, "shutting down");
  await daemon.stop();
  log.info("berth runtime stopped");
  // Connections still draining after the timeout would keep the process alive; the
  // daemon is done, so exit then. An unref'd timer fires only if something is left.
  setTimeout(() => process.exit(), 1000).unref();
  return 0;
}
