// Ports the request half of containerd 1.6 remotes/docker/resolver.go (dockerBase.request,
// addNamespace, request.do, doWithRetries): one registry request, answered 401s re-sent with new
// authorization (at most five tries), and HEAD re-sent as GET where a registry refuses it.
import path from "node:path";
import { BerthError, messageOf } from "../../lib/errdefs.js";
import type { Logger } from "../../lib/log.js";
import type { Authorizer, AuthResponse } from "./auth.js";
import type { HostCapability, RegistryHost } from "./hosts.js";
import type { HttpClient, HttpResponse } from "./http.js";
import type { RetryOptions } from "./retry.js";

/** What every request of one pull shares. */
export interface RequestContext {
  authorizer: Authorizer;
  http: (host: RegistryHost) => HttpClient;
  /** Sent with every request (User-Agent, configured headers). */
  headers: Record<string, string>;
  /** Token scopes the requests need, e.g. "repository:library/busybox:pull". */
  scopes: string[];
  log: Logger;
  signal?: AbortSignal;
}

/** dockerBase: one repository and the endpoints that serve it. */
export interface DockerBase {
  /** The registry the reference names (mirrors get it as `ns`). */
  refHost: string;
  /** Repository path, e.g. "library/busybox". */
  repository: string;
  hosts: RegistryHost[];
  ctx: RequestContext;
  retry: RetryOptions;
}

/** filterHosts: the endpoints with every capability in `caps`. */
export function filterHosts(base: DockerBase, ...caps: HostCapability[]): RegistryHost[] {
  return base.hosts.filter((h) => caps.every((c) => h.capabilities.includes(c)));
}

export interface RegistryRequest {
  host: RegistryHost;
  method: string;
  /** Path and query, e.g. "/v2/library/busybox/manifests/latest?ns=docker.io". */
  path: string;
  headers: Record<string, string | string[]>;
}

/**
 * isProxy: whether `host` serves `refHost`'s images on its behalf (a mirror), so requests name the
 * original registry in the `ns` query parameter.
 */
function isProxy(host: RegistryHost, refHost: string): boolean {
  return refHost !== host.host && !(refHost === "docker.io" && host.host === "registry-1.docker.io");
}

/** dockerBase.request: `<host.path>/<repository>/<segments…>` on `host`, namespaced for mirrors. */
export function newRequest(
  base: DockerBase,
  host: RegistryHost,
  method: string,
  ...segments: string[]
): RegistryRequest {
  let p = path.posix.join("/", host.path, base.repository, ...segments);
  if (isProxy(host, base.refHost)) p += `?${new URLSearchParams({ ns: base.refHost })}`;
  return { host, method, path: p, headers: { ...host.header } };
}

/** The request's URL, as containerd prints it in errors. */
export function requestUrl(req: RegistryRequest): string {
  return `${req.host.scheme}://${req.host.host}${req.path}`;
}

async function send(ctx: RequestContext, req: RegistryRequest): Promise<HttpResponse> {
  const headers: Record<string, string | string[]> = { ...ctx.headers, ...req.headers };
  try {
    const authorization = await ctx.authorizer.authorize(req.host.host, ctx.scopes);
    if (authorization !== undefined) headers.Authorization = authorization;
  } catch (err) {
    throw new BerthError("Unknown", `failed to authorize: ${messageOf(err)}`, { cause: err });
  }
  const url = requestUrl(req);
  ctx.log.debug({ url, method: req.method }, "do request");
  try {
    return await ctx.http(req.host).send(req.method, url, { headers, signal: ctx.signal });
  } catch (err) {
    throw new BerthError("Unknown", `failed to do request: ${messageOf(err)}`, { cause: err });
  }
}

/** doWithRetries: sends `req`, answering 401 challenges and 405s to HEAD; the final response is returned. */
export async function doWithRetries(ctx: RequestContext, req: RegistryRequest): Promise<HttpResponse> {
  const responses: AuthResponse[] = [];
  let method = req.method;
  for (;;) {
    const res = await send(ctx, { ...req, method });
    responses.push({
      method,
      url: requestUrl(req),
      status: res.status,
      challenges: res.headerValues("www-authenticate"),
    });
    if (responses.length > 5) return res;
    if (res.status === 401) {
      ctx.log.debug({ header: res.header("www-authenticate") }, "Unauthorized");
      let retry: boolean;
      try {
        retry = ctx.authorizer.addResponses(req.host.host, responses);
      } catch (err) {
        await res.discard();
        throw err;
      }
      if (!retry) return res;
      await res.discard();
      continue;
    }
    // Registries that do not implement HEAD on manifests.
    if (res.status === 405 && method === "HEAD" && req.path.includes("/manifests/")) {
      await res.discard();
      method = "GET";
      continue;
    }
    return res;
  }
}
