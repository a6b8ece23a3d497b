// After containerd's restrictOOMScoreAdj (pkg/cri/opts/spec_linux.go). Lowering an
// oom_score_adj below the writer's own needs CAP_SYS_RESOURCE, and runc writes the spec's
// process.oomScoreAdj for the container, so without that capability (rootless, or a VM
// like berth's test machine) a negative value fails `runc create`. containerd's
// restrict_oom_score_adj raises such a value to the daemon's own; this does the same.
import { readFile } from "node:fs/promises";

/** The oom_score_adj of a process (default: this one). */
export async function oomScoreAdj(pid: number | "self" = "self"): Promise<number> {
  return Number.parseInt(await readFile(`/proc/${pid}/oom_score_adj`, "utf8"), 10);
}

/** `preferred`, or this process's own oom_score_adj if that is higher (less likely to be killed). */
export async function restrictOomScoreAdj(preferred: number, current?: number): Promise<number> {
  return Math.max(preferred, current ?? (await oomScoreAdj()));
}
