// containerd's mount.WithTempMount: a snapshot's rootfs mounted read-only for the span of
// a function, where spec generation reads the image's /etc/passwd and /etc/group. The
// directories are under the plugin's state dir with a prefix restart recovery sweeps.
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { mountAll, unmountAll } from "../mount/mount.js";
import { CriNamespace } from "./image-store.js";
import type { CriService } from "./service.js";

export const TempMountPrefix = "tmpmounts-";

export async function withTempMount<T>(
  c: CriService,
  key: string,
  fn: (root: string) => Promise<T>,
): Promise<T> {
  const mounts = await c.snapshotter.mounts(CriNamespace, key);
  const dir = await mkdtemp(join(c.stateDir, TempMountPrefix));
  try {
    await mountAll(
      mounts.map((m) => ({ ...m, options: [...m.options.filter((o) => o !== "rw"), "ro"] })),
      dir,
    );
    try {
      return await fn(dir);
    } finally {
      await unmountAll(dir);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
