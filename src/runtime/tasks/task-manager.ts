// The tasks service (containerd's runtime/v2 TaskManager and services/tasks): a task is a
// container brought to life. Create makes the bundle — <state>/<ns>/<id> with config.json
// and the rootfs mounted from the container's snapshot — and hands it to the shim, which
// runs `runc create` under its monitor; delete undoes all of it. Everything after create
// (start, kill, wait, exec, update) goes to the shim by id.
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isNotFound, messageOf, wrap } from "../../lib/errdefs.js";
import type { Logger } from "../../lib/log.js";
import type { CreatedState, ProcessState } from "../../shim/process-state.js";
import type { CreateOptions, Shim } from "../../shim/shim.js";
import type { Container } from "../core/containers/containers.js";
import type { Snapshotter } from "../core/snapshots/snapshots.js";
import { mountAll, unmountAll } from "../mount/mount.js";

export interface TaskManagerOptions {
  /** Where bundles live: <stateDir>/<ns>/<id>. */
  stateDir: string;
  shim: Shim;
  snapshotters: Record<string, Snapshotter>;
  log: Logger;
}

export type TaskCreateOptions = Pick<CreateOptions, "logPath" | "monitorCgroup" | "logSizeMax" | "name">;

export class TaskManager {
  readonly shim: Shim;

  constructor(private readonly o: TaskManagerOptions) {
    this.shim = o.shim;
  }

  bundlePath(ns: string, id: string): string {
    return join(this.o.stateDir, ns, id);
  }

  /** newTask: bundle, rootfs, monitor, `runc create`. On failure nothing of it stays. */
  async create(ns: string, c: Container, opts: TaskCreateOptions): Promise<CreatedState> {
    const bundle = this.bundlePath(ns, c.id);
    const rootfs = join(bundle, "rootfs");
    try {
      await mkdir(rootfs, { recursive: true, mode: 0o711 });
      if (c.snapshotter && c.snapshotKey) {
        const snapshotter = this.snapshotter(c.snapshotter);
        await mountAll(await snapshotter.mounts(ns, c.snapshotKey), rootfs);
      }
      await writeFile(join(bundle, "config.json"), JSON.stringify(c.spec));
      return await this.o.shim.create({ id: c.id, bundle, ...opts });
    } catch (err) {
      await this.removeBundle(ns, c.id).catch((e) =>
        this.o.log.warn({ id: c.id, err: messageOf(e) }, "failed to remove the bundle of a failed task"),
      );
      throw wrap(err, `failed to create task for container "${c.id}"`);
    }
  }

  /** Deletes the task: the shim's process and state, then the rootfs mount and the bundle. A missing task is fine. */
  async delete(ns: string, id: string): Promise<void> {
    try {
      await this.o.shim.delete(id);
    } catch (err) {
      if (!isNotFound(err)) throw wrap(err, `failed to delete task of container "${id}"`);
    }
    await this.removeBundle(ns, id);
  }

  /** After a restart: the shim's view of the task, or undefined when it has none (then its bundle goes). */
  async recover(ns: string, id: string): Promise<ProcessState | undefined> {
    try {
      return await this.o.shim.recover(id);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await this.removeBundle(ns, id);
      return undefined;
    }
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
      await this.o.shim.recover(id).catch(() => undefined);
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

  private snapshotter(name: string): Snapshotter {
    const s = this.o.snapshotters[name];
    if (!s) throw wrap(new Error(`snapshotter "${name}" not loaded`), "failed to mount rootfs");
    return s;
  }
}
