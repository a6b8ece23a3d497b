// The CRI plugin (containerd's io.containerd.grpc.v1.cri): serves RuntimeService and
// ImageService on the daemon's socket, configured by [plugins.cri].
import type { MetadataDb } from "../core/metadata/db.js";
import { type Plugin, PluginType } from "../plugin.js";
import { type CriConfig, criConfigSection } from "./config.js";
import { CriService } from "./service.js";

export const criPlugin: Plugin<CriService, CriConfig> = {
  type: PluginType.Grpc,
  id: "cri",
  requires: [PluginType.Metadata],
  config: criConfigSection,
  init: (ic) => new CriService(ic.config, ic.root, ic.state, ic.get<MetadataDb>(PluginType.Metadata), ic.log),
};
