// Half-done work is undone where it was done, as containerd's `if retErr != nil` defers
// do: each step that made something pushes how to unmake it, and on failure the steps are
// undone in reverse. An undo that fails is logged; the error that caused the undo is the
// one the caller sees.
import { messageOf } from "./errdefs.js";
import type { Logger } from "./log.js";

export class Undo {
  private readonly steps: { what: string; fn: () => Promise<unknown> | unknown }[] = [];

  constructor(
    private readonly log: Logger,
    /** Context for the log lines, e.g. { sandbox: id }. */
    private readonly context: Record<string, unknown>,
  ) {}

  push(what: string, fn: () => Promise<unknown> | unknown): void {
    this.steps.push({ what, fn });
  }

  /** Runs every step pushed so far, last first, and forgets them. */
  async run(): Promise<void> {
    for (const { what, fn } of this.steps.splice(0).reverse()) {
      try {
        await fn();
      } catch (err) {
        this.log.warn({ ...this.context, step: what, err: messageOf(err) }, "failed to undo a step");
      }
    }
  }
}
