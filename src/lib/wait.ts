// Periodic work the way the kubelet's wait.Until runs it: the work, then a period's pause after
// it ends (never overlapping runs), again and again until told to stop. The work handles its own
// errors: one that throws ends the loop.
import { setTimeout as sleep } from "node:timers/promises";

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  return sleep(ms, undefined, { signal }).catch(() => {});
}

/** wait.Until: runs `f` now and `periodMs` after each run ends, until `signal` aborts. */
export async function until(f: () => Promise<void>, periodMs: number, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    await f();
    await sleepUnlessAborted(periodMs, signal);
  }
}

/** A started `until` loop with its own stop: stop() waits for the run under way. */
export class Loop {
  private readonly stopping = new AbortController();
  private readonly done: Promise<void>;

  constructor(f: () => Promise<void>, periodMs: number) {
    this.done = until(f, periodMs, this.stopping.signal);
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.done;
  }
}
