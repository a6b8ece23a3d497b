// Ports containerd 1.6 remotes/docker/fetcher.go: reading a manifest or blob by descriptor from the
// first endpoint that has it, from an offset when resuming. berth adds what the content store would
// otherwise find out late: the stream checks size and digest as it goes, and a connection lost midway
// is picked up again with a Range request instead of failing the pull.
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { BerthError, isNotFound, messageOf, notFound } from "../../lib/errdefs.js";
import { type Digester, newDigester } from "../../lib/reference/digest.js";
import type { Descriptor } from "../core/content/content.js";
import { isIndexType, isManifestType } from "../images/media-types.js";
import { type HttpResponse, isNetworkError, statusText } from "./http.js";
import {
  type DockerBase,
  doWithRetries,
  filterHosts,
  newRequest,
  type RegistryRequest,
  requestUrl,
} from "./request.js";
import { backoffMs, Failures, statusError, withRetries } from "./retry.js";

/** Docker's signed schema 1 manifest, still served by old registries. */
export const MediaTypeDockerSchema1Manifest = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/** Types the manifests endpoint serves; the rest come from blobs. */
function isManifestEndpointType(mediaType: string): boolean {
  return isIndexType(mediaType) || isManifestType(mediaType) || mediaType === MediaTypeDockerSchema1Manifest;
}

export interface FetchOptions {
  /**
   * Byte to start at (a resumed ingest). The stream then checks only the length: the digest covers
   * bytes it does not see, so the content store verifies it on commit.
   */
  offset?: number;
  /**
   * false when the consumer verifies the digest itself, as a pull's content writer does (it hashes
   * what it writes and refuses a commit whose digest differs, like containerd's): one hash of the
   * stream instead of two. The length is checked either way.
   */
  verifyDigest?: boolean;
  signal?: AbortSignal;
}

/** An open response, where it came from, and how many leading bytes to drop (an ignored Range). */
interface Opened {
  res: HttpResponse;
  url: string;
  skip: number;
}

/** errcode.Errors of a registry error body, as distribution prints them ("unauthorized: …"). */
function registryErrors(body: Buffer): string | undefined {
  let doc: { errors?: { code?: string; message?: string }[] };
  try {
    doc = JSON.parse(body.toString("utf8"));
  } catch {
    return undefined;
  }
  const errors = (doc.errors ?? []).map(
    (e) => `${(e.code ?? "unknown").toLowerCase().replaceAll("_", " ")}: ${e.message ?? ""}`,
  );
  if (errors.length === 0) return undefined;
  return errors.length === 1 ? errors[0] : `errors:\n${errors.join("\n")}\n`;
}

/** open: GET one endpoint's copy, positioned at `offset`. */
async function open(
  base: DockerBase,
  req: RegistryRequest,
  desc: Descriptor,
  offset: number,
): Promise<Opened> {
  req.headers.Accept = `${desc.mediaType}, *`;
  // Accept-Ranges cannot be trusted, so the Content-Range of the answer is checked.
  if (offset > 0) req.headers.Range = `bytes=${offset}-`;
  const url = requestUrl(req);
  const res = await doWithRetries(base.ctx, req);
  if (res.status > 299) {
    const body = await res.readAll(64 * 1024).catch(() => Buffer.alloc(0));
    if (res.status === 404) throw notFound(`content at ${url} not found: not found`);
    const server = registryErrors(body);
    const message = `unexpected status code ${url}: ${statusText(res.status)}${server ? ` - Server message: ${server}` : ""}`;
    throw statusError(message, res.status, res.header("retry-after"));
  }
  const range = res.header("content-range");
  if (offset > 0 && range !== undefined && !range.startsWith(`bytes ${offset}-`)) {
    await res.discard();
    throw new BerthError("Unknown", `unhandled content range in response: ${range}`);
  }
  // A server that ignores Range sends everything; the bytes before the offset are dropped.
  return { res, url, skip: offset > 0 && range === undefined ? offset : 0 };
}

