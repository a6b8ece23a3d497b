// The CRI plugin (containerd's io.containerd.grpc.v1.cri): serves RuntimeService and
// ImageService, and berth's own image API, on the daemon's socket, configured by
// [plugins.cri]. It builds the image manager from the stores it requires.
import { join } from "node:path";
import { Cni } from "../cni/cni.js";
import { defaultNetwork } from "../cni/default-network.js";
import { MetadataContainerStore } from "../containers/container-store.js";
import type { LocalContentStore } from "../content/local-store.js";
import type { MetadataDb } from "../core/metadata/db.js";
import type { GarbageCollector } from "../gc/gc.js";
import { ImageManager } from "../images/image-manager.js";
import { MetadataImageStore } from "../images/image-store.js";
import type { MetadataLeaseManager } from "../leases/lease-manager.js";
import { type Plugin, PluginType } from "../plugin.js";
import type { OverlaySnapshotter } from "../snapshots/overlay/overlay.js";
import type { TaskManager } from "../tasks/task-manager.js";
import { type CriConfig, criConfigSection } from "./config.js";
import { CriService } from "./service.js";

export const criPlugin: Plugin<CriService, CriConfig> = {
  type: PluginType.Grpc,
  id: "cri",
  requires: [
    PluginType.Metadata,
    PluginType.Content,
    PluginType.Snapshotter,
    PluginType.Leases,
    PluginType.GC,
    PluginType.Runtime,
  ],
  config: criConfigSection,
  init: async (ic) => {
    const snapshotter = ic.get<OverlaySnapshotter>(PluginType.Snapshotter, ic.config.snapshotter);
    const imageManager = new ImageManager({
      content: ic.get<LocalContentStore>(PluginType.Content),
      images: new MetadataImageStore(ic.get<MetadataDb>(PluginType.Metadata)),
      snapshotter,
      snapshotterName: ic.config.snapshotter,
      leases: ic.get<MetadataLeaseManager>(PluginType.Leases),
      gc: ic.get<GarbageCollector>(PluginType.GC),
      log: ic.log,
      registryConfigDir: ic.config.registry.configPath,
      maxConcurrentDownloads: ic.config.maxConcurrentDownloads,
    });
    const cni = new Cni({
      binDirs: [ic.config.cni.binDir],
      confDir: ic.config.cni.confDir,
      cacheDir: join(ic.state, "cni", "cache"),
      defaultNetwork: defaultNetwork({ dataDir: join(ic.state, "cni", "networks") }),
      log: ic.log,
    });
    const service = new CriService({
      config: ic.config,
      rootDir: ic.root,
      stateDir: ic.state,
      imageManager,
      snapshotter,
      containers: new MetadataContainerStore(ic.get<MetadataDb>(PluginType.Metadata)),
      tasks: ic.get<TaskManager>(PluginType.Runtime),
      cni,
      cniCacheDir: join(ic.state, "cni", "cache"),
      log: ic.log,
    });
    await service.init();
    return service;
  },
  close: (service) => service.close(),
};
