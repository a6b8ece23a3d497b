// The content plugin (containerd's io.containerd.content.v1.content): blobs under
// <root>/content.local, their namespace records in the metadata database.
import type { MetadataDb } from "../core/metadata/db.js";
import { type Plugin, PluginType } from "../plugin.js";
import { LocalContentStore } from "./local-store.js";

export const contentPlugin: Plugin<LocalContentStore> = {
  type: PluginType.Content,
  id: "local",
  requires: [PluginType.Metadata],
  init: (ic) => LocalContentStore.open(ic.root, ic.get<MetadataDb>(PluginType.Metadata), ic.log),
};
