// Ports containerd 1.6 remotes/docker/resolver.go (NewResolver, Resolve, base) with the CRI plugin's
// registry setup (pkg/cri/server/image_pull.go registryHosts): a reference resolves to the descriptor of
// its manifest or index, and descriptors are fetched as verified streams. Nothing is stored here; the
// pull pipeline writes what it fetches into the content store.
//
// Errors read as containerd's (the caller adds `failed to resolve reference "<ref>": `):
//   missing tag, repository or digest  NotFound  `<ref>: not found`
//   401/403 after authorizing          Unknown   `pulling from host <h> failed with status code [manifests <tag>]: 401 Unauthorized`
//   token with no access               Unknown   `pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed`
//   bad credentials, token auth        Unknown   `failed to authorize: failed to fetch oauth token: unexpected status: 401 Unauthorized`
//   registry unreachable               Unknown   `failed to do request: Head "<url>": dial tcp <addr>: connect: connection refused`
import type { Readable } from "node:stream";
import { BerthError, messageOf, notFound } from "../../lib/errdefs.js";
import type { Logger } from "../../lib/log.js";
import { newDigester, validateDigest } from "../../lib/reference/digest.js";
import { parseDockerRef, type Reference } from "../../lib/reference/reference.js";
import type { Descriptor } from "../core/content/content.js";
import { MediaTypes } from "../images/media-types.js";
import { Authorizer, isInvalidAuthorization, parseAuth, type RegistryAuth } from "./auth.js";
import { type FetchOptions, fetch as fetchDescriptor, MediaTypeDockerSchema1Manifest } from "./fetcher.js";
import {
  closeHosts,
  configureHosts,
  DEFAULT_CONFIG_DIR,
  type HostCapability,
  newDefaultDispatcher,
  type RegistryHost,
} from "./hosts.js";
import { type HttpClient, type HttpResponse, newHttpClient, statusText } from "./http.js";
import { type DockerBase, doWithRetries, filterHosts, newRequest, requestUrl } from "./request.js";
import { Failures, type RetryOptions, statusError, withRetries } from "./retry.js";

export type { FetchOptions };

/** MaxManifestSize: manifests larger than this are refused (4 * 1048 * 1048, as upstream writes it). */
export const MaxManifestSize = 4 * 1048 * 1048;

/** What resolution accepts, in containerd's order. */
const resolveAccept = [
  MediaTypes.dockerManifest,
  MediaTypes.dockerManifestList,
  MediaTypes.ociManifest,
  MediaTypes.ociIndex,
  "*",
].join(", ");

export interface ResolverOptions {
  log: Logger;
  /** Per-host configuration root, `<configDir>/<host>/hosts.toml` (default /etc/berth/certs.d). */
  configDir?: string;
  /** The pull's CRI AuthConfig, applied per host as containerd's ParseAuth does. */
  auth?: RegistryAuth;
  /** Headers sent with every registry request (containerd's registry.headers). */
  headers?: Record<string, string>;
  /** Default "berth". */
  userAgent?: string;
  retry?: RetryOptions;
}

export interface Resolved {
  /** The reference as normalized for the pull, e.g. "docker.io/library/busybox:latest". */
  name: string;
  /** The manifest or index the reference names. */
  descriptor: Descriptor;
}

export interface Resolver {
  /** Resolve: the descriptor `ref` names (tag → manifest or index, via HEAD with a GET fallback). */
  resolve(ref: string, opts?: { signal?: AbortSignal }): Promise<Resolved>;
  /** Fetcher(ref).Fetch(desc): the bytes of `desc` from `ref`'s repository, checked as they stream. */
  fetch(ref: string, desc: Descriptor, opts?: FetchOptions): Promise<Readable>;
  /** Closes the connections of every endpoint used. */
  close(): Promise<void>;
}

/** getManifestMediaType: Content-Type without parameters; text/plain was schema 1 on old registries. */
function manifestMediaType(res: HttpResponse): string {
  const ct = (res.header("content-type") ?? "").split(";")[0]?.trim() ?? "";
  return ct === "text/plain" ? MediaTypeDockerSchema1Manifest : ct;
}

