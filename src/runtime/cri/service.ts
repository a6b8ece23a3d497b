// The CRI service (containerd's pkg/cri/server/service.go): what every RPC shares, and
// RuntimeService and ImageService assembled from one module per RPC, named as
// containerd names its files (version.ts, image-pull.ts, later container-create.ts …).
import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import { Images } from "../../cri/gen/berth/v1/images_pb.js";
import { ImageService, RuntimeService } from "../../cri/gen/runtime/v1/api_pb.js";
import type { Logger } from "../../lib/log.js";
import type { ImageManager } from "../images/image-manager.js";
import { imagesApi } from "../images/images-api.js";
import type { GrpcService } from "../plugin.js";
import type { OverlaySnapshotter } from "../snapshots/overlay/overlay.js";
import type { CriConfig } from "./config.js";
import { listImages } from "./image-list.js";
import { pullImage } from "./image-pull.js";
import { removeImage } from "./image-remove.js";
import { imageStatus } from "./image-status.js";
import { CriImageStore } from "./image-store.js";
import { imageFsInfo } from "./imagefs-info.js";
import { status } from "./status.js";
import { version } from "./version.js";

export interface CriServiceDeps {
  config: CriConfig;
  /** <root>/grpc.cri and <state>/grpc.cri: the plugin's own directories. */
  rootDir: string;
  stateDir: string;
  imageManager: ImageManager;
  snapshotter: OverlaySnapshotter;
  log: Logger;
}

export class CriService implements GrpcService {
  readonly config: CriConfig;
  readonly rootDir: string;
  readonly stateDir: string;
  readonly imageManager: ImageManager;
  readonly snapshotter: OverlaySnapshotter;
  readonly log: Logger;
  /** The images CRI sees: the k8s.io namespace grouped by image id. */
  readonly images: CriImageStore;

  constructor(deps: CriServiceDeps) {
    ({
      config: this.config,
      rootDir: this.rootDir,
      stateDir: this.stateDir,
      imageManager: this.imageManager,
      snapshotter: this.snapshotter,
      log: this.log,
    } = deps);
    this.images = new CriImageStore(deps.imageManager, deps.log);
  }

  /** What ImageFsInfo reports: the snapshotter's directory, as containerd reports its own. */
  get imageFsPath(): string {
    return this.snapshotter.root;
  }

  register(router: ConnectRouter): void {
    router.service(RuntimeService, runtimeService(this));
    router.service(ImageService, imageService(this));
    router.service(Images, imagesApi(this));
  }
}

/** One line per RPC; an RPC not listed answers Unimplemented. */
function runtimeService(c: CriService): Partial<ServiceImpl<typeof RuntimeService>> {
  return {
    version: (req) => version(c, req),
    status: (req) => status(c, req),
  };
}

function imageService(c: CriService): ServiceImpl<typeof ImageService> {
  return {
    listImages: (req) => listImages(c, req),
    imageStatus: (req) => imageStatus(c, req),
    pullImage: (req) => pullImage(c, req),
    removeImage: (req) => removeImage(c, req),
    imageFsInfo: (req) => imageFsInfo(c, req),
  };
}
