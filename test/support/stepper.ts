// Runs a process in short slices (SIGCONT, a tenth of a millisecond, SIGSTOP) while a test
// looks at what it did in between: a kill can then land between two steps of the process
// that lie microseconds apart, where no timer could aim.
import { readFileSync } from "node:fs";

export interface Stepper {
  /** Lets the process run for one slice; it is stopped again when this returns. */
  step(): void;
  /** Lets it run freely again. */
  release(): void;
}

/** How long one slice lets the process run. */
const sliceMs = 0.1;

/** Stops `pid` and returns once it is stopped. */
export function stopProcess(pid: number): Stepper {
  process.kill(pid, "SIGSTOP");
  waitStopped(pid);
  return {
    step: () => {
      process.kill(pid, "SIGCONT");
      spin(sliceMs);
      process.kill(pid, "SIGSTOP");
      waitStopped(pid);
    },
    release: () => process.kill(pid, "SIGCONT"),
  };
}

/** Spins until /proc says the process is stopped; a timer would be far too coarse. */
function waitStopped(pid: number): void {
  for (const deadline = performance.now() + 5000; performance.now() < deadline; spin(0.01)) {
    // The state is the field after the parenthesised command name.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    if (state === "T") return;
    if (state === "Z" || state === "X") throw new Error(`process ${pid} exited while being stopped`);
  }
  throw new Error(`process ${pid} did not stop within 5 s`);
}

function spin(ms: number): void {
  for (const end = performance.now() + ms; performance.now() < end; );
}
