import assert from "node:assert/strict";
import { type AddressInfo, createServer } from "node:net";
import { test } from "node:test";
import { doTCPProbe } from "./tcp-probe.js";

// tcp_test.go TestTcpHealthChecker, on a real listener on 127.0.0.1.
test("doTCPProbe: a connection that opens succeeds; a refused one or a bad port fails", async () => {
  const server = createServer((socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  try {
    assert.deepEqual(await doTCPProbe("127.0.0.1", port, 1000), { result: "success", output: "" });
    assert.deepEqual(await doTCPProbe("127.0.0.1", -1, 1000), {
      result: "failure",
      output: "dial tcp: address 127.0.0.1:-1: invalid port",
    });
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
  // The same port with nothing listening any more.
  assert.deepEqual(await doTCPProbe("127.0.0.1", port, 1000), {
    result: "failure",
    output: `dial tcp 127.0.0.1:${port}: connect: connection refused`,
  });
});
