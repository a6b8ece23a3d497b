// The leases plugin (containerd's io.containerd.lease.v1.manager).
import type { MetadataDb } from "../core/metadata/db.js";
import { type Plugin, PluginType } from "../plugin.js";
import { MetadataLeaseManager } from "./lease-manager.js";

export const leasesPlugin: Plugin<MetadataLeaseManager> = {
  type: PluginType.Leases,
  id: "metadata",
  requires: [PluginType.Metadata],
  init: (ic) => new MetadataLeaseManager(ic.get<MetadataDb>(PluginType.Metadata)),
};
