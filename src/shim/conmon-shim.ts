// The Shim on Debian's conmon (containers/conmon 2.1), driven as CRI-O's
// internal/oci/runtime_oci.go drives it (CreateContainer, ExecSyncContainer,
// ReopenContainerLog, UpdateContainerStatus). conmon is a small C program (about 2 MB
// resident) that double-forks away from its caller, runs `runc create`, and then:
// - writes the container's stdout and stderr to the log file in the CRI format, splitting
//   lines longer than its 8 KiB read buffer into P records;
// - writes the exit code (128 + signal for a killed process) to <exit dir>/<id> and
//   <persist dir>/exit when the init process exits, after draining its output;
// - creates <persist dir>/oom when the memory cgroup reports an OOM kill (an eventfd on
//   memory.oom_control in cgroup v1, memory.events in v2);
// - reopens the log file when "2 0 0\n" is written to the ctl fifo in the bundle;
// - for ExecSync (--exec --sync), runs `runc exec`, logs the output to a file of its own,
//   and after -T seconds kills the command's process group and reports "command timed out";
//   it stops reading at the command's exit, so a child holding the output open does not
//   hold it. -T is a glib seconds timer, rounded to a whole second (250 ms early at most).
// The pid comes back on the sync pipe (_OCI_SYNCPIPE, one JSON object per line), and
// conmon waits on the start pipe (_OCI_STARTPIPE) until the caller has placed it in a cgroup.
//
// Files, under the shim's state directory:
//   exits/<id>                  conmon's exit file (--exit-dir), watched for exits
//   attach/<id>                 conmon's symlink to the bundle for the attach socket (--socket-dir-path)
//   containers/<id>/shim.json   what recover() needs after a restart
//   containers/<id>/            conmon's persist dir: conmon.pid, pidfile, exit, oom
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { constants, watch } from "node:fs";
import { mkdir, mkdtemp, open, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { constants as osConstants } from "node:os";
import { basename, dirname, join } from "node:path";
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import {
  alreadyExists,
  BerthError,
  failedPrecondition,
  ignoreNotFound,
  isAlreadyExists,
  messageOf,
  notFound,
  wrap,
} from "../lib/errdefs.js";
import type { Logger } from "../lib/log.js";
import type { LinuxResources, Process, Spec } from "../runc/oci-spec.js";
import { lastError, Runc, runcErrorKind } from "../runc/runc.js";
import { splitCriLog } from "./cri-log.js";
import { moveToCgroup } from "./monitor-cgroup.js";
import { fullCheckEvery, processExists } from "./process-exists.js";
import {
  assertAllowed,
  type CreatedState,
  type ExitStatus,
  exited,
  type ProcessState,
  type RunningState,
  started,
} from "./process-state.js";
import type { CreateOptions, ExecSyncOptions, ExecSyncResult, Shim } from "./shim.js";

export const defaultConmonPath = "/usr/bin/conmon";

/** CRI-O's ContainerCreateTimeout: how long `runc create` under conmon may take. */
const defaultCreateTimeoutMs = 240_000;
/** An exec's output is cut here, which is also the CRI transport's message limit. */
const maxExecSyncSize = 16 << 20;
/** What conmon reports on the sync pipe when -T ended an exec (TIMED_OUT_MESSAGE). */
const timedOutMessage = "command timed out";
/** The ctl fifo message that makes conmon reopen its log file (REOPEN_LOGS_EVENT). */
const reopenLogsMessage = "2 0 0\n";
/** How often a wait looks whether conmon died without writing an exit file. */
const monitorCheckMs = 1000;
const reopenLogTimeoutMs = 10_000;
/** Files conmon makes in the bundle: attach socket, control and resize fifos, OOM marker. */
const bundleFiles = ["attach", "ctl", "winsz", "oom"];

export interface ConmonShimOptions {
  /** The shim's own directory (see the file list above). Attach socket paths start with it, so keep it short. */
  stateDir: string;
  /** runc's --root for these containers. */
  runcRoot: string;
  runcPath?: string;
  conmonPath?: string;
  /** conmon's --log-level follows this logger's level; conmon logs to syslog, as under CRI-O. */
  log: Logger;
  createTimeoutMs?: number;
}

/** What recover() reads back: containers/<id>/shim.json. */
interface ShimRecord {
  id: string;
  name: string;
  bundle: string;
  logPath: string;
  createdAt: string;
  startedAt?: string;
}

interface Task {
  record: ShimRecord;
  state: ProcessState;
  /** The daemonized conmon (its -P pid file). */
  monitorPid: number;
}

/** One object per line on the sync pipe: a pid, an exit code, or -1 and runc's error. */
interface SyncMessage {
  data: number;
  message?: string;
}

export class ConmonShim implements Shim {
  readonly runc: Runc;
  private readonly conmonPath: string;
  private readonly log: Logger;
  private readonly createTimeoutMs: number;
  private readonly exitsDir: string;
  private readonly attachDir: string;
  private readonly containersDir: string;
  private readonly tasks = new Map<string, Task>();

  constructor(opts: ConmonShimOptions) {
    this.runc = new Runc({ root: opts.runcRoot, ...(opts.runcPath ? { command: opts.runcPath } : {}) });
    this.conmonPath = opts.conmonPath ?? defaultConmonPath;
    this.log = opts.log;
    this.createTimeoutMs = opts.createTimeoutMs ?? defaultCreateTimeoutMs;
    this.exitsDir = join(opts.stateDir, "exits");
    this.attachDir = join(opts.stateDir, "attach");
    this.containersDir = join(opts.stateDir, "containers");
  }

  async create(opts: CreateOptions): Promise<CreatedState> {
    const { id } = opts;
    if (this.tasks.has(id)) throw alreadyExists(`container "${id}" already exists`);
    await this.makeDirs();
    const dir = this.persistDir(id);
    try {
      await mkdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST")
        throw alreadyExists(`container "${id}" already exists`);
      throw wrap(err, `failed to create container "${id}"`);
    }
    const record: ShimRecord = {
      id,
      name: opts.name ?? id,
      bundle: opts.bundle,
      logPath: opts.logPath,
      createdAt: new Date().toISOString(),
    };
    try {
      await writeRecord(dir, record);
      const pid = await this.runConmonCreate(opts, record);
      const state: CreatedState = { status: "created", pid, createdAt: new Date(record.createdAt) };
      this.tasks.set(id, { record, state, monitorPid: await readPid(join(dir, "conmon.pid")) });
      return state;
    } catch (err) {
      // As CRI-O: the half-made container goes, and so does its log file. A runc container
      // that already existed is not ours to remove.
      if (!isAlreadyExists(err)) await this.runc.delete(id, { force: true }).catch(() => {});
      await this.removeLeftovers(record).catch((e) =>
        this.log.warn({ id, err: messageOf(e) }, "cleanup failed"),
      );
      await rm(opts.logPath, { force: true });
      throw wrap(err, `failed to create container "${id}"`);
    }
  }

  async start(id: string): Promise<RunningState> {
    const task = this.task(id);
    assertAllowed(await this.state(id), "start");
    // Recorded first, so that a daemon that dies during `runc start` still knows a start time.
    const startedAt = new Date();
    await writeRecord(this.persistDir(id), { ...task.record, startedAt: startedAt.toISOString() });
    try {
      await this.runc.start(id);
    } catch (err) {
      await writeRecord(this.persistDir(id), task.record);
      throw err;
    }
    task.record.startedAt = startedAt.toISOString();
    const running = started(task.state, startedAt);
    task.state = running;
    return running;
  }

  async state(id: string): Promise<ProcessState> {
    const task = this.task(id);
    if (task.state.status !== "stopped") {
      const exit = await this.observeExit(task);
      if (exit) task.state = exited(task.state, exit);
    }
    return task.state;
  }

  async kill(id: string, signal: NodeJS.Signals, opts: { all?: boolean } = {}): Promise<void> {
    assertAllowed(await this.state(id), "kill");
    await this.runc.kill(id, signal, opts);
  }

  async wait(id: string, signal?: AbortSignal): Promise<ExitStatus> {
    const task = this.task(id);
    if (task.state.status === "stopped") return task.state.exit;
    // conmon writes the exit file by rename, which inotify reports; a timer also looks
    // now and then whether conmon died without writing it, cheaply between full looks.
    let wake = () => {};
    let woke = true;
    const watcher = watch(this.exitsDir, (_event, file) => {
      if (file === id) wake();
    });
    try {
      for (let poll = 0; ; poll++) {
        signal?.throwIfAborted();
        if (woke || poll % fullCheckEvery === 0 || !processExists(task.monitorPid)) {
          const exit = await this.observeExit(task);
          if (exit) {
            task.state = exited(task.state, exit);
            return exit;
          }
        }
        woke = false;
        const timer = new AbortController();
        const woken = new Promise<void>((resolve) => {
          wake = () => {
            woke = true;
            resolve();
          };
        });
        const onAbort = () => timer.abort();
        signal?.addEventListener("abort", onAbort, { once: true });
        await Promise.race([
          woken,
          sleep(monitorCheckMs, undefined, { signal: timer.signal }).catch(() => {}),
        ]);
        timer.abort();
        signal?.removeEventListener("abort", onAbort);
      }
    } finally {
      watcher.close();
    }
  }

  async delete(id: string): Promise<void> {
    const task = this.task(id);
    const state = await this.state(id);
    assertAllowed(state, "delete");
    if (state.status === "created") {
      // The init process waits on runc's exec fifo; once it is killed, conmon records the exit and leaves.
      await this.runc.kill(id, "SIGKILL").catch(ignoreNotFound);
      await this.wait(id);
    }
    await this.runc.delete(id, { force: true }).catch(ignoreNotFound);
    await this.removeLeftovers(task.record);
    this.tasks.delete(id);
  }

  async execSync(id: string, opts: ExecSyncOptions): Promise<ExecSyncResult> {
    const task = this.task(id);
    assertAllowed(await this.state(id), "exec");
    const spec: Spec = JSON.parse(await readFile(join(task.record.bundle, "config.json"), "utf8"));
    if (!spec.process) throw failedPrecondition(`container "${id}" has no process in its spec`);
    // As CRI-O's prepareProcessExec: the container's process with other args and no terminal.
    const processSpec: Process = { ...spec.process, args: opts.args, terminal: false };
    const dir = await mkdtemp(join(this.persistDir(id), "exec-"));
    try {
      const processFile = join(dir, "process.json");
      const logFile = join(dir, "log");
      await writeFile(processFile, JSON.stringify(processSpec));
      // --sync: conmon stays our child and ends with the command, so its sync pipe ends too.
      const args = ["--api-version", "1", "-c", id, "-u", id, "-n", task.record.name, "--sync", "--syslog"];
      args.push("-r", this.runc.command, "--runtime-arg", `--root=${this.runc.root}`, "-p", join(dir, "pid"));
      args.push("-e", "--exec-process-spec", processFile, "-l", `k8s-file:${logFile}`);
      args.push("--log-global-size-max", String(maxExecSyncSize), "--log-level", this.conmonLogLevel());
      if (opts.timeout > 0) args.push("-T", String(opts.timeout));
      const child = this.spawnConmon(args, dir);
      const stderr = collect(child.stderr as Readable);
      const exited = exitOf(child);
      startPipe(child).end(Buffer.from([0]));
      const messages = await syncMessages(child.stdio[3] as Readable);
      const code = await exited;
      const last = messages.at(-1);
      if (last?.data === -1 && last.message === timedOutMessage) {
        throw new BerthError("DeadlineExceeded", `timeout ${opts.timeout}s exceeded`);
      }
      // A pid, then the exit code; anything else means runc exec itself failed.
      if (messages.length < 2 || last === undefined || last.data < 0) {
        const why = last?.message
          ? (lastError(last.message) ?? last.message)
          : `conmon exited with ${code}: ${await stderr}`;
        throw new BerthError(runcErrorKind(why), why);
      }
      const output = splitCriLog(await readFile(logFile).catch(() => Buffer.alloc(0)));
      return { ...output, exitCode: last.data };
    } catch (err) {
      throw wrap(err, `failed to exec in container "${id}"`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async reopenLog(id: string): Promise<void> {
    const { record } = this.task(id);
    assertAllowed(await this.state(id), "reopenLog");
    let ctl: Awaited<ReturnType<typeof open>>;
    try {
      // Non-blocking: with no conmon reading the fifo, open fails (ENXIO) instead of hanging.
      ctl = await open(join(record.bundle, "ctl"), constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (err) {
      throw failedPrecondition(`failed to reopen log of container "${id}": its monitor is not running`, err);
    }
    // conmon opens <log>.tmp and renames it over the log path; that rename says it is done.
    const done = new AbortController();
    const renamed = new Promise<void>((resolve) => {
      watch(dirname(record.logPath), { signal: done.signal }, (_event, file) => {
        if (file === basename(record.logPath)) resolve();
      });
    });
    try {
      await ctl.write(reopenLogsMessage);
      await ctl.close();
      const timedOut = sleep(reopenLogTimeoutMs, "timeout", { signal: done.signal }).catch(() => undefined);
      if ((await Promise.race([renamed, timedOut])) === "timeout") {
        throw new BerthError(
          "DeadlineExceeded",
          `failed to reopen log of container "${id}": conmon did not answer`,
        );
      }
    } finally {
      done.abort();
      await ctl.close().catch(() => {});
    }
  }

  async update(id: string, resources: LinuxResources): Promise<void> {
    assertAllowed(await this.state(id), "update");
    await this.runc.update(id, resources);
  }

  async recover(id: string): Promise<ProcessState> {
    const dir = this.persistDir(id);
    let record: ShimRecord;
    try {
      record = JSON.parse(await readFile(join(dir, "shim.json"), "utf8"));
    } catch (err) {
      throw notFound(`failed to recover container "${id}": no shim state`, err);
    }
    try {
      await this.makeDirs();
      const createdAt = new Date(record.createdAt);
      const pid = await readPid(join(dir, "pidfile"));
      const created: CreatedState = { status: "created", pid, createdAt };
      const task: Task = { record, state: created, monitorPid: await readPid(join(dir, "conmon.pid")) };
      const exit = await this.observeExit(task);
      if (exit) {
        task.state = exited(created, exit);
      } else if ((await this.runc.state(id)).status !== "created") {
        task.state = started(created, record.startedAt ? new Date(record.startedAt) : createdAt);
      }
      this.tasks.set(id, task);
      return task.state;
    } catch (err) {
      throw wrap(err, `failed to recover container "${id}"`);
    }
  }

  /** The pid of the container's conmon. */
  monitorPid(id: string): number {
    return this.task(id).monitorPid;
  }

  /** Starts `conmon` for runc create, as CRI-O's CreateContainer; resolves with the init pid. */
  private async runConmonCreate(opts: CreateOptions, record: ShimRecord): Promise<number> {
    const dir = this.persistDir(opts.id);
    const args = ["--api-version", "1", "-c", opts.id, "-u", opts.id, "-n", record.name, "--syslog"];
    args.push("-r", this.runc.command, "--runtime-arg", `--root=${this.runc.root}`, "-b", opts.bundle);
    args.push("-p", join(dir, "pidfile"), "-P", join(dir, "conmon.pid"), "--persist-dir", dir);
    args.push("--exit-dir", this.exitsDir, "--socket-dir-path", this.attachDir);
    args.push("-l", `k8s-file:${opts.logPath}`, "--log-level", this.conmonLogLevel());
    if (opts.logSizeMax !== undefined) args.push("--log-size-max", String(opts.logSizeMax));
    if (opts.noPivot) args.push("--no-pivot");
    if (opts.noNewKeyring) args.push("--no-new-keyring");
    this.log.debug({ id: opts.id, args }, "starting conmon");
    // conmon's files that name no directory (the oom marker) land in its working directory: the bundle.
    const child = this.spawnConmon(args, opts.bundle);
    const stderr = collect(child.stderr as Readable);
    const exited = exitOf(child);
    const start = startPipe(child);
    try {
      if (opts.monitorCgroup) await moveToCgroup(child.pid as number, opts.monitorCgroup);
    } catch (err) {
      child.kill("SIGKILL");
      throw err;
    }
    start.end(Buffer.from([0]));
    // The first conmon process exits once it has forked the monitor; the monitor then reports.
    const timer = new AbortController();
    const timedOut = sleep(this.createTimeoutMs, "timeout" as const, { signal: timer.signal }).catch(
      () => undefined,
    );
    const messages = await Promise.race([syncMessages(child.stdio[3] as Readable, 1), timedOut]);
    timer.abort();
    (child.stdio[3] as Readable).destroy();
    const code = await exited;
    if (messages === "timeout" || messages === undefined) {
      // The monitor is still in runc create: stop it, so that the container can be removed.
      const monitor = await readPid(join(dir, "conmon.pid")).catch(() => 0);
      if (monitor > 0) process.kill(monitor, "SIGKILL");
      throw new BerthError("DeadlineExceeded", `runc create did not finish in ${this.createTimeoutMs} ms`);
    }
    const report = messages[0];
    if (report === undefined)
      throw new BerthError("Unknown", `conmon exited with ${code}: ${(await stderr).trim()}`);
    if (report.data <= 0) {
      const why = report.message ? (lastError(report.message) ?? report.message) : "runc create failed";
      throw new BerthError(runcErrorKind(why), why);
    }
    return report.data;
  }

  private spawnConmon(args: string[], cwd: string): ChildProcess {
    return spawn(this.conmonPath, args, {
      cwd,
      // fd 3 and 4 are socketpairs, as CRI-O's newPipe; conmon marks them close-on-exec.
      env: {
        PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
        _OCI_SYNCPIPE: "3",
        _OCI_STARTPIPE: "4",
      },
      stdio: ["ignore", "ignore", "pipe", "pipe", "pipe"],
    });
  }

  /** The exit conmon recorded; or, if conmon is gone without recording one, an exit marked monitorLost. */
  private async observeExit(task: Task): Promise<ExitStatus | undefined> {
    const { id } = task.record;
    const recorded = await this.recordedExit(id);
    if (recorded) return recorded;
    if (await isMonitor(task.monitorPid, id)) return undefined;
    // conmon writes the exit file before it exits: a last look, then the exit is lost.
    const late = await this.recordedExit(id);
    if (late) return late;
    this.log.warn(
      { id, monitorPid: task.monitorPid },
      "conmon exited without recording the container's exit",
    );
    // As containerd after a shim died: the container must not run on unmonitored. It may
    // well be gone already, which is as good.
    await this.runc.kill(id, "SIGKILL", { all: true }).catch(() => {});
    return {
      exitCode: 255,
      exitedAt: new Date(),
      oomKilled: await exists(this.oomFile(id)),
      monitorLost: true,
    };
  }

  private async recordedExit(id: string): Promise<ExitStatus | undefined> {
    const file = join(this.exitsDir, id);
    let text: string;
    let mtime: Date;
    try {
      [text, { mtime }] = await Promise.all([readFile(file, "utf8"), stat(file)]);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw wrap(err, `failed to read exit file of container "${id}"`);
    }
    // The file's time is the exit time, as CRI-O's getFinishedTime reads it.
    return {
      exitCode: Number.parseInt(text, 10),
      exitedAt: mtime,
      oomKilled: await exists(this.oomFile(id)),
    };
  }

  private async removeLeftovers(record: ShimRecord): Promise<void> {
    await rm(this.persistDir(record.id), { recursive: true, force: true });
    await rm(join(this.exitsDir, record.id), { force: true });
    await rm(join(this.attachDir, record.id), { force: true });
    for (const f of bundleFiles) await rm(join(record.bundle, f), { force: true });
  }

  private task(id: string): Task {
    const task = this.tasks.get(id);
    if (!task) throw notFound(`container "${id}" not found in the shim`);
    return task;
  }

  private persistDir(id: string): string {
    return join(this.containersDir, id);
  }

  private oomFile(id: string): string {
    return join(this.persistDir(id), "oom");
  }

  private async makeDirs(): Promise<void> {
    for (const d of [this.exitsDir, this.attachDir, this.containersDir])
      await mkdir(d, { recursive: true, mode: 0o700 });
  }

  private conmonLogLevel(): string {
    const level = this.log.level;
    if (level === "warn") return "warning";
    return level === "error" || level === "info" ? level : "debug";
  }
}

async function writeRecord(dir: string, record: ShimRecord): Promise<void> {
  const tmp = join(dir, "shim.json.tmp");
  await writeFile(tmp, JSON.stringify(record));
  await rename(tmp, join(dir, "shim.json"));
}

async function readPid(file: string): Promise<number> {
  return Number.parseInt(await readFile(file, "utf8"), 10);
}

/** Whether `pid` is (still) the conmon of container `id`: a reused pid or a zombie is not. */
async function isMonitor(pid: number, id: string): Promise<boolean> {
  try {
    const argv = (await readFile(`/proc/${pid}/cmdline`, "utf8")).split("\0");
    return argv.some((arg, i) => (arg === "-c" || arg === "--cid") && argv[i + 1] === id);
  } catch {
    return false;
  }
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined)) !== undefined;
}

function startPipe(child: ChildProcess): Writable {
  const pipe = child.stdio[4] as Writable;
  pipe.on("error", () => {}); // conmon died early: its exit and stderr say why
  return pipe;
}

/** Resolves with the exit code (128 + signal when killed); rejects if it could not be spawned. */
function exitOf(child: ChildProcess): Promise<number> {
  const exit = new Promise<number>((resolve, reject) => {
    child.on("error", (err) => reject(wrap(err, "failed to run conmon")));
    child.on("exit", (code, signal) => resolve(code ?? 128 + (signal ? osConstants.signals[signal] : 0)));
  });
  exit.catch(() => {}); // awaited later, after the sync pipe: not an unhandled rejection meanwhile
  return exit;
}

function collect(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  stream.on("data", (c: Buffer) => chunks.push(c));
  return once(stream, "close").then(() => Buffer.concat(chunks).toString());
}

/** Sync pipe messages until it closes, or until `limit` have come. */
async function syncMessages(stream: Readable, limit = Number.POSITIVE_INFINITY): Promise<SyncMessage[]> {
  const messages: SyncMessage[] = [];
  stream.on("error", () => {}); // a reset pipe ends the messages like a closed one
  for await (const line of createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY })) {
    if (line.trim() === "") continue;
    messages.push(JSON.parse(line));
    if (messages.length >= limit) break;
  }
  return messages;
}
