// CRI endpoints are unix sockets, written as crictl and the kubelet take them:
// "unix:///run/berth/berth.sock" or a bare absolute path.
import { invalidArgument } from "../lib/errdefs.js";

export const DefaultEndpoint = "unix:///run/berth/berth.sock";

/** The socket path of an endpoint. */
export function socketPath(endpoint: string): string {
  if (endpoint.startsWith("unix://")) {
    const path = endpoint.slice("unix://".length);
    if (path.startsWith("/")) return path;
    throw invalidArgument(`endpoint "${endpoint}": want unix:///absolute/path`);
  }
  if (endpoint.startsWith("/")) return endpoint;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(endpoint)?.[1];
  if (scheme) throw invalidArgument(`endpoint "${endpoint}": protocol "${scheme}" not supported, only unix`);
  throw invalidArgument(`endpoint "${endpoint}": want unix:///absolute/path`);
}
