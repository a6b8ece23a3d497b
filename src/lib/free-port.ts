// A loopback TCP port nobody listens on right now, for a server that must be given a number
// (the registry's config, the kubelet's healthzPort/readOnlyPort). Another process may take it
// before it is used; the callers start at once and fail loudly if it was.
import { once } from "node:events";
import { createServer } from "node:net";

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const addr = server.address();
  server.close();
  await once(server, "close");
  if (addr === null || typeof addr === "string") throw new Error("could not determine a free port");
  return addr.port;
}
