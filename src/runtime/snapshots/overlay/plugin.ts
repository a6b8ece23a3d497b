// The overlayfs snapshotter plugin (containerd's io.containerd.snapshotter.v1.overlayfs);
// opening it removes what a crash left half-made.
import type { MetadataDb } from "../../core/metadata/db.js";
import { type Plugin, PluginType } from "../../plugin.js";
import { OverlaySnapshotter } from "./overlay.js";

export const overlayPlugin: Plugin<OverlaySnapshotter> = {
  type: PluginType.Snapshotter,
  id: "overlayfs",
  requires: [PluginType.Metadata],
  init: (ic) => OverlaySnapshotter.open(ic.root, ic.get<MetadataDb>(PluginType.Metadata), ic.log),
};
