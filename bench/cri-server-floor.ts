// The least a CRI runtime daemon on berth's stack can weigh: a Node process, its heap tuned as
// the daemons', serving CRI over gRPC on a unix socket (connect-node, protobuf-es, the interceptors
// and JSON logs) with an LMDB database open, and answering Version. bench/pull.ts runs it beside
// the daemons and prints its RSS as the floor under berth runtime's idle RSS.
//
//   node dist/bench/cri-server-floor.js <dir>
import { join } from "node:path";
import { RuntimeService } from "../src/cri/gen/runtime/v1/api_pb.js";
import { serveCri } from "../src/cri/server.js";
import { tuneDaemonHeap } from "../src/lib/daemon-heap.js";
import { newLogger } from "../src/lib/log.js";
import { MetadataDb } from "../src/runtime/core/metadata/db.js";

tuneDaemonHeap();
const dir = process.argv[2];
if (!dir) throw new Error("usage: cri-server-floor.js <dir>");
const db = await MetadataDb.open(join(dir, "meta.lmdb"));
const server = await serveCri(
  `unix://${join(dir, "floor.sock")}`,
  (router) =>
    router.service(RuntimeService, {
      version: () => ({
        version: "0.1.0",
        runtimeName: "floor",
        runtimeVersion: "0",
        runtimeApiVersion: "v1",
      }),
    }),
  newLogger("info"),
);
process.once("SIGTERM", async () => {
  await server.close();
  await db.close();
  process.exit(0);
});
