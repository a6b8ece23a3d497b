// A berth daemon (`berth runtime`, `berth kubelet`) run as a child — by `berth up`, and by
// the test and bench harnesses — the same program a node's service manager would start. Each gets its own process group, so the
// Ctrl-C a terminal sends to `berth up`'s group reaches `berth up` alone, and `berth up` stops
// the daemons in the order that leaves nothing behind. Their JSON logs go to a file.
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { failedPrecondition, messageOf, unavailable } from "../lib/errdefs.js";

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface DaemonOptions {
  /** "runtime" or "kubelet": the berth subcommand. */
  command: string;
  args: string[];
  logPath: string;
  /** Resolves true once the daemon serves; called until it does. */
  ready: () => Promise<boolean>;
  readyTimeoutMs: number;
  /** Aborting stops the wait for readiness (the caller then stops the daemon). */
  signal?: AbortSignal;
  /** The berth script to run (default: the one this process runs, as `berth up` wants). */
  script?: string;
  /** Node flags before the script, e.g. --cpu-prof. */
  nodeArgs?: string[];
}

export class DaemonProcess {
  private exited?: Exit;
  readonly exit: Promise<Exit>;

  private constructor(
    readonly command: string,
    private readonly child: ChildProcess,
    readonly logPath: string,
  ) {
    this.exit = new Promise((resolve) =>
      child.once("exit", (code, signal) => {
        this.exited = { code, signal };
        resolve(this.exited);
      }),
    );
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  get running(): boolean {
    return this.exited === undefined;
  }

  /** Runs `berth <command> <args>` (this same berth) and waits until it is ready. */
  static async start(o: DaemonOptions): Promise<DaemonProcess> {
    const logFd = openSync(o.logPath, "a");
    let child: ChildProcess;
    try {
      child = spawn(
        process.execPath,
        [...(o.nodeArgs ?? []), o.script ?? berthScript(), o.command, ...o.args],
        {
          stdio: ["ignore", logFd, logFd],
          detached: true,
        },
      );
    } finally {
      closeSync(logFd);
    }
    const daemon = new DaemonProcess(o.command, child, o.logPath);
    const spawned = await new Promise<Error | undefined>((resolve) => {
      child.once("spawn", () => resolve(undefined));
      child.once("error", resolve);
    });
    if (spawned) throw failedPrecondition(`failed to start berth ${o.command}: ${messageOf(spawned)}`);
    try {
      await daemon.waitReady(o);
    } catch (err) {
      await daemon.stop(5000);
      throw err;
    }
    return daemon;
  }

  private async waitReady(o: DaemonOptions): Promise<void> {
    const deadline = Date.now() + o.readyTimeoutMs;
    while (!o.signal?.aborted) {
      if (this.exited) {
        throw failedPrecondition(
          `berth ${this.command} exited with ${this.exited.signal ?? `code ${this.exited.code}`} while starting:\n${this.logTail()}`,
        );
      }
      if (await o.ready().catch(() => false)) return;
      if (Date.now() > deadline) {
        throw unavailable(
          `berth ${this.command} did not get ready within ${o.readyTimeoutMs} ms:\n${this.logTail()}`,
        );
      }
      await sleep(100);
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves with how it exited. */
  async stop(graceMs: number): Promise<Exit> {
    if (this.exited) return this.exited;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    const exit = await this.exit;
    clearTimeout(timer);
    return exit;
  }

  /** SIGKILL, as a crash would end it; resolves with the exit. */
  async kill(): Promise<Exit> {
    if (!this.exited) this.child.kill("SIGKILL");
    return this.exit;
  }

  /** The last lines of its log, for an error message. */
  logTail(lines = 15): string {
    return logTail(this.logPath, lines);
  }
}

/** The last lines of a log file; "(no log)" when there is none. */
export function logTail(path: string, lines: number): string {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** The berth script this process runs: the daemons are the same program, as bin/berth starts it. */
function berthScript(): string {
  const script = process.argv[1];
  if (!script) throw failedPrecondition("cannot tell which berth program is running");
  return script;
}
