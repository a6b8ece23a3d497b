// Mounts under an instance's base dir: overlay rootfs, sandbox shm, pod netns.
import { readFileSafe } from "./files.js";
import { run } from "./run.js";

/** Mount points under dir, deepest first (mountinfo escapes space, tab, newline, backslash). */
export function mountsUnder(dir: string): string[] {
  const info = readFileSafe("/proc/self/mountinfo") ?? "";
  const prefix = `${dir}/`;
  const out: string[] = [];
  for (const line of info.split("\n")) {
    const field = line.split(" ")[4];
    if (!field) continue;
    const mp = field.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
    if (mp === dir || mp.startsWith(prefix)) out.push(mp);
  }
  return [...new Set(out)].sort((a, b) => b.split("/").length - a.split("/").length || b.length - a.length);
}

export async function unmountUnder(dir: string): Promise<void> {
  for (let pass = 0; pass < 5; pass++) {
    const mounts = mountsUnder(dir);
    if (!mounts.length) return;
    for (const m of mounts) {
      const res = await run("umount", [m]);
      if (res.code !== 0) await run("umount", ["-l", m]);
    }
  }
  const rest = mountsUnder(dir);
  if (rest.length) throw new Error(`still mounted: ${rest.join(", ")}`);
}
