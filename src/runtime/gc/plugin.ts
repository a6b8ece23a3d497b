// The garbage collector plugin (containerd's io.containerd.gc.v1.scheduler): one
// collection at start-up, which also removes what a crash left behind; later ones run
// when images are removed.

import type { LocalContentStore } from "../content/local-store.js";
import type { MetadataDb } from "../core/metadata/db.js";
import type { Snapshotter } from "../core/snapshots/snapshots.js";
import { type Plugin, PluginType } from "../plugin.js";
import { GarbageCollector } from "./gc.js";

export const gcPlugin: Plugin<GarbageCollector> = {
  type: PluginType.GC,
  id: "scheduler",
  requires: [PluginType.Metadata, PluginType.Content, PluginType.Snapshotter, PluginType.Leases],
  init: async (ic) => {
    const gc = new GarbageCollector({
      db: ic.get<MetadataDb>(PluginType.Metadata),
      content: ic.get<LocalContentStore>(PluginType.Content),
      snapshotters: { overlayfs: ic.get<Snapshotter>(PluginType.Snapshotter, "overlayfs") },
      log: ic.log,
    });
    await gc.collect({ startup: true });
    return gc;
  },
};
