// pkg/probe/tcp/tcp.go (kubelet 1.28): a tcpSocket probe succeeds when a connection opens within the
// timeout and is closed again at once. Every failure to connect, a timeout included, is a failure of
// the probe, never an error of the prober.
import { connect } from "node:net";
import { dialErrorText, joinHostPort, type Outcome } from "./probe.js";

/** DoTCPProbe: connects to host:port within timeoutMs. */
export function doTCPProbe(host: string, port: number, timeoutMs: number): Promise<Outcome> {
  const address = joinHostPort(host, port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    return Promise.resolve({ result: "failure", output: `dial tcp: address ${address}: invalid port` });
  }
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const timer =
      timeoutMs > 0
        ? setTimeout(() => {
            socket.destroy();
            resolve({ result: "failure", output: `dial tcp ${address}: i/o timeout` });
          }, timeoutMs)
        : undefined;
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ result: "success", output: "" });
    });
    socket.once("error", (err) => {
      clearTimeout(timer);
      resolve({ result: "failure", output: dialErrorText(address, err) });
    });
  });
}
