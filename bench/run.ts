// What every benchmark run needs besides its measurements: positive-integer flags, the cleanups
// that remove what it started however it ends (^C included), and the machine it ran on.
import { cpus, totalmem } from "node:os";
import { messageOf } from "../src/lib/errdefs.js";

export const progress = (line: string) => process.stderr.write(`${line}\n`);

export function positiveFlag(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag}: want a positive integer, got ${value}`);
  return n;
}

/**
 * Undo steps, run once and newest first. On SIGINT or SIGTERM the run is marked interrupted (its
 * loops stop at their next check) and the cleanups alone remove what it made.
 */
export class Cleanups {
  private readonly steps: (() => Promise<void>)[] = [];
  private running: Promise<void> | undefined;
  interrupted = false;

  constructor() {
    for (const sig of ["SIGINT", "SIGTERM"] as const) {
      process.once(sig, () => {
        this.interrupted = true;
        void this.run().finally(() => process.exit(130));
      });
    }
  }

  push(step: () => Promise<void>): void {
    this.steps.push(step);
  }

  /** Throws if the run was interrupted: what it started is the cleanups' to remove now. */
  check(): void {
    if (this.interrupted) throw new Error("interrupted");
  }

  /** Runs every step, logging failures; a second caller waits for the first run to finish. */
  run(): Promise<void> {
    this.running ??= (async () => {
      for (const step of this.steps.reverse()) {
        await step().catch((err) => progress(`cleanup: ${messageOf(err)}`));
      }
    })();
    return this.running;
  }
}

export function machine() {
  return { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryBytes: totalmem(), node: process.version };
}
