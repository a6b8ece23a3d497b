// containerd's own CLI, pointed at one instance.
import type { InstanceRecord } from "./instance.js";
import { run } from "./run.js";

export async function runCtr(
  rec: Pick<InstanceRecord, "socket">,
  args: string[],
  opts: { timeoutMs?: number; input?: string } = {},
): Promise<string> {
  const res = await run("ctr", ["--address", rec.socket, ...args], opts);
  if (res.code !== 0) {
    throw new Error(`ctr ${args.join(" ")}: ${res.err.trim() || res.out.trim() || `exit ${res.code}`}`);
  }
  return res.out;
}

const GLOBAL_WITH_VALUE = new Set(["-n", "--namespace", "-a", "--address", "--timeout", "--connect-timeout"]);

/** Adds this instance's runc root / fifo dir / hosts dir to the ctr commands that take them. */
export function injectCtrFlags(
  rec: Pick<InstanceRecord, "runcRoot" | "fifoDir" | "hostsDir">,
  args: string[],
): string[] {
  let i = 0;
  while (i < args.length && args[i]?.startsWith("-")) {
    const a = args[i] as string;
    i += GLOBAL_WITH_VALUE.has(a) ? 2 : 1;
  }
  const cmd = args[i];
  const has = (flag: string) => args.some((a) => a === flag || a.startsWith(`${flag}=`));
  const insertAt = (at: number, extra: string[]) => [...args.slice(0, at), ...extra, ...args.slice(at)];
  if (cmd === "run") {
    const extra: string[] = [];
    if (!has("--runc-root")) extra.push("--runc-root", rec.runcRoot);
    if (!has("--fifo-dir")) extra.push("--fifo-dir", rec.fifoDir);
    return insertAt(i + 1, extra);
  }
  const sub = args[i + 1];
  if (cmd === "t" || cmd === "task" || cmd === "tasks") {
    if ((sub === "start" || sub === "exec") && !has("--fifo-dir")) {
      return insertAt(i + 2, ["--fifo-dir", rec.fifoDir]);
    }
  }
  if (cmd === "i" || cmd === "image" || cmd === "images") {
    if ((sub === "pull" || sub === "push" || sub === "fetch") && !has("--hosts-dir")) {
      return insertAt(i + 2, ["--hosts-dir", rec.hostsDir]);
    }
  }
  return args;
}
