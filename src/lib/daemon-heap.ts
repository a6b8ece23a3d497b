// V8 settings for a long-lived daemon that idles most of the time (`berth runtime`, `berth
// kubelet`). V8's young generation starts at 1 MB a semi-space and doubles, up to 16 MB, whenever a
// scavenge finds it busy, and an idle daemon does not shrink it again. Growth factor 1 keeps it at
// 1 MB: the runtime's idle RSS after bench pulls fell from ~160 MB to ~105-125 MB at the same CPU
// per pull, the kubelet's with 30 pods from ~86 MB to ~78 MB. Set at run time, so that the process
// needs no launcher and keeps its pid (the max-size flags only take effect at startup); a flag on
// node's command line (bench --node-args) wins.
import { setFlagsFromString } from "node:v8";

export const DaemonV8Flags: readonly string[] = ["--semi-space-growth-factor=1"];

export function tuneDaemonHeap(): void {
  const given = new Set(process.execArgv.map((a) => a.split("=")[0]?.replaceAll("_", "-")));
  for (const flag of DaemonV8Flags) {
    if (!given.has(flag.split("=")[0])) setFlagsFromString(flag);
  }
}
