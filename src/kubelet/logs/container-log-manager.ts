// pkg/kubelet/logs/container_log_manager.go (kubelet 1.28): container log rotation. Every monitor
// period the kubelet looks at each running container's CRI log file; one that has reached
// containerLogMaxSize is renamed to <log>.<timestamp> and the runtime is asked (ReopenContainerLog)
// to start a new file at the old path. Older rotated files are gzipped, and the oldest removed so
// that a container keeps at most containerLogMaxFiles files, the current one included.
//
// Upstream only rotates when the runtime is remote, which every runtime berth talks to is.

import { createReadStream, createWriteStream } from "node:fs";
import { readdir, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import pLimit from "p-limit";
import { type Container, ContainerState } from "../../cri/gen/runtime/v1/api_pb.js";
import type { RuntimeServiceClient } from "../../cri/remote-runtime.js";
import { invalidArgument, messageOf, wrap } from "../../lib/errdefs.js";
import type { Logger } from "../../lib/log.js";
import { Loop } from "../../lib/wait.js";
import type { Clock } from "../container/helpers.js";
import {
  KubernetesContainerNameLabel,
  KubernetesPodNameLabel,
  KubernetesPodNamespaceLabel,
} from "../kuberuntime/labels.js";

/** How often the logs are looked at (upstream's logMonitorPeriod). */
export const logMonitorPeriodMs = 10_000;
export const compressSuffix = ".gz";
export const tmpSuffix = ".tmp";

/** The CRI calls rotation needs. */
export type LogRuntimeService = Pick<
  RuntimeServiceClient,
  "listContainers" | "containerStatus" | "reopenContainerLog"
>;

/** LogRotatePolicy: applies to every container the runtime runs. */
export interface LogRotatePolicy {
  /** Bytes a log file may reach before it is rotated. */
  maxSize: number;
  /** Files a container may have, the current one included; the oldest go first. */
  maxFiles: number;
}

export interface ContainerLogManagerOptions extends LogRotatePolicy {
  runtime: LogRuntimeService;
  /** Default logMonitorPeriodMs; tests and containerLogMonitorInterval shorten it. */
  monitorPeriodMs?: number;
  /** Names rotated files; the wall clock unless a test fixes it. */
  clock?: Clock;
  log: Logger;
}

export class ContainerLogManager {
  readonly policy: LogRotatePolicy;
  private readonly runtime: LogRuntimeService;
  private readonly monitorPeriodMs: number;
  private readonly clock: Clock;
  private readonly log: Logger;
  // Clean and a rotation pass never interleave on the same files (upstream's mutex).
  private readonly lock = pLimit(1);
  private running?: Loop;

  /** NewContainerLogManager: the policy is checked here. */
  constructor(o: ContainerLogManagerOptions) {
    if (!Number.isInteger(o.maxFiles) || o.maxFiles <= 1) {
      throw invalidArgument(`invalid MaxFiles ${o.maxFiles}, must be > 1`);
    }
    if (!Number.isFinite(o.maxSize) || o.maxSize <= 0) {
      throw invalidArgument(`invalid container log max size ${o.maxSize}, must be > 0`);
    }
    this.policy = { maxSize: o.maxSize, maxFiles: o.maxFiles };
    this.runtime = o.runtime;
    this.monitorPeriodMs = o.monitorPeriodMs ?? logMonitorPeriodMs;
    this.clock = o.clock ?? { now: () => Date.now() };
    this.log = o.log;
  }

  /** Start: a rotation pass now and then one period after each pass ends (wait.Forever), until stop(). */
  start(): void {
    if (this.running) return;
    this.log.info(
      { maxSize: this.policy.maxSize, maxFiles: this.policy.maxFiles, periodMs: this.monitorPeriodMs },
      "starting container log rotation",
    );
    this.running = new Loop(
      () =>
        this.rotateLogs().catch((err) =>
          this.log.error({ err: messageOf(err) }, "Failed to rotate container logs"),
        ),
      this.monitorPeriodMs,
    );
  }

  /** Ends the loop after the pass under way, if any. */
  async stop(): Promise<void> {
    const running = this.running;
    this.running = undefined;
    await running?.stop();
  }

  /** Clean: removes the container's log and every rotated file of it, for when the container goes. */
  clean(containerId: string): Promise<void> {
    return this.lock(async () => {
      let logPath: string | undefined;
      try {
        logPath = (await this.runtime.containerStatus({ containerId })).status?.logPath;
      } catch (err) {
        throw wrap(err, `failed to get container status "${containerId}"`);
      }
      // Without a path there is nothing of the container's on disk (and "" + "*" would match
      // the working directory).
      if (!logPath) return;
      for (const l of await glob(logPath, "")) {
        try {
          await rm(l, { force: true });
        } catch (err) {
          throw wrap(err, `failed to remove container "${containerId}" log "${l}"`);
        }
      }
    });
  }

  /** rotateLogs: one pass over the running containers; one container's failure does not stop the others. */
  rotateLogs(): Promise<void> {
    return this.lock(async () => {
      let containers: Container[];
      try {
        containers = (await this.runtime.listContainers({ filter: {} })).containers;
      } catch (err) {
        throw wrap(err, "failed to list containers");
      }
      for (const container of containers) {
        // A container that is not running writes nothing more: an empty current file is useless.
        if (container.state !== ContainerState.CONTAINER_RUNNING) continue;
        await this.rotateContainer(container);
      }
    });
  }

  private async rotateContainer(container: Container): Promise<void> {
    const id = container.id;
    const log = this.log.child({
      pod: `${container.labels[KubernetesPodNamespaceLabel] ?? ""}/${container.labels[KubernetesPodNameLabel] ?? ""}`,
      container: container.labels[KubernetesContainerNameLabel] ?? container.metadata?.name ?? "",
      containerID: id,
    });
    let path: string;
    try {
      path = (await this.runtime.containerStatus({ containerId: id })).status?.logPath ?? "";
    } catch (err) {
      log.error({ err: messageOf(err) }, "Failed to get container status");
      return;
    }
    if (!path) return;
    let size: number | undefined;
    try {
      size = await fileSize(path);
      if (size === undefined) {
        // The file is gone: a reopen failed after the rename and so did the rename back. A
        // reopen now has the runtime make a new file.
        try {
          await this.runtime.reopenContainerLog({ containerId: id });
        } catch (err) {
          log.error(
            { path, err: messageOf(err) },
            "Container log doesn't exist, reopen container log failed",
          );
          return;
        }
        size = await fileSize(path);
        if (size === undefined) throw new Error("no file after the reopen");
      }
    } catch (err) {
      log.error({ path, err: messageOf(err) }, "Failed to stat container log");
      return;
    }
    if (size < this.policy.maxSize) return;
    try {
      await this.rotateLog(id, path);
      log.debug({ path, size }, "rotated container log");
    } catch (err) {
      log.error({ path, size, err: messageOf(err) }, "Failed to rotate log for container");
    }
  }

  /** rotateLog: tidy the rotated files, compress them, then rotate the current one. */
  async rotateLog(id: string, log: string): Promise<void> {
    let logs = await glob(log, ".");
    try {
      logs = await this.cleanupUnusedLogs(logs);
    } catch (err) {
      throw wrap(err, "failed to cleanup logs");
    }
    try {
      logs = await this.removeExcessLogs(logs);
    } catch (err) {
      throw wrap(err, "failed to remove excess logs");
    }
    for (const l of logs) {
      if (l.endsWith(compressSuffix)) continue;
      try {
        await this.compressLog(l);
      } catch (err) {
        throw wrap(err, `failed to compress log "${l}"`);
      }
    }
    try {
      await this.rotateLatestLog(id, log);
    } catch (err) {
      throw wrap(err, `failed to rotate log "${log}"`);
    }
  }

  /** cleanupUnusedLogs: removes what an interrupted rotation left; the files still in use. */
  async cleanupUnusedLogs(logs: string[]): Promise<string[]> {
    const { inuse, unused } = filterUnusedLogs(logs);
    for (const l of unused) {
      try {
        await rm(l);
      } catch (err) {
        throw wrap(err, `failed to remove unused log "${l}"`);
      }
    }
    return inuse;
  }

  /**
   * removeExcessLogs: keeps the newest maxFiles-2 rotated files, removing the oldest first so a
   * reader going through them in order is not cut off midway. The other two places are the
   * current file and the one about to be rotated.
   */
  async removeExcessLogs(logs: string[]): Promise<string[]> {
    const sorted = [...logs].sort();
    const keep = Math.max(this.policy.maxFiles - 2, 0);
    const excess = Math.max(sorted.length - keep, 0);
    for (const l of sorted.slice(0, excess)) {
      try {
        await rm(l);
      } catch (err) {
        throw wrap(err, `failed to remove old log "${l}"`);
      }
    }
    return sorted.slice(excess);
  }

  /**
   * compressLog: gzips `log` into <log>.gz through <log>.tmp, so a .gz is always whole; the
   * original goes only after the rename. A .tmp left by a crash is removed by the next rotation.
   */
  async compressLog(log: string): Promise<void> {
    let mode: number;
    try {
      mode = (await stat(log)).mode & 0o7777;
    } catch (err) {
      throw wrap(err, "failed to stat log file");
    }
    const tmpLog = log + tmpSuffix;
    try {
      try {
        await pipeline(createReadStream(log), createGzip(), createWriteStream(tmpLog, { mode }));
      } catch (err) {
        throw wrap(err, `failed to compress "${log}" to "${tmpLog}"`);
      }
      const compressedLog = log + compressSuffix;
      try {
        await rename(tmpLog, compressedLog);
      } catch (err) {
        throw wrap(err, `failed to rename "${tmpLog}" to "${compressedLog}"`);
      }
    } finally {
      await rm(tmpLog, { force: true }).catch(() => undefined);
    }
    try {
      await rm(log);
    } catch (err) {
      throw wrap(err, `failed to remove log "${log}" after compress`);
    }
  }

  /**
   * rotateLatestLog: renames the current file, uncompressed so that the runtime can finish its
   * writes to it and readers can finish reading, then has the runtime open a new one. If the
   * runtime cannot, the file is renamed back so the next pass tries again.
   */
  async rotateLatestLog(id: string, log: string): Promise<void> {
    const rotated = `${log}.${formatTimestamp(new Date(this.clock.now()))}`;
    try {
      await rename(log, rotated);
    } catch (err) {
      throw wrap(err, `failed to rotate log "${log}" to "${rotated}"`);
    }
    try {
      await this.runtime.reopenContainerLog({ containerId: id });
    } catch (err) {
      await rename(rotated, log).catch((renameErr) =>
        // The runtime writes to the renamed file and nothing is at the path now: the next pass's
        // reopen makes a new file, but a kubelet restart before it loses track of this one.
        this.log.error(
          { rotatedLog: rotated, newLog: log, containerID: id, err: messageOf(renameErr) },
          "Failed to rename rotated log",
        ),
      );
      throw wrap(err, `failed to reopen container log "${id}"`);
    }
  }
}

/** GetAllLogs: the files of a container's log still in use, oldest first, the current one last. */
export async function getAllLogs(log: string): Promise<string[]> {
  const { inuse } = filterUnusedLogs(await glob(log, "."));
  return [...inuse.sort(), log];
}

/**
 * filterUnusedLogs: temporary files and rotated files whose compressed copy exists are left over
 * from an interrupted rotation; everything else is in use.
 */
export function filterUnusedLogs(logs: string[]): { inuse: string[]; unused: string[] } {
  const all = new Set(logs);
  const inuse: string[] = [];
  const unused: string[] = [];
  for (const l of logs) {
    const isInUse = !l.endsWith(tmpSuffix) && (l.endsWith(compressSuffix) || !all.has(l + compressSuffix));
    (isInUse ? inuse : unused).push(l);
  }
  return { inuse, unused };
}

/** A rotated file's suffix: Go's layout "20060102-150405", in local time as the kubelet's clock gives it. */
export function formatTimestamp(t: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return (
    `${p(t.getFullYear(), 4)}${p(t.getMonth() + 1)}${p(t.getDate())}-` +
    `${p(t.getHours())}${p(t.getMinutes())}${p(t.getSeconds())}`
  );
}

/**
 * filepath.Glob(log + sep + "*") without the pattern language: the files beside `log` whose
 * names extend its name by `sep` and anything after it, sorted as Glob sorts them.
 */
async function glob(log: string, sep: string): Promise<string[]> {
  const dir = dirname(log);
  const prefix = basename(log) + sep;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw wrap(err, `failed to list all log files with pattern "${join(dir, `${prefix}*`)}"`);
  }
  return names
    .filter((n) => n.startsWith(prefix))
    .sort()
    .map((n) => join(dir, n));
}

/** The file's size; undefined when it does not exist. */
async function fileSize(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}
