// A Shim without a monitor, for the one container whose output and exit code nobody reads:
// a pod's infra ("pause") container. runc creates it detached, with /dev/null for stdio,
// and its init process is reparented to the system's init, which reaps it — so it costs
// no process besides pause itself, where a conmon would cost ~2.5 MB per pod. Its state
// comes from runc, and an exit is noticed by looking at /proc (the pid and its start time,
// so that a reused pid is not mistaken for it): every few milliseconds after a kill, and while
// nothing is expected every second whether the pid exists, with the full look every tenth.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ignoreNotFound, notFound, notImplemented, wrap } from "../lib/errdefs.js";
import type { LinuxResources } from "../runc/oci-spec.js";
import { Runc } from "../runc/runc.js";
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
import type { CreateOptions, ExecSyncResult, Shim } from "./shim.js";

export interface RuncShimOptions {
  /** runc's --root for these containers: not shared with another shim, so that recover() finds only its own. */
  runcRoot: string;
  runcPath?: string;
  /** How often an unattended wait looks (default 1 s). */
  pollMs?: number;
}

interface Task {
  state: ProcessState;
  /** The init process's start time (/proc/<pid>/stat field 22), which tells it from a later process with its pid. */
  startTime: string;
  /** Set by a kill: waiters then look every few milliseconds. */
  kicked: boolean;
  /** Wakes waiters sleeping through the slow interval when a kill comes. */
  kick: AbortController;
}

const killedPollMs = 5;

export class RuncShim implements Shim {
  readonly runc: Runc;
  private readonly pollMs: number;
  private readonly tasks = new Map<string, Task>();

  constructor(opts: RuncShimOptions) {
    this.runc = new Runc({ root: opts.runcRoot, ...(opts.runcPath ? { command: opts.runcPath } : {}) });
    this.pollMs = opts.pollMs ?? 1000;
  }

  async create(opts: CreateOptions): Promise<CreatedState> {
    const { id } = opts;
    const pidFile = join(opts.bundle, "init.pid");
    try {
      await this.runc.create(id, opts.bundle, { pidFile, stdio: ["ignore", "ignore", "ignore"] });
      const pid = Number((await readFile(pidFile, "utf8")).trim());
      const state: CreatedState = { status: "created", pid, createdAt: new Date() };
      this.tasks.set(id, {
        state,
        startTime: await startTime(pid),
        kicked: false,
        kick: new AbortController(),
      });
      return state;
    } catch (err) {
      await this.runc.delete(id, { force: true }).catch(() => {});
      throw wrap(err, `failed to create container "${id}"`);
    }
  }

  async start(id: string): Promise<RunningState> {
    const task = this.task(id);
    assertAllowed(await this.state(id), "start");
    await this.runc.start(id);
    const running = started(task.state, new Date());
    task.state = running;
    return running;
  }

  async state(id: string): Promise<ProcessState> {
    const task = this.task(id);
    if (task.state.status !== "stopped" && (await startTime(task.state.pid)) !== task.startTime) {
      // Without a monitor the exit code is not known; nothing reads it for an infra container.
      task.state = exited(task.state, { exitCode: 0, exitedAt: new Date(), oomKilled: false });
    }
    return task.state;
  }

  async kill(id: string, signal: NodeJS.Signals, opts: { all?: boolean } = {}): Promise<void> {
    const task = this.task(id);
    assertAllowed(await this.state(id), "kill");
    await this.runc.kill(id, signal, opts);
    task.kicked = true;
    task.kick.abort();
  }

  async wait(id: string, signal?: AbortSignal): Promise<ExitStatus> {
    const task = this.task(id);
    for (let poll = 0; ; poll++) {
      if (task.kicked || poll % fullCheckEvery === 0 || !processExists(task.state.pid)) {
        const state = await this.state(id);
        if (state.status === "stopped") return state.exit;
      }
      const interval = task.kicked ? killedPollMs : this.pollMs;
      await sleep(interval, undefined, {
        signal: AbortSignal.any([task.kick.signal, ...(signal ? [signal] : [])]),
      }).catch((err) => {
        if (signal?.aborted) throw err;
      });
    }
  }

  async delete(id: string): Promise<void> {
    assertAllowed(await this.state(id), "delete");
    await this.runc.delete(id, { force: true }).catch(ignoreNotFound);
    this.tasks.delete(id);
  }

  async execSync(id: string): Promise<ExecSyncResult> {
    throw notImplemented(`cannot exec in infra container "${id}": it has no monitor`);
  }

  async reopenLog(id: string): Promise<void> {
    throw notImplemented(`infra container "${id}" has no log`);
  }

  async update(id: string, resources: LinuxResources): Promise<void> {
    assertAllowed(await this.state(id), "update");
    await this.runc.update(id, resources);
  }

  async recover(id: string): Promise<ProcessState> {
    let c: Awaited<ReturnType<Runc["state"]>>;
    try {
      c = await this.runc.state(id);
    } catch (err) {
      throw notFound(`failed to recover container "${id}": no runc state`, err);
    }
    const created: CreatedState = { status: "created", pid: c.pid, createdAt: c.created };
    let state: ProcessState = created;
    if (c.status === "stopped")
      state = exited(created, { exitCode: 0, exitedAt: new Date(), oomKilled: false });
    else if (c.status !== "created") state = started(created, c.created);
    this.tasks.set(id, {
      state,
      startTime: c.pid > 0 ? await startTime(c.pid) : "",
      kicked: false,
      kick: new AbortController(),
    });
    return state;
  }

  private task(id: string): Task {
    const t = this.tasks.get(id);
    if (!t) throw notFound(`container "${id}" not found`);
    return t;
  }
}

/** /proc/<pid>/stat's start time, or "" when the process is gone or a zombie. */
async function startTime(pid: number): Promise<string> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields[0] is the state (field 3); the start time is field 22.
    return fields[0] === "Z" ? "" : (fields[19] ?? "");
  } catch {
    return "";
  }
}
