import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { test } from "node:test";
import { startThrottlingProxy } from "./throttling-proxy.js";

/** An upstream that answers each connection, once the client has ended its side, with `reply`. */
async function upstream(reply: Buffer) {
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    const got: Buffer[] = [];
    s.on("data", (d) => got.push(d));
    s.on("end", () => s.end(Buffer.concat([Buffer.from(`${Buffer.concat(got).length}:`), reply])));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { server, port: (server.address() as net.AddressInfo).port };
}

async function exchange(port: number, request: Buffer): Promise<Buffer> {
  const c = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true });
  const chunks: Buffer[] = [];
  c.on("data", (d) => chunks.push(d));
  c.end(request);
  await once(c, "close");
  return Buffer.concat(chunks);
}

test("bytes pass both ways intact, and an answer still comes after the client ends its side", async () => {
  const reply = Buffer.alloc(3 * 1024 * 1024, 7);
  const up = await upstream(reply);
  const proxy = await startThrottlingProxy({ host: "127.0.0.1", port: up.port }, 64 * 1024 * 1024);
  try {
    const got = await exchange(proxy.port, Buffer.from("hello"));
    assert.ok(got.equals(Buffer.concat([Buffer.from("5:"), reply])));
    proxy.bytesPerSecond = Number.POSITIVE_INFINITY;
    assert.equal((await exchange(proxy.port, Buffer.alloc(0))).length, 2 + reply.length);
  } finally {
    await proxy.close();
    up.server.close();
  }
});

test("close cuts the connections still open", async () => {
  const up = await upstream(Buffer.alloc(0));
  const proxy = await startThrottlingProxy({ host: "127.0.0.1", port: up.port }, 1024);
  const c = net.connect({ port: proxy.port, host: "127.0.0.1" });
  await once(c, "connect");
  const closed = once(c, "close");
  await proxy.close();
  await closed;
  up.server.close();
});
