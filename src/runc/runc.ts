// After containerd/go-runc runc.go: a typed wrapper over the runc CLI. Each call runs the
// binary directly (no shell) with this instance's --root; runc's JSON answers are parsed,
// and a failure becomes a BerthError whose kind is read from runc's own message
// ("container does not exist" is NotFound), as CRI-O's runtimeCmd and go-runc do.
//
// create and exec leave a process behind that inherits runc's stdio, so their stdio is the
// caller's (or /dev/null), never a pipe back to us, which would stay open as long as the
// container; runc's error comes from its --log file instead, as the containerd shim reads
// log.json.
import { execFile, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { constants } from "node:os";
import { join } from "node:path";
import { BerthError, type ErrorKind } from "../lib/errdefs.js";
import type { LinuxResources, Process } from "./oci-spec.js";

export const defaultRuncPath = "/usr/sbin/runc";

/** runc's container status (libcontainer's Status.String()). */
export type RuncStatus = "created" | "running" | "pausing" | "paused" | "stopped";

/** What `runc state` and `runc list --format json` print for a container. */
export interface RuncContainer {
  id: string;
  /** The init process's pid; 0 once it has stopped. */
  pid: number;
  status: RuncStatus;
  bundle: string;
  rootfs: string;
  created: Date;
  annotations?: Record<string, string>;
}

/** A file descriptor the container process gets as stdin, stdout or stderr; "ignore" is /dev/null. */
export type Stdio = "ignore" | number;

export interface CreateOpts {
  /** Where runc writes the init process's pid (--pid-file). */
  pidFile?: string;
  /** A unix socket to receive the pty master on, for a spec with process.terminal. */
  consoleSocket?: string;
  noPivot?: boolean;
  noNewKeyring?: boolean;
  /** The init process's stdin, stdout and stderr (default: all /dev/null). */
  stdio?: [Stdio, Stdio, Stdio];
}

export interface ExecOpts {
  /** Return once the process has started (-d) instead of when it exits. */
  detach?: boolean;
  pidFile?: string;
  stdio?: [Stdio, Stdio, Stdio];
}

export interface KillOpts {
  /** Signal every process of the container (--all), not only its init. */
  all?: boolean;
}

export interface DeleteOpts {
  /** Kill a running container first (SIGKILL) instead of refusing. */
  force?: boolean;
}

export interface RuncOptions {
  /** The runc binary (default /usr/sbin/runc). */
  command?: string;
  /** runc's state directory (--root); each berth runtime has its own. */
  root: string;
}

/** Where create and exec keep runc's --log file: beside runc's root, so a crash leaves nothing in /tmp. */
function tempDirOf(root: string): string {
  return `${root}.tmp`;
}

export class Runc {
  readonly command: string;
  readonly root: string;

  constructor(opts: RuncOptions) {
    this.command = opts.command ?? defaultRuncPath;
    this.root = opts.root;
    // One Runc per root: temp dirs there are leftovers of a previous run that was killed.
    rmSync(tempDirOf(this.root), { recursive: true, force: true });
  }

  async create(id: string, bundle: string, opts: CreateOpts = {}): Promise<void> {
    const args = ["create", "--bundle", bundle];
    if (opts.pidFile) args.push("--pid-file", opts.pidFile);
    if (opts.consoleSocket) args.push("--console-socket", opts.consoleSocket);
    if (opts.noPivot) args.push("--no-pivot");
    if (opts.noNewKeyring) args.push("--no-new-keyring");
    await this.runDetached(opts.stdio, `failed to create container "${id}"`, async () => [...args, id]);
  }

  async start(id: string): Promise<void> {
    await this.run(["start", id], `failed to start container "${id}"`);
  }

  async state(id: string): Promise<RuncContainer> {
    return parseContainer(
      JSON.parse(await this.run(["state", id], `failed to get state of container "${id}"`)),
    );
  }

  async list(): Promise<RuncContainer[]> {
    // runc prints `null`, not `[]`, when there is no container.
    const list: unknown[] | null = JSON.parse(
      await this.run(["list", "--format", "json"], "failed to list containers"),
    );
    return (list ?? []).map(parseContainer);
  }

  async kill(id: string, signal: NodeJS.Signals | number, opts: KillOpts = {}): Promise<void> {
    const args = ["kill"];
    if (opts.all) args.push("--all");
    await this.run([...args, id, String(signal)], `failed to kill container "${id}" with ${signal}`);
  }

  async delete(id: string, opts: DeleteOpts = {}): Promise<void> {
    const args = ["delete"];
    if (opts.force) args.push("--force");
    await this.run([...args, id], `failed to delete container "${id}"`);
  }

  /** Applies `resources` to the container's cgroups (`runc update -r -`). */
  async update(id: string, resources: LinuxResources): Promise<void> {
    await this.run(
      ["update", "--resources", "-", id],
      `failed to update container "${id}"`,
      JSON.stringify(resources),
    );
  }

  /**
   * Runs `process` in the container. Resolves with its exit code, or 0 once it has started
   * when detached.
   */
  async exec(id: string, process: Process, opts: ExecOpts = {}): Promise<number> {
    return this.runDetached(opts.stdio, `failed to exec in container "${id}"`, async (dir) => {
      const spec = join(dir, "process.json");
      await writeFile(spec, JSON.stringify(process));
      const args = ["exec", "--process", spec];
      if (opts.detach) args.push("--detach");
      if (opts.pidFile) args.push("--pid-file", opts.pidFile);
      return [...args, id];
    });
  }

  /** The host pids of the container's processes. */
  async ps(id: string): Promise<number[]> {
    const pids: number[] | null = JSON.parse(
      await this.run(["ps", "--format", "json", id], `failed to list processes of container "${id}"`),
    );
    return pids ?? [];
  }

  /** Runs a command that leaves no process behind; resolves with its stdout. */
  private run(args: string[], step: string, input?: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = execFile(
        this.command,
        ["--root", this.root, ...args],
        { maxBuffer: 16 << 20 },
        (err, stdout, stderr) =>
          err ? reject(runcError(step, lastError(stderr) ?? err.message)) : resolve(stdout),
      );
      child.stdin?.on("error", () => {}); // runc may exit before reading; its exit says why
      child.stdin?.end(input ?? "");
    });
  }

  /**
   * Runs create or exec, whose process inherits runc's stdio: runc's error is read from its
   * --log file, in a temp dir that also holds what `args` writes there. Resolves with runc's
   * exit code when runc reported no error of its own.
   */
  private async runDetached(
    stdio: CreateOpts["stdio"],
    step: string,
    args: (dir: string) => Promise<string[]>,
  ): Promise<number> {
    await mkdir(tempDirOf(this.root), { recursive: true, mode: 0o700 });
    const dir = await mkdtemp(join(tempDirOf(this.root), "run-"));
    try {
      const logFile = join(dir, "log.json");
      const argv = ["--root", this.root, "--log", logFile, "--log-format", "json", ...(await args(dir))];
      const child = spawn(this.command, argv, { stdio: stdio ?? "ignore" });
      const code = await new Promise<number>((resolve, reject) => {
        child.on("error", (err) => reject(runcError(step, err.message)));
        child.on("exit", (c, signal) => resolve(c ?? 128 + signalNumber(signal)));
      });
      const message = lastLoggedError(await readFile(logFile, "utf8").catch(() => ""));
      if (message !== undefined) throw runcError(step, message);
      return code;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

function parseContainer(raw: unknown): RuncContainer {
  const c = raw as Omit<RuncContainer, "created"> & { created: string };
  return {
    id: c.id,
    pid: c.pid,
    status: c.status,
    bundle: c.bundle,
    rootfs: c.rootfs,
    created: new Date(c.created),
    ...(c.annotations ? { annotations: c.annotations } : {}),
  };
}

/** The error kind of a runc message, as CRI-O's runtimeCmd and containerd's shim read them. */
export function runcErrorKind(message: string): ErrorKind {
  if (/does not exist/.test(message)) return "NotFound";
  // runc kill of a stopped container: containerd's shim answers "process already finished" (NotFound).
  if (/container not running|no such process/.test(message)) return "NotFound";
  if (/already exists/.test(message)) return "AlreadyExists";
  if (
    /cannot (start|delete|exec|pause|resume)|not stopped|is not running|already (running|paused)/.test(
      message,
    )
  )
    return "FailedPrecondition";
  return "Unknown";
}

function runcError(step: string, message: string): BerthError {
  return new BerthError(runcErrorKind(message), `${step}: ${message}`);
}

/** The msg of the last level=error line runc printed on stderr (logrus text format). */
export function lastError(stderr: string): string | undefined {
  let message: string | undefined;
  for (const line of stderr.split("\n")) {
    if (!line.includes("level=error") && !line.includes("level=fatal")) continue;
    const m = /msg="((?:[^"\\]|\\.)*)"/.exec(line);
    if (m?.[1] !== undefined) message = JSON.parse(`"${m[1]}"`);
  }
  return message ?? (stderr.trim() || undefined);
}

/** The msg of the last error entry in runc's JSON log (--log-format json). */
export function lastLoggedError(log: string): string | undefined {
  let message: string | undefined;
  for (const line of log.split("\n")) {
    if (line.trim() === "") continue;
    try {
      const entry = JSON.parse(line) as { level?: string; msg?: string };
      if ((entry.level === "error" || entry.level === "fatal") && entry.msg) message = entry.msg;
    } catch {} // a line cut short by a crash: the entries before it still count
  }
  return message;
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return signal ? ((constants.signals as Record<string, number>)[signal] ?? 0) : 0;
}
