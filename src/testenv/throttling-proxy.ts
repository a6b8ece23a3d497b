// A TCP proxy on 127.0.0.1 that paces what the upstream sends back to one rate shared by all
// connections: a real network path that makes a pull of a test image slow enough to be
// interrupted at a chosen moment. Requests pass unpaced; the rate can change at any time.
import { once } from "node:events";
import net from "node:net";

export interface ThrottlingProxy {
  /** "127.0.0.1:PORT". */
  readonly host: string;
  readonly port: number;
  /** Bytes per second towards clients, over all connections; Infinity for no limit. */
  bytesPerSecond: number;
  /** Stops listening and cuts every open connection. */
  close(): Promise<void>;
}

export async function startThrottlingProxy(
  upstream: { host: string; port: number },
  bytesPerSecond: number,
): Promise<ThrottlingProxy> {
  const sockets = new Set<net.Socket>();
  let rate = bytesPerSecond;
  // When the bytes sent so far have gone out at the rate: each chunk waits for its turn.
  let nextFree = 0;
  const delayFor = (bytes: number): number => {
    if (!Number.isFinite(rate)) return 0;
    const now = performance.now();
    nextFree = Math.max(now, nextFree) + (bytes / rate) * 1000;
    return nextFree - now;
  };

  // Half-open both ways: a client may end its side after the request and still read the answer.
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    const target = net.connect({ port: upstream.port, host: upstream.host, allowHalfOpen: true });
    for (const s of [client, target]) {
      sockets.add(s);
      s.on("error", () => {});
      s.on("close", () => sockets.delete(s));
    }
    // A client gone (a killed daemon) takes its upstream along; an upstream cut (a stopped
    // registry) cuts the client, but one that ends cleanly is ended after its last bytes.
    client.on("close", () => target.destroy());
    target.on("close", (hadError) => {
      if (hadError) client.destroy();
    });
    client.pipe(target);
    // One chunk at a time, the upstream paused meanwhile; its end waits for the last one.
    let written = Promise.resolve();
    target.on("data", (chunk: Buffer) => {
      target.pause();
      written = new Promise((resolve) => {
        const send = () =>
          client.write(chunk, () => {
            target.resume();
            resolve();
          });
        const delay = delayFor(chunk.length);
        if (delay > 0) setTimeout(send, delay);
        else send();
      });
    });
    target.on("end", () => void written.then(() => client.end()));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as net.AddressInfo).port;

  return {
    host: `127.0.0.1:${port}`,
    port,
    get bytesPerSecond() {
      return rate;
    },
    set bytesPerSecond(r: number) {
      rate = r;
    },
    close: async () => {
      const closed = once(server, "close");
      server.close();
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
