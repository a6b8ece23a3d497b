// A process's memory and CPU time, as the kernel counts them.
import { readFile } from "node:fs/promises";

export interface Memory {
  /** VmRSS: resident now, in bytes. */
  rss: number;
  /** RssAnon: the resident part that is the process's own, not pages of mapped files (its binary). */
  anon: number;
  /** VmHWM: the most it was ever resident, in bytes. */
  peak: number;
}

export async function memoryOf(pid: number): Promise<Memory> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(status);
    if (!m) throw new Error(`/proc/${pid}/status has no ${field}`);
    return Number(m[1]) * 1024;
  };
  return { rss: kib("VmRSS"), anon: kib("RssAnon"), peak: kib("VmHWM") };
}

/** Clock ticks per second of /proc/<pid>/stat times: USER_HZ, 100 on Linux. */
const userHz = 100;

/** User plus system CPU time of all the process's threads so far, in ms. */
export async function cpuMsOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  // The fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / userHz;
}
