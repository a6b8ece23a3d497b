// What the conmon shim tests share: a temp dir with a busybox rootfs, a runc root, a shim
// state dir and a cgroup parent of their own; bundles made from a few arguments; and a
// view of what is left behind (runc containers, conmon processes, shim files, cgroups),
// so that each test can prove it leaves nothing, and close() can remove it all anyway.
import { mkdtemp, readdir, readFile, rm, rmdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { newLogger } from "../lib/log.js";
import { Runc } from "../runc/runc.js";
import { ConmonShim } from "../shim/conmon-shim.js";
import { type BundleSpecOptions, bundleSpec, unpackBusybox, writeBundle } from "./busybox-bundle.js";
import { existingCgroups, removeCgroup } from "./cgroups.js";

export interface Leftovers {
  runcContainers: string[];
  /** Pids of conmon processes working for this env. */
  monitors: number[];
  /** Entries under the shim's exits/, attach/ and containers/. */
  shimFiles: string[];
  /** Cgroups under the env's parent (the parent itself is removed by close()). */
  cgroups: string[];
}

export class ConmonTestEnv {
  readonly stateDir: string;
  readonly runcRoot: string;
  readonly cgroupParent: string;
  readonly runc: Runc;
  readonly shim: ConmonShim;

  private constructor(
    readonly dir: string,
    readonly rootfs: string,
  ) {
    // Short: conmon's attach socket path starts with it.
    this.stateDir = join(dir, "s");
    this.runcRoot = join(dir, "runc");
    this.cgroupParent = `/berth-test-shim-${process.pid}-${dir.slice(-6)}`;
    this.runc = new Runc({ root: this.runcRoot });
    this.shim = this.newShim();
  }

  static async start(): Promise<ConmonTestEnv> {
    const dir = await mkdtemp(join(tmpdir(), "berth-shim-"));
    return new ConmonTestEnv(dir, await unpackBusybox(join(dir, "rootfs")));
  }

  /** Another shim on the same directories: the daemon after a restart. */
  newShim(): ConmonShim {
    return new ConmonShim({ stateDir: this.stateDir, runcRoot: this.runcRoot, log: newLogger("error") });
  }

  /** Writes the bundle of container `id` running `args`; returns its directory. */
  bundle(id: string, args: string[], opts: Partial<BundleSpecOptions> = {}): Promise<string> {
    const spec = bundleSpec({
      args,
      rootfs: this.rootfs,
      cgroupsPath: `${this.cgroupParent}/${id}`,
      ...opts,
    });
    return writeBundle(join(this.dir, "bundles", id), spec);
  }

  logPath(id: string): string {
    return join(this.dir, "bundles", `${id}.log`);
  }

  /** Creates and starts `id` under the env's shim. */
  async run(id: string, args: string[], opts: Partial<BundleSpecOptions> = {}) {
    await this.shim.create({ id, bundle: await this.bundle(id, args, opts), logPath: this.logPath(id) });
    return this.shim.start(id);
  }

  /** Fails with the list of what is left unless nothing is. */
  async assertNothingLeft(): Promise<void> {
    const left = await this.leftovers();
    if (Object.values(left).some((l) => l.length > 0)) {
      throw new Error(`left behind: ${JSON.stringify(left)}`);
    }
  }

  async leftovers(): Promise<Leftovers> {
    const shimFiles: string[] = [];
    for (const sub of ["exits", "attach", "containers"]) {
      const names = await readdir(join(this.stateDir, sub)).catch(() => []);
      shimFiles.push(...names.map((n) => `${sub}/${n}`));
    }
    const cgroups: string[] = [];
    for (const parent of await existingCgroups(this.cgroupParent)) {
      const children = await readdir(parent, { withFileTypes: true });
      cgroups.push(...children.filter((c) => c.isDirectory()).map((c) => join(parent, c.name)));
    }
    return {
      runcContainers: (await this.runc.list()).map((c) => c.id),
      monitors: await this.monitors(),
      shimFiles,
      cgroups,
    };
  }

  /** Removes whatever is left, whoever left it: processes by pid, containers, cgroups, the dir. */
  async close(): Promise<void> {
    for (const pid of await this.monitors()) process.kill(pid, "SIGKILL");
    for (const c of await this.runc.list()) await this.runc.delete(c.id, { force: true });
    for (let i = 0; i < 50 && (await this.monitors()).length > 0; i++) await sleep(20);
    // Cgroups a test made itself (a monitors' cgroup) and did not get to remove.
    for (const cgroup of (await this.leftovers()).cgroups) await rmdir(cgroup);
    await removeCgroup(this.cgroupParent);
    await rm(this.dir, { recursive: true, force: true });
  }

  /** conmon processes whose command line names this env's directory. */
  private async monitors(): Promise<number[]> {
    const pids: number[] = [];
    for (const name of await readdir("/proc")) {
      if (!/^\d+$/.test(name)) continue;
      const argv = (await readFile(`/proc/${name}/cmdline`, "utf8").catch(() => "")).split("\0");
      if (argv[0]?.endsWith("conmon") && argv.some((a) => a.includes(this.dir))) pids.push(Number(name));
    }
    return pids;
  }
}