/** Opens `desc` at `offset` on the first endpoint that has it, retrying rounds over the endpoints. */
async function openAny(base: DockerBase, desc: Descriptor, offset: number): Promise<Opened> {
  const hosts = filterHosts(base, "pull");
  if (hosts.length === 0) throw notFound("no pull hosts: not found");
  const endpoints = isManifestEndpointType(desc.mediaType) ? ["manifests", "blobs"] : ["blobs"];
  return withRetries<Opened>(
    `fetch of ${desc.digest}`,
    base.retry,
    base.ctx.log,
    async () => {
      const failures = new Failures();
      for (const endpoint of endpoints) {
        for (const host of hosts) {
          try {
            return {
              value: await open(base, newRequest(base, host, "GET", endpoint, desc.digest), desc, offset),
            };
          } catch (err) {
            if (isNotFound(err)) continue;
            failures.add(err);
            base.ctx.log.info({ host: host.host, err: messageOf(err) }, "trying next host");
          }
        }
      }
      return failures.outcome(() =>
        notFound(
          `could not fetch content descriptor ${desc.digest} (${desc.mediaType}) from remote: not found`,
        ),
      );
    },
    base.ctx.signal,
  );
}

/**
 * Fetch: a stream of `desc`'s bytes from `offset` on. It fails when the bytes run past `desc.size`, and
 * at the end unless the length and (from offset 0) the digest are the descriptor's; a connection lost
 * midway is resumed with a Range request, within the retry budget.
 */
export async function fetch(base: DockerBase, desc: Descriptor, opts: FetchOptions = {}): Promise<Readable> {
  const offset = opts.offset ?? 0;
  const first = await openAny(base, desc, offset);
  const digester: Digester | undefined =
    offset === 0 && opts.verifyDigest !== false ? newDigester(desc.digest) : undefined;
  const attempts = base.retry.attempts ?? 5;
  const log = base.ctx.log;

  async function* verified(): AsyncGenerator<Buffer> {
    let { res, url, skip } = first;
    let pos = offset;
    try {
      for (let resumes = 0; ; ) {
        try {
          for await (const chunk of res.body) {
            let buf = chunk as Buffer;
            if (skip > 0) {
              const n = Math.min(skip, buf.length);
              skip -= n;
              buf = buf.subarray(n);
              if (buf.length === 0) continue;
            }
            pos += buf.length;
            if (pos > desc.size) {
              throw new BerthError(
                "FailedPrecondition",
                `content at ${url}: unexpected size ${pos} or more, expected ${desc.size}`,
              );
            }
            digester?.update(buf);
            yield buf;
          }
          if (pos === desc.size || resumes + 1 >= attempts) break;
        } catch (err) {
          if (!isNetworkError(err) || resumes + 1 >= attempts) {
            if (err instanceof BerthError) throw err;
            throw new BerthError("Unknown", `failed to read ${url}: ${messageOf(err)}`, { cause: err });
          }
        }
        // The connection ended early: ask again for the rest.
        resumes++;
        res.body.destroy();
        log.warn({ url, offset: pos, size: desc.size, attempt: resumes }, "resuming interrupted fetch");
        await sleep(backoffMs(resumes - 1, base.retry), undefined, { signal: opts.signal });
        ({ res, url, skip } = await openAny(base, desc, pos));
      }
    } finally {
      res.body.destroy();
    }
    if (pos !== desc.size) {
      throw new BerthError(
        "FailedPrecondition",
        `content at ${url}: unexpected size ${pos}, expected ${desc.size}`,
      );
    }
    const got = digester?.digest();
    if (got !== undefined && got !== desc.digest) {
      throw new BerthError(
        "FailedPrecondition",
        `content at ${url}: unexpected digest ${got}, expected ${desc.digest}`,
      );
    }
  }
  return Readable.from(verified(), { objectMode: false });
}
