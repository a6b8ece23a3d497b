// The metadata plugin (containerd's io.containerd.metadata.v1.bolt): opens the one LMDB
// database at <root>/metadata.lmdb/meta.lmdb, as containerd keeps
// <root>/io.containerd.metadata.v1.bolt/meta.db.
import { join } from "node:path";
import { type Plugin, PluginType } from "../../plugin.js";
import { MetadataDb } from "./db.js";

export const metadataPlugin: Plugin<MetadataDb> = {
  type: PluginType.Metadata,
  id: "lmdb",
  requires: [],
  init: (ic) => MetadataDb.open(join(ic.root, "meta.lmdb")),
  close: (db) => db.close(),
};
