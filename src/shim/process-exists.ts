// A cheap look whether a process still exists, for the waiters that poll between events:
// kill(pid, 0) is one system call on the main thread, where reading /proc takes a trip through
// the thread pool. It cannot tell a reused pid from the process it had, so a waiter still makes
// its full check (the process's /proc entry) every fullCheckEvery polls.
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, owned by someone we may not signal.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Every how many polls a waiter makes its full check rather than processExists alone. */
export const fullCheckEvery = 10;
