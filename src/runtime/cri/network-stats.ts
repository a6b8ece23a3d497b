// Interface counters of a pod's network namespace for PodSandboxStats, the numbers
// containerd 1.6 takes from netlink inside the namespace (getContainerNetIO in
// pkg/cri/server/sandbox_stats_linux.go). Node cannot enter a namespace, and starting a
// process per pod would make stats slow, so they are read from /proc/<pid>/net/dev of a
// process living in the namespace (the pod's infra process): the kernel renders that file
// for the reader's target namespace, from the same counters netlink reports.
import { readFile, stat } from "node:fs/promises";
import { wrap } from "../../lib/errdefs.js";

export interface InterfaceStats {
  name: string;
  rxBytes: bigint;
  rxErrors: bigint;
  txBytes: bigint;
  txErrors: bigint;
}

/**
 * Counters of every interface in the network namespace pinned at `netnsPath`, read through
 * process `pid`. undefined when that process is gone or lives in another namespace (a
 * reused pid must not report someone else's traffic).
 */
export async function readNetworkStats(
  netnsPath: string,
  pid: number,
): Promise<InterfaceStats[] | undefined> {
  try {
    const [dev, procNs, pinnedNs] = await Promise.all([
      readFile(`/proc/${pid}/net/dev`, "latin1"),
      stat(`/proc/${pid}/ns/net`, { bigint: true }),
      stat(netnsPath, { bigint: true }),
    ]);
    if (procNs.ino !== pinnedNs.ino || procNs.dev !== pinnedNs.dev) return undefined;
    return parseNetDev(dev);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ESRCH") return undefined;
    throw wrap(err, `failed to read network stats of netns "${netnsPath}" through process ${pid}`);
  }
}

/**
 * /proc/net/dev: two header lines, then "name: " and 16 counters; receive bytes and errors
 * are the 1st and 3rd, transmit bytes and errors the 9th and 11th.
 */
export function parseNetDev(text: string): InterfaceStats[] {
  const out: InterfaceStats[] = [];
  for (const line of text.split("\n").slice(2)) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const f = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map((v) => BigInt(v));
    out.push({
      name: line.slice(0, colon).trim(),
      rxBytes: f[0] ?? 0n,
      rxErrors: f[2] ?? 0n,
      txBytes: f[8] ?? 0n,
      txErrors: f[10] ?? 0n,
    });
  }
  return out;
}