export function newResolver(opts: ResolverOptions): Resolver {
  const log = opts.log;
  const configDir = opts.configDir ?? DEFAULT_CONFIG_DIR;
  const shared = newDefaultDispatcher();
  const hostLists = new Map<string, Promise<RegistryHost[]>>();
  // Token servers are reached with the registry host's TLS settings, as containerd's per-host client.
  const dispatchers = new Map<string, RegistryHost["dispatcher"]>();
  const clients = new Map<RegistryHost["dispatcher"], HttpClient>();
  const headers = { "User-Agent": opts.userAgent ?? "berth", ...opts.headers };
  const httpFor = (dispatcher: RegistryHost["dispatcher"]) => {
    const known = clients.get(dispatcher);
    if (known !== undefined) return known;
    const c = newHttpClient(dispatcher);
    clients.set(dispatcher, c);
    return c;
  };
  const authorizer = new Authorizer({
    credentials: (host) => parseAuth(opts.auth, host),
    http: (host) => httpFor(dispatchers.get(host) ?? shared),
    headers,
    log,
  });

  const hostsFor = (domain: string): Promise<RegistryHost[]> => {
    let hosts = hostLists.get(domain);
    if (hosts === undefined) {
      hosts = configureHosts(domain, shared, configDir).then((list) => {
        for (const h of list) if (!dispatchers.has(h.host)) dispatchers.set(h.host, h.dispatcher);
        return list;
      });
      hostLists.set(domain, hosts);
      hosts.catch(() => hostLists.delete(domain));
    }
    return hosts;
  };

  const base = async (ref: Reference, signal: AbortSignal | undefined): Promise<DockerBase> => ({
    refHost: ref.domain,
    repository: ref.path,
    hosts: await hostsFor(ref.domain),
    retry: opts.retry ?? {},
    ctx: {
      authorizer,
      http: (host) => httpFor(host.dispatcher),
      headers,
      scopes: [`repository:${ref.path}:pull`],
      log: log.child({ ref: ref.toString() }),
      signal,
    },
  });

  const resolve: Resolver["resolve"] = async (ref, ropts = {}) => {
    const named = parseDockerRef(ref);
    const name = named.toString();
    const b = await base(named, ropts.signal);
    const dgst = named.digest;
    const caps: HostCapability[] = dgst !== undefined ? ["pull"] : ["pull", "resolve"];
    // A digest may name a manifest or, failing that, a blob (an image pushed as an artifact).
    const paths =
      dgst !== undefined
        ? [
            ["manifests", dgst],
            ["blobs", dgst],
          ]
        : [["manifests", named.tag as string]];
    const hosts = filterHosts(b, ...caps);
    if (hosts.length === 0) throw notFound("no resolve hosts: not found");

    return withRetries<Resolved>(
      `resolve of ${name}`,
      b.retry,
      b.ctx.log,
      async () => {
        const failures = new Failures();
        for (const u of paths) {
          for (const host of hosts) {
            try {
              const desc = await resolveAt(b, host, u, dgst);
              if (desc === undefined) {
                b.ctx.log.info({ host: host.host }, "trying next host - response was http.StatusNotFound");
                continue;
              }
              if (desc.size > MaxManifestSize) {
                failures.add(notFound(`rejecting ${desc.size} byte manifest for ${name}: not found`));
                continue;
              }
              b.ctx.log.debug({ host: host.host, digest: desc.digest }, "resolved");
              return { value: { name, descriptor: desc } };
            } catch (err) {
              b.ctx.log.info({ host: host.host, err: messageOf(err) }, "trying next host");
              failures.add(
                isInvalidAuthorization(err)
                  ? new BerthError(
                      "Unknown",
                      `pull access denied, repository does not exist or may require authorization: ${messageOf(err)}`,
                      { cause: err },
                    )
                  : err,
              );
            }
          }
        }
        return failures.outcome(() => notFound(`${name}: not found`));
      },
      ropts.signal,
    );
  };

  const fetch: Resolver["fetch"] = async (ref, desc, fopts = {}) => {
    const named = parseDockerRef(ref);
    return fetchDescriptor(await base(named, fopts.signal), desc, fopts);
  };

  const close = async () => {
    const lists = await Promise.all([...hostLists.values()].map((p) => p.catch(() => [])));
    for (const hosts of lists) await closeHosts(hosts, shared);
    await shared.close();
  };

  return { resolve, fetch, close };
}

/** The status error of a resolution request, as containerd words it. */
function hostStatusError(host: RegistryHost, u: string[], res: HttpResponse): BerthError {
  return statusError(
    `pulling from host ${host.host} failed with status code [${u.join(" ")}]: ${statusText(res.status)}`,
    res.status,
    res.header("retry-after"),
  );
}

/**
 * One endpoint's descriptor for `u`, undefined when it answers 404: HEAD, then GET when the answer
 * lacks a digest or length. A digest the reference names must be the one served.
 */
async function resolveAt(
  b: DockerBase,
  host: RegistryHost,
  u: string[],
  dgst: string | undefined,
): Promise<Descriptor | undefined> {
  const head = newRequest(b, host, "HEAD", ...u);
  head.headers.Accept = resolveAccept;
  const res = await doWithRetries(b.ctx, head);
  await res.discard();
  if (res.status === 404) return undefined;
  if (res.status > 299) throw hostStatusError(host, u, res);
  const length = res.header("content-length");
  let size = length !== undefined && /^\d+$/.test(length) ? Number(length) : -1;
  let mediaType = manifestMediaType(res);
  let digest = dgst;
  // The one point where the registry is trusted: its header gives a tag's digest.
  const header = res.header("docker-content-digest");
  if (header !== undefined && header !== "" && size !== -1) {
    try {
      validateDigest(header);
    } catch (err) {
      throw new BerthError("Unknown", `"${header}" in header not a valid digest: ${messageOf(err)}`, {
        cause: err,
      });
    }
    if (digest === undefined) digest = header;
    else if (header !== digest) {
      throw new BerthError(
        "FailedPrecondition",
        `${requestUrl(head)}: registry serves ${header} for ${digest}`,
      );
    }
  }
  if (digest === undefined || size === -1) {
    b.ctx.log.debug({ host: host.host }, "no Docker-Content-Digest header, fetching manifest instead");
    const get = newRequest(b, host, "GET", ...u);
    get.headers.Accept = resolveAccept;
    const got = await doWithRetries(b.ctx, get);
    if (got.status > 299) {
      await got.discard();
      throw hostStatusError(host, u, got);
    }
    const body = await got.readAll(MaxManifestSize + 1);
    mediaType = manifestMediaType(got);
    size = body.length;
    const d = newDigester(digest ?? "sha256:");
    d.update(body);
    const computed = d.digest();
    if (digest === undefined) digest = computed;
    else if (computed !== digest) {
      throw new BerthError(
        "FailedPrecondition",
        `${requestUrl(get)}: unexpected digest ${computed}, expected ${digest}`,
      );
    }
  }
  return { mediaType, digest, size };
}
