// pkg/probe/http (http.go, request.go), kubelet 1.28: an httpGet probe. The request goes to the pod's
// IP (or the probe's host) with the probe's headers, kubelet's User-Agent and no keep-alive, no proxy
// and no certificate check; 2xx and 3xx succeed, anything else fails. Redirects to the same host are
// followed (at most ten); a redirect elsewhere is not, and counts as a success with a warning, as the
// kubelet runs its prober with followNonLocalRedirects off. At most 10 KiB of the body is read.
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import type { Container, HTTPGetAction } from "kubernetes-types/core/v1.js";
import { dialErrorText, joinHostPort, type Outcome, resolveContainerPort } from "./probe.js";

/** How much of a response body the probe reads. */
export const maxRespBodyLength = 10 * 1024;
/** The kubelet release berth follows: probes name it in their User-Agent ("kube-probe/1.28"). */
const kubeletVersion = "1.28";
/** Go's http.Client gives up after this many redirects. */
const maxRedirects = 10;
const redirectCodes = new Set([301, 302, 303, 307, 308]);
/** Errors of the connection itself, which Go reports as a failed dial. */
const dialErrorCodes = new Set([
  "ECONNREFUSED",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/** What an httpGet probe sends: the URL and the header fields, in order (a name may repeat). */
export interface ProbeRequest {
  url: URL;
  headers: [string, string][];
}

/** NewRequestForHTTPGetAction: the request for a probe's httpGet; the pod IP when it names no host. */
export function newRequestForHTTPGetAction(
  httpGet: HTTPGetAction,
  container: Container,
  podIP: string,
  userAgentFragment: string,
): ProbeRequest {
  const scheme = (httpGet.scheme ?? "").toLowerCase() || "http";
  const host = httpGet.host || podIP;
  const port = resolveContainerPort(httpGet.port, container);
  const url = formatURL(scheme, host, port, httpGet.path ?? "");
  const headers = (httpGet.httpHeaders ?? []).map((h): [string, string] => [h.name, h.value]);
  return newProbeRequest(url, headers, userAgentFragment);
}

/** newProbeRequest: kubelet's User-Agent and Accept unless the probe sets them; an empty Accept is dropped. */
export function newProbeRequest(
  url: URL,
  headers: [string, string][],
  userAgentFragment = "probe",
): ProbeRequest {
  let out = [...headers];
  if (!out.some(([n]) => sameName(n, "user-agent")))
    out.push(["User-Agent", `kube-${userAgentFragment}/${kubeletVersion}`]);
  const accept = out.find(([n]) => sameName(n, "accept"));
  if (!accept) out.push(["Accept", "*/*"]);
  else if (accept[1] === "") out = out.filter(([n]) => !sameName(n, "accept"));
  return { url, headers: out };
}

/**
 * formatURL: the path is read as a URL whose scheme and authority are then replaced, so a path can
 * carry a query but never send the probe to another host.
 */
export function formatURL(scheme: string, host: string, port: number, path: string): URL {
  const rest = new URL(path, "http://path.invalid");
  const url = new URL(`${scheme}://${joinHostPort(host, port)}`);
  url.pathname = rest.pathname;
  url.search = rest.search;
  return url;
}

/** DoHTTPProbe with the kubelet's client: the whole exchange, redirects and body included, within timeoutMs. */
export async function doHTTPProbe(
  req: ProbeRequest,
  timeoutMs: number,
  followNonLocalRedirects = false,
): Promise<Outcome> {
  const deadline = new AbortController();
  // No timeout means none at all, as Go's client has it.
  const timer = timeoutMs > 0 ? setTimeout(() => deadline.abort(), timeoutMs) : undefined;
  // A Host header names the virtual host; a redirect keeps it only when its Location is relative.
  const initialHost = req.headers.find(([n]) => sameName(n, "host"))?.[1];
  let hostHeader = initialHost;
  let url = req.url;
  try {
    for (let requests = 1; ; requests++) {
      let res: IncomingMessage;
      try {
        res = await get(url, req.headers, hostHeader, deadline.signal);
      } catch (err) {
        return {
          result: "failure",
          output: `Get ${JSON.stringify(url.href)}: ${clientErrorText(url, err, deadline.signal)}`,
        };
      }
      const location = res.headers.location;
      if (redirectCodes.has(res.statusCode ?? 0) && location) {
        let next: URL;
        try {
          next = new URL(location, url);
        } catch (err) {
          res.destroy();
          return {
            result: "failure",
            output: `Get ${JSON.stringify(url.href)}: failed to parse Location header ${JSON.stringify(location)}: ${(err as Error).message}`,
          };
        }
        // Another host's answer is not the container's health: the redirect itself is the answer.
        if (followNonLocalRedirects || next.hostname === req.url.hostname) {
          res.destroy();
          if (requests >= maxRedirects) {
            return {
              result: "failure",
              output: `Get ${JSON.stringify(next.href)}: stopped after ${maxRedirects} redirects`,
            };
          }
          hostHeader = /^[a-z][a-z0-9+.-]*:/i.test(location) ? undefined : initialHost;
          url = next;
          continue;
        }
      }
      let body: string;
      try {
        body = await readAtMost(res, maxRespBodyLength);
      } catch (err) {
        return { result: "failure", output: "", error: err as Error };
      }
      const code = res.statusCode ?? 0;
      if (code >= 200 && code < 400) {
        if (code >= 300)
          return { result: "warning", output: `Probe terminated redirects, Response body: ${body}` };
        return { result: "success", output: body };
      }
      // The body may hold anything the application chose to say; the event carries only the code.
      return { result: "failure", output: `HTTP probe failed with statuscode: ${code}` };
    }
  } finally {
    clearTimeout(timer);
  }
}

/** One GET without keep-alive or proxy; TLS certificates are not checked, as the kubelet's prober does not. */
function get(
  url: URL,
  headers: [string, string][],
  hostHeader: string | undefined,
  signal: AbortSignal,
): Promise<IncomingMessage> {
  // Field names go out as the probe spells them; repeated ones (in any case) as one list.
  const fields: Record<string, string | string[]> = {};
  const spelled = new Map<string, string>();
  for (const [name, value] of headers) {
    const key = name.toLowerCase();
    // Go sends no User-Agent at all when the probe sets an empty one; Host is decided per request.
    if (key === "host" || (key === "user-agent" && value === "")) continue;
    const as = spelled.get(key) ?? name;
    spelled.set(key, as);
    fields[as] = [...((fields[as] as string[] | undefined) ?? []), value];
  }
  if (hostHeader) fields.Host = hostHeader;
  return new Promise((resolve, reject) => {
    const options = { method: "GET", headers: fields, agent: false as const, signal };
    const req =
      url.protocol === "https:"
        ? httpsRequest(url, { ...options, rejectUnauthorized: false }, resolve)
        : httpRequest(url, options, resolve);
    req.once("error", reject);
    req.end();
  });
}

/** ReadAtMost: up to `limit` bytes of the body; a longer body is cut, which is not an error. */
function readAtMost(res: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => {
      res.off("data", onData);
      resolve(Buffer.concat(chunks).subarray(0, limit).toString("utf8"));
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= limit) {
        done();
        res.destroy();
      }
    };
    res.on("data", onData);
    res.once("end", done);
    res.once("error", reject);
    // Once resolved this is a no-op; before that, a close without the end is a cut-off body.
    res.once("close", () => reject(new Error("unexpected EOF while reading the response body")));
  });
}

/** What Go's client says when a request fails (the part after `Get "<url>": `). */
function clientErrorText(url: URL, err: unknown, deadline: AbortSignal): string {
  if (deadline.aborted) return "context deadline exceeded (Client.Timeout exceeded while awaiting headers)";
  const e = err as NodeJS.ErrnoException;
  // The server closed the connection without an answer.
  if (e.code === "ECONNRESET" && e.message === "socket hang up") return "EOF";
  if (!dialErrorCodes.has(e.code ?? "")) return e.message;
  const port = Number(url.port) || (url.protocol === "https:" ? 443 : 80);
  return dialErrorText(joinHostPort(url.hostname.replace(/^\[|\]$/g, ""), port), err);
}

function sameName(a: string, b: string): boolean {
  return a.toLowerCase() === b;
}
