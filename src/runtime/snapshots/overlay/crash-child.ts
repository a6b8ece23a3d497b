// Test helper for overlay.test.ts, run as its own process: prepares, fills, commits, views
// and removes snapshots in a loop until the test SIGKILLs it. It mounts nothing, so the
// kill leaves no mount behind; it writes straight into the upper directories.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pino } from "pino";
import { MetadataDb } from "../../core/metadata/db.js";
import type { Mount } from "../../core/snapshots/snapshots.js";
import { OverlaySnapshotter } from "./overlay.js";

const [root, dbPath] = process.argv.slice(2) as [string, string];
const db = await MetadataDb.open(dbPath);
const s = await OverlaySnapshotter.open(root, db, pino({ level: "silent" }));
const ns = "crash";
const pid = process.pid;
process.stdout.write("ready\n");

let parent: string | undefined;
for (let i = 0; ; i++) {
  const key = `active-${pid}-${i}`;
  const mounts = await s.prepare(ns, key, parent);
  writeFileSync(join(upperOf(mounts), `file-${i}`), "x".repeat(i * 100));
  const name = `layer-${pid}-${i}`;
  await s.commit(ns, name, key);
  if (i % 3 === 2) {
    await s.view(ns, `view-${pid}-${i}`, name);
    await s.remove(ns, `view-${pid}-${i}`);
  }
  if (i % 5 === 4) {
    await s.remove(ns, name);
  } else {
    parent = name;
  }
}

function upperOf(mounts: Mount[]): string {
  const m = mounts[0] as Mount;
  if (m.type === "bind") return m.source;
  const upper = m.options.find((o) => o.startsWith("upperdir="));
  return (upper as string).slice("upperdir=".length);
}
