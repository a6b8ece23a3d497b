// Running the host tools (ctr, runc, ip, umount, rm) and containerd itself.
import { execFile } from "node:child_process";

/** PATH with the system dirs appended: the tools live in sbin, which a test's PATH may lack. */
export function toolEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PATH: `${process.env.PATH ?? ""}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
  };
}

interface RunResult {
  code: number;
  out: string;
  err: string;
}

/** Runs a command to completion; never rejects (a failure is a non-zero code). */
export function run(
  cmd: string,
  args: string[],
  opts: { timeoutMs?: number; input?: string } = {},
): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, env: toolEnv() },
      (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { code?: number | string; killed?: boolean }) | null;
        let code = 0;
        if (e) code = typeof e.code === "number" ? e.code : 1;
        let errText = String(stderr);
        if (e && typeof e.code !== "number") errText ||= e.message;
        if (e?.killed) errText = `timed out after ${timeoutMs} ms; ${errText}`;
        resolve({ code, out: String(stdout), err: errText });
      },
    );
    child.stdin?.end(opts.input);
  });
}
