// The CRI service (containerd's pkg/cri/server/service.go): what every RPC shares, and
// RuntimeService and ImageService assembled from one module per RPC, named as
// containerd names its files (version.ts, status.ts, later container-create.ts …).
import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import { ImageService, RuntimeService } from "../../cri/gen/runtime/v1/api_pb.js";
import type { Logger } from "../../lib/log.js";
import type { MetadataDb } from "../core/metadata/db.js";
import type { GrpcService } from "../plugin.js";
import type { CriConfig } from "./config.js";
import { status } from "./status.js";
import { version } from "./version.js";

export class CriService implements GrpcService {
  constructor(
    readonly config: CriConfig,
    /** <root>/grpc.cri and <state>/grpc.cri: the plugin's own directories. */
    readonly rootDir: string,
    readonly stateDir: string,
    readonly db: MetadataDb,
    readonly log: Logger,
  ) {}

  register(router: ConnectRouter): void {
    router.service(RuntimeService, runtimeService(this));
    router.service(ImageService, imageService(this));
  }
}

/** One line per RPC; an RPC not listed answers Unimplemented. */
function runtimeService(c: CriService): Partial<ServiceImpl<typeof RuntimeService>> {
  return {
    version: (req) => version(c, req),
    status: (req) => status(c, req),
  };
}

function imageService(_c: CriService): Partial<ServiceImpl<typeof ImageService>> {
  return {};
}
