// criService.ImageFsInfo, after containerd's pkg/cri/server/imagefs_info.go: the space
// and inodes of every snapshot, reported for the snapshotter's directory.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ImageFsInfoRequest, ImageFsInfoResponseSchema } from "../../cri/gen/runtime/v1/api_pb.js";
import { nowNs } from "../../lib/clock.js";
import { CriNamespace } from "./image-store.js";
import type { CriService } from "./service.js";

export async function imageFsInfo(
  c: CriService,
  _req: ImageFsInfoRequest,
): Promise<MessageInitShape<typeof ImageFsInfoResponseSchema>> {
  let usedBytes = 0n;
  let inodesUsed = 0n;
  for (const sn of await c.snapshotter.list(CriNamespace)) {
    const u = await c.snapshotter.usage(CriNamespace, sn.name);
    usedBytes += BigInt(u.size);
    inodesUsed += BigInt(u.inodes);
  }
  return {
    imageFilesystems: [
      {
        timestamp: nowNs(),
        fsId: { mountpoint: c.imageFsPath },
        usedBytes: { value: usedBytes },
        inodesUsed: { value: inodesUsed },
      },
    ],
  };
}
