// The tasks service (containerd's runtime/v2 TaskManager and services/tasks): a task is a
// container brought to life. Create makes the bundle — <state>/<ns>/<id> with config.json
// and the rootfs mounted from the container's snapshot — and hands it to a shim, which
// runs `runc create`; delete undoes all of it. Containers get the monitored shim (conmon:
// logs, exit codes, OOM); a pod's infra container, which has no output and whose exit code
// nobody reads, gets the monitor-less one. Everything after create goes to the task's shim
// by id.
import { mkdir, readdir, realpath, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isNotFound, messageOf, notFound, wrap } from "../../lib/errdefs.js";
import type { Logger } from "../../lib/log.js";
import { isMountPoint, mountAll, unmountAll } from "../../lib/mount/mount.js";
import type { LinuxResources } from "../../runc/oci-spec.js";
import type { CreatedState, ExitStatus, ProcessState, RunningState } from "../../shim/process-state.js";
import type { CreateOptions, ExecSyncOptions, ExecSyncResult, Shim } from "../../shim/shim.js";
import type { Container } from "../core/containers/containers.js";
import type { Snapshotter } from "../core/snapshots/snapshots.js";

export interface TaskManagerOptions {
  /** Where bundles live: <stateDir>/<ns>/<id>. */
  stateDir: string;
  /** Runs containers under a monitor. */
  shim: Shim;
  /** Runs infra containers without one. */
  infraShim: Shim;
  snapshotters: Record<string, Snapshotter>;
  log: Logger;
}

export type TaskCreateOptions = Pick<CreateOptions, "logPath" | "monitorCgroup" | "logSizeMax" | "name"> & {
  /** An infra container: no monitor, no log. */
  infra?: boolean;
};

export class TaskManager {
  /** The shim of each task this daemon knows. */
  private readonly shims = new Map<string, Shim>();

  constructor(private readonly o: TaskManagerOptions) {}

  bundlePath(ns: string, id: string): string {
    return join(this.o.stateDir, ns, id);
  }

  /**
   * Mounts the container's snapshot at <bundle>/rootfs, unless it is mounted there already,
   * and returns that path. CreateContainer mounts it early, to read the image's /etc/passwd
   * and /etc/group for the spec, and the task then runs on the same mount: one mount per
   * container instead of a temporary one and the real one.
   */
  async mountRootfs(ns: string, c: Pick<Container, "id" | "snapshotter" | "snapshotKey">): Promise<string> {
    const rootfs = join(this.bundlePath(ns, c.id), "rootfs");
    await mkdir(rootfs, { recursive: true, mode: 0o711 });
    if (c.snapshotter && c.snapshotKey && !(await isMountPoint(await realpath(rootfs)))) {
      const snapshotter = this.snapshotter(c.snapshotter);
      await mountAll(await snapshotter.mounts(ns, c.snapshotKey), rootfs);
    }
    return rootfs;
  }

  /** newTask: bundle, rootfs, monitor, `runc create`. On failure nothing of it stays. */
  async create(ns: string, c: Container, opts: TaskCreateOptions): Promise<CreatedState> {
    const bundle = this.bundlePath(ns, c.id);
    try {
      await this.mountRootfs(ns, c);
      await writeFile(join(bundle, "config.json"), JSON.stringify(c.spec));
      const { infra, ...createOpts } = opts;
      const shim = infra ? this.o.infraShim : this.o.shim;
      const created = await shim.create({ id: c.id, bundle, ...createOpts });
      this.shims.set(c.id, shim);
      return created;
    } catch (err) {
      await this.removeBundle(ns, c.id).catch((e) =>
        this.o.log.warn({ id: c.id, err: messageOf(e) }, "failed to remove the bundle of a failed task"),
      );
      throw wrap(err, `failed to create task for container "${c.id}"`);
    }
  }

  /**
   * Deletes the task: the shim's process and state, then the rootfs mount and the bundle. A
   * missing task is fine (a created container's bundle holds only its rootfs mount).
   */
  async delete(ns: string, id: string): Promise<void> {
    const shim = this.shims.get(id);
    try {
      await shim?.delete(id);
    } catch (err) {
      if (!isNotFound(err)) throw wrap(err, `failed to delete task of container "${id}"`);
    }
    this.shims.delete(id);
    await this.removeBundle(ns, id);
  }

  /** After a restart: a shim's view of the task, or undefined when none has it (then its bundle goes). */
  async recover(ns: string, id: string): Promise<ProcessState | undefined> {
    for (const shim of [this.o.shim, this.o.infraShim]) {
      try {
        const state = await shim.recover(id);
        this.shims.set(id, shim);
        return state;
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    await this.removeBundle(ns, id);
    return undefined;
  }

  start(id: string): Promise<RunningState> {
    return this.shimOf(id).start(id);
  }

  state(id: string): Promise<ProcessState> {
    return this.shimOf(id).state(id);
  }

  kill(id: string, signal: NodeJS.Signals): Promise<void> {
    return this.shimOf(id).kill(id, signal);
  }

  wait(id: string, signal?: AbortSignal): Promise<ExitStatus> {
    return this.shimOf(id).wait(id, signal);
  }

  execSync(id: string, opts: ExecSyncOptions): Promise<ExecSyncResult> {
    return this.shimOf(id).execSync(id, opts);
  }

  reopenLog(id: string): Promise<void> {
    return this.shimOf(id).reopenLog(id);
  }

  update(id: string, resources: LinuxResources): Promise<void> {
    return this.shimOf(id).update(id, resources);
  }

  /** Bundles of ids not in `known` (a crash between bundle and record): deleted with their tasks. */
  async cleanupOrphans(ns: string, known: ReadonlySet<string>): Promise<string[]> {
    let ids: string[];
    try {
      ids = await readdir(join(this.o.stateDir, ns));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
    const orphans = ids.filter((id) => !known.has(id));
    for (const id of orphans) {
      await this.recover(ns, id).catch(() => undefined);
      await this.delete(ns, id);
    }
    return orphans;
  }

  private async removeBundle(ns: string, id: string): Promise<void> {
    const bundle = this.bundlePath(ns, id);
    const rootfs = join(bundle, "rootfs");
    try {
      await unmountAll(rootfs);
      await rm(bundle, { recursive: true, force: true });
    } catch (err) {
      throw wrap(err, `failed to remove bundle of container "${id}"`);
    }
  }

  private shimOf(id: string): Shim {
    const shim = this.shims.get(id);
    if (!shim) throw notFound(`no running task found: task ${id} not found`);
    return shim;
  }

  private snapshotter(name: string): Snapshotter {
    const s = this.o.snapshotters[name];
    if (!s) throw wrap(new Error(`snapshotter "${name}" not loaded`), "failed to mount rootfs");
    return s;
  }
}
