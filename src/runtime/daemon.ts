// The `berth runtime` daemon, after containerd's services/server/server.go: top-level
// directories, the plugins in dependency order, and the CRI socket serving every Grpc
// plugin. stop() is containerd's Stop, made graceful: stop accepting, let calls in flight
// finish (bounded), close the plugins in reverse, remove the socket and the locks.
import { lstat, mkdir, rm } from "node:fs/promises";
import { connect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { type CriServer, serveCri } from "../cri/server.js";
import { failedPrecondition } from "../lib/errdefs.js";
import type { Logger } from "../lib/log.js";
import type { Config } from "./config.js";
import { type DirLock, lockDir } from "./dir-lock.js";
import {
  type GrpcService,
  type LoadedPlugin,
  type LoadedPlugins,
  loadPlugins,
  type Plugin,
  PluginType,
} from "./plugin.js";

export interface DaemonOptions {
  config: Config;
  plugins: readonly Plugin[];
  log: Logger;
  /** How long stop() waits for calls in flight (default 10 s). */
  drainTimeoutMs?: number;
}

export interface Daemon {
  /** unix://<grpc.address> */
  readonly endpoint: string;
  /** The plugins, in init order. */
  readonly plugins: readonly LoadedPlugin[];
  /** Idempotent: every call returns the same shutdown. */
  stop(): Promise<void>;
}

export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const { config, log } = opts;
  const address = config.grpc.address;
  // As containerd's CreateTopLevelDirectories, but root is private to the daemon.
  await mkdir(config.root, { recursive: true, mode: 0o700 });
  await mkdir(config.state, { recursive: true, mode: 0o711 });
  const undo: (() => unknown)[] = [];
  try {
    const rootLock = lockDir(config.root, "root");
    undo.push(rootLock.release);
    const stateLock = lockDir(config.state, "state");
    undo.push(stateLock.release);
    await checkAddressFree(address);
    const plugins = await loadPlugins(opts.plugins, {
      root: config.root,
      state: config.state,
      configs: config.plugins,
      log,
    });
    undo.push(plugins.close);
    const server = await serveCri(
      `unix://${address}`,
      (router) => {
        for (const l of plugins.loaded) {
          if (l.plugin.type === PluginType.Grpc) (l.instance as GrpcService).register(router);
        }
      },
      log,
    );
    let stopping: Promise<void> | undefined;
    return {
      endpoint: `unix://${address}`,
      plugins: plugins.loaded,
      stop: () => {
        stopping ??= shutdown(server, plugins, [stateLock, rootLock], log, opts.drainTimeoutMs ?? 10_000);
        return stopping;
      },
    };
  } catch (err) {
    for (const u of undo.reverse()) await u();
    throw err;
  }
}

async function shutdown(
  server: CriServer,
  plugins: LoadedPlugins,
  locks: DirLock[],
  log: Logger,
  drainTimeoutMs: number,
): Promise<void> {
  // The timer must not keep the process alive once the server has closed.
  const drained = await Promise.race([
    server.close().then(() => true),
    sleep(drainTimeoutMs, false, { ref: false }),
  ]);
  if (!drained) {
    log.warn({ timeoutMs: drainTimeoutMs }, "calls still in flight after the drain timeout; closing anyway");
    await rm(server.socket, { force: true });
  }
  await plugins.close();
  for (const lock of locks) lock.release();
}

/**
 * Refuses an address that a live server answers on (another daemon with another root),
 * or that is some other kind of file; a socket nobody listens on is stale and is replaced.
 */
async function checkAddressFree(path: string): Promise<void> {
  const st = await lstat(path).catch(() => undefined);
  if (!st) return;
  if (!st.isSocket()) throw failedPrecondition(`address ${path} exists and is not a socket`);
  const answered = await new Promise<boolean>((resolve) => {
    const s = connect(path);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
  if (answered) throw failedPrecondition(`address ${path} is in use: another process is serving on it`);
}
