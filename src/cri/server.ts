// Serves CRI services over gRPC on a unix socket, the way containerd listens on
// /run/containerd/containerd.sock: HTTP/2 without TLS, mode 0660, stale socket replaced.
import { chmod, mkdir, rm } from "node:fs/promises";
import * as http2 from "node:http2";
import { dirname } from "node:path";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Logger } from "../lib/log.js";
import { socketPath } from "./endpoint.js";
import { serverInterceptors } from "./interceptors.js";
import { MaxMsgSize } from "./transport.js";

export interface CriServer {
  readonly socket: string;
  close(): Promise<void>;
}

export async function serveCri(
  endpoint: string,
  routes: (router: ConnectRouter) => void,
  log: Logger,
): Promise<CriServer> {
  const path = socketPath(endpoint);
  const handler = connectNodeAdapter({
    routes,
    grpc: true,
    grpcWeb: false,
    connect: false,
    readMaxBytes: MaxMsgSize,
    writeMaxBytes: MaxMsgSize,
    interceptors: serverInterceptors(log),
  });
  const server = http2.createServer(handler);
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  await mkdir(dirname(path), { recursive: true });
  await rm(path, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => {
      server.off("error", reject);
      resolve();
    });
  });
  await chmod(path, 0o660);
  log.info({ socket: path }, "serving CRI");
  return {
    socket: path,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sessions) s.close();
      await closed;
      await rm(path, { force: true });
    },
  };
}
