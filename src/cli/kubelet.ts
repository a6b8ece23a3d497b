// berth kubelet: the node agent (kubelet's cmd/kubelet): a KubeletConfiguration file plus
// the flags the kubelet takes outside it, then pods from the static pod path and berth's
// local API, run through CRI on any runtime endpoint, until SIGTERM or SIGINT.
import type { Command } from "commander";
import { messageOf } from "../lib/errdefs.js";
import { newLogger, parseLogLevel } from "../lib/log.js";
import { untilSignal } from "../lib/signals.js";

interface KubeletFlags {
  config?: string;
  rootDir?: string;
  containerRuntimeEndpoint?: string;
  localApiSocket: string;
  staticPodPath?: string;
  nodeName?: string;
  logLevel: string;
}

export function register(program: Command): void {
  program
    .command("kubelet")
    .description(
      "Run berth's kubelet: pods from manifests to containers through CRI; logs as JSON lines on stderr",
    )
    .option("--config <path>", "KubeletConfiguration file (kubelet.config.k8s.io/v1beta1)")
    .option("--root-dir <dir>", "directory for pod data and the local API's store (default /var/lib/kubelet)")
    .option("--container-runtime-endpoint <endpoint>", "CRI endpoint (overrides the config file)")
    .option("--static-pod-path <path>", "static pod manifests (overrides the config file)")
    .option("--local-api-socket <path>", "socket of berth's local pod API", "/run/berth/kubelet.sock")
    .option("--node-name <name>", "the node's name (default: the hostname)")
    .option("-l, --log-level <level>", "error, warn, info, debug or trace", "info")
    .action(async (flags: KubeletFlags) => {
      process.exitCode = await runKubelet(flags);
    });
}

async function runKubelet(flags: KubeletFlags): Promise<number> {
  const log = newLogger(parseLogLevel(flags.logLevel));
  const [{ loadKubeletConfiguration }, { Kubelet }] = await Promise.all([
    import("../kubelet/config/kubelet-configuration.js"),
    import("../kubelet/kubelet.js"),
  ]);
  let kubelet: Awaited<ReturnType<typeof Kubelet.start>>;
  try {
    const loaded = await loadKubeletConfiguration(flags.config, {
      ...(flags.rootDir ? { rootDir: flags.rootDir } : {}),
    });
    for (const w of loaded.warnings) log.warn({ config: loaded.path }, w);
    const config = loaded.config;
    if (flags.containerRuntimeEndpoint) config.containerRuntimeEndpoint = flags.containerRuntimeEndpoint;
    if (flags.staticPodPath) config.staticPodPath = flags.staticPodPath;
    kubelet = await Kubelet.start({
      config,
      localApiSocket: flags.localApiSocket,
      ...(flags.nodeName ? { nodeName: flags.nodeName } : {}),
      log,
    });
  } catch (err) {
    log.error({ err: messageOf(err) }, "berth kubelet failed to start");
    return 1;
  }
  const signal = await untilSignal(log);
  log.info({ signal }, "shutting down");
  await kubelet.stop();
  log.info("berth kubelet stopped");
  setTimeout(() => process.exit(), 1000).unref();
  return 0;
}
