// berth kubelet: the node agent (kubelet's cmd/kubelet): a KubeletConfiguration file plus
// the flags the kubelet takes outside it, then pods from the static pod path and berth's
// local API, run through CRI on any runtime endpoint, until SIGTERM or SIGINT.
import type { Command } from "commander";
import { tuneDaemonHeap } from "../lib/daemon-heap.js";
import { parseDuration } from "../lib/duration.js";
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
  minimumContainerTtlDuration: string;
  maximumDeadContainersPerContainer: string;
  maximumDeadContainers: string;
  containerGcPeriod: string;
  imageGcPeriod: string;
  podInfraContainerImage: string;
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
    .option(
      "--minimum-container-ttl-duration <duration>",
      "minimum age of a finished container before it is garbage collected",
      "0s",
    )
    .option(
      "--maximum-dead-containers-per-container <n>",
      "old instances of a container kept; below zero for no limit",
      "1",
    )
    .option(
      "--maximum-dead-containers <n>",
      "dead containers kept on the node; below zero for no limit",
      "-1",
    )
    .option(
      "--pod-infra-container-image <image>",
      "the sandbox image, which the image garbage collector never removes",
      "registry.k8s.io/pause:3.9",
    )
    .option("--container-gc-period <duration>", "berth: how often dead containers are collected", "1m")
    .option("--image-gc-period <duration>", "berth: how often unused images are collected", "5m")
    .action(async (flags: KubeletFlags) => {
      process.exitCode = await runKubelet(flags);
    });
}

/** The flags of container and image garbage collection, checked. */
function garbageCollectionOptions(flags: KubeletFlags) {
  const int = (flag: string, value: string): number => {
    if (!/^-?\d+$/.test(value.trim()))
      throw new Error(`--${flag}: ${JSON.stringify(value)} is not an integer`);
    return Number(value);
  };
  const period = (flag: string, value: string): number => {
    const ms = parseDuration(value);
    if (ms <= 0) throw new Error(`--${flag}: ${JSON.stringify(value)} must be a positive duration`);
    return ms;
  };
  return {
    containerGCPolicy: {
      minAgeMs: parseDuration(flags.minimumContainerTtlDuration),
      maxPerPodContainer: int(
        "maximum-dead-containers-per-container",
        flags.maximumDeadContainersPerContainer,
      ),
      maxContainers: int("maximum-dead-containers", flags.maximumDeadContainers),
    },
    containerGCPeriodMs: period("container-gc-period", flags.containerGcPeriod),
    imageGCPeriodMs: period("image-gc-period", flags.imageGcPeriod),
    podInfraContainerImage: flags.podInfraContainerImage,
  };
}

async function runKubelet(flags: KubeletFlags): Promise<number> {
  tuneDaemonHeap();
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
      ...garbageCollectionOptions(flags),
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
