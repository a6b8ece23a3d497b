// Ports containerd 1.6's CRI ParseAuth (pkg/cri/server/image_pull.go) and remotes/docker/authorizer.go:
// credentials from a CRI AuthConfig, and the per-host handler that answers 401 challenges with Basic
// credentials or bearer tokens (cached per scope) so the request can be sent again.

import { BerthError, messageOf } from "../../lib/errdefs.js";
import type { Logger } from "../../lib/log.js";
import { type Challenge, parseAuthHeader } from "./auth-challenge.js";
import { fetchToken, fetchTokenWithOAuth, generateTokenOptions, type TokenOptions } from "./auth-token.js";
import { type HttpClient, statusOf } from "./http.js";

/** The fields of a CRI AuthConfig (runtime.v1); the generated message type fits it. */
export interface RegistryAuth {
  username?: string;
  password?: string;
  /** base64 of "username:password", as in a docker config file. */
  auth?: string;
  /** Registry the credentials are for; they are withheld from any other host. */
  serverAddress?: string;
  /** A refresh token for the token server's OAuth2 endpoint. */
  identityToken?: string;
  /** A bearer token sent to the registry as is. */
  registryToken?: string;
}

/** What a host is accessed with: username and secret as containerd has them, or a bearer token. */
export interface Credentials {
  username: string;
  /** Password; with no username, an identity (refresh) token. */
  secret: string;
  /** Bearer token sent without asking a token server (containerd 1.6 leaves this a TODO). */
  registryToken?: string;
}

const anonymous: Credentials = { username: "", secret: "" };

/** The host a ServerAddress names, as Go's url.Parse sees it ("" when it has no authority part). */
function serverAddressHost(address: string): string {
  if (address.includes("://")) return new URL(address).host;
  // Without "//", Go reads "name:rest" as scheme and opaque part, and rejects a leading "host:port".
  const firstSegment = address.split("/")[0] as string;
  if (!/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(address) && firstSegment.includes(":")) {
    throw new BerthError(
      "Unknown",
      `parse server address: parse "${address}": first path segment in URL cannot contain colon`,
    );
  }
  return "";
}

/** ParseAuth: the credentials `auth` gives for `host` (anonymous when none apply). */
export function parseAuth(auth: RegistryAuth | undefined, host: string): Credentials {
  if (auth === undefined) return anonymous;
  if (auth.serverAddress && serverAddressHost(auth.serverAddress) !== host) return anonymous;
  if (auth.username) return { username: auth.username, secret: auth.password ?? "" };
  if (auth.identityToken) return { username: "", secret: auth.identityToken };
  if (auth.auth) {
    const decoded = Buffer.from(auth.auth, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) throw new BerthError("Unknown", `invalid decoded auth: ${JSON.stringify(decoded)}`);
    return { username: decoded.slice(0, colon), secret: decoded.slice(colon + 1).replace(/^\0+|\0+$/g, "") };
  }
  if (auth.registryToken) return { ...anonymous, registryToken: auth.registryToken };
  return anonymous;
}

/** ErrInvalidAuthorization: credentials were sent and rejected. */
const invalidAuthorization = new Error("authorization failed");

/** Whether `err` is (or wraps) a rejection of the credentials sent, like errors.Is(err, ErrInvalidAuthorization). */
export function isInvalidAuthorization(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 10; depth++, e = e.cause) {
    if (e === invalidAuthorization) return true;
  }
  return false;
}

/** A request and its answer, as the authorizer needs to judge a 401. */
export interface AuthResponse {
  method: string;
  url: string;
  status: number;
  /** WWW-Authenticate values. */
  challenges: string[];
}

interface CachedToken {
  token: Promise<string>;
  expiresAt: number;
}

/** authHandler: how one registry host is answered, with its bearer tokens by scope. */
interface AuthHandler {
  scheme: "basic" | "bearer";
  common: TokenOptions;
  tokens: Map<string, CachedToken>;
}

export interface AuthorizerOptions {
  /** Credentials for a registry host (from parseAuth). */
  credentials: (host: string) => Credentials;
  /** The HTTP client for a host's token server requests (the host's TLS settings apply). */
  http: (host: string) => HttpClient;
  /** Headers sent to token servers (User-Agent). */
  headers: Record<string, string>;
  log: Logger;
}

// containerd's OAuth2 client id.
const CLIENT_ID = "containerd-client";

/** dockerAuthorizer: per-host auth handlers, created from 401 challenges. */
export class Authorizer {
  private readonly handlers = new Map<string, AuthHandler>();

  constructor(private readonly opts: AuthorizerOptions) {}

  /** Authorize: the Authorization header for a request to `host` needing `scopes`, if any. */
  async authorize(host: string, scopes: string[]): Promise<string | undefined> {
    const registryToken = this.opts.credentials(host).registryToken;
    if (registryToken !== undefined) return `Bearer ${registryToken}`;
    const h = this.handlers.get(host);
    if (h === undefined) return undefined;
    if (h.scheme === "basic") {
      const { username, secret } = h.common;
      if (username === "" || secret === "") {
        throw new BerthError("Unknown", "failed to handle basic auth because missing username or secret");
      }
      return `Basic ${Buffer.from(`${username}:${secret}`).toString("base64")}`;
    }
    return `Bearer ${await this.bearerToken(host, h, scopes)}`;
  }

  private bearerToken(host: string, h: AuthHandler, scopes: string[]): Promise<string> {
    // GetTokenScopes: the request's scopes with the challenge's, sorted, without duplicates.
    const all = [...new Set([...scopes, ...h.common.scopes])].sort();
    const key = all.join(" ");
    const cached = h.tokens.get(key);
    if (cached !== undefined && cached.expiresAt > Date.now()) return cached.token;
    const entry: CachedToken = { token: Promise.resolve(""), expiresAt: Number.POSITIVE_INFINITY };
    entry.token = this.fetchBearer(host, { ...h.common, scopes: all }).then(
      ({ token, expiresIn }) => {
        // Renew a little before the server's deadline.
        if (expiresIn !== undefined) entry.expiresAt = Date.now() + expiresIn * 900;
        return token;
      },
      (err) => {
        h.tokens.delete(key);
        throw err;
      },
    );
    h.tokens.set(key, entry);
    return entry.token;
  }

  private async fetchBearer(host: string, to: TokenOptions) {
    const http = this.opts.http(host);
    if (to.secret === "") {
      try {
        return await fetchToken(http, this.opts.headers, to);
      } catch (err) {
        throw new BerthError("Unknown", `failed to fetch anonymous token: ${messageOf(err)}`, { cause: err });
      }
    }
    try {
      try {
        return await fetchTokenWithOAuth(http, this.opts.headers, CLIENT_ID, to);
      } catch (err) {
        // Token servers without the OAuth2 POST answer 404 (GCR), 401 (Artifactory), 400 (ACR) or 405.
        const status = statusOf(err);
        if ((status === 405 && to.username !== "") || status === 404 || status === 401 || status === 400) {
          return await fetchToken(http, this.opts.headers, to);
        }
        this.opts.log.debug({ host, status, err: messageOf(err) }, "token request failed");
        throw err;
      }
    } catch (err) {
      throw new BerthError("Unknown", `failed to fetch oauth token: ${messageOf(err)}`, { cause: err });
    }
  }

  /**
   * AddResponses: learns from a 401 (the last of `responses`, earlier ones being the attempts before
   * it). True when the request should be sent again with new authorization; false when no supported
   * scheme applies and the 401 stands; throws when the server rejected credentials already sent.
   */
  addResponses(host: string, responses: AuthResponse[]): boolean {
    const last = responses[responses.length - 1] as AuthResponse;
    for (const c of parseAuthHeader(last.challenges)) {
      if (c.scheme === "bearer") {
        if (this.invalidAuthorization(c, responses)) this.handlers.delete(host);
        if (c.parameters.error === "invalid_token") this.handlers.delete(host);
        // One registry gives one realm and service; only scopes differ per request.
        if (this.handlers.has(host)) return true;
        const { username, secret } = this.opts.credentials(host);
        this.handlers.set(host, {
          scheme: "bearer",
          common: generateTokenOptions(c, username, secret),
          tokens: new Map(),
        });
        return true;
      }
      if (c.scheme === "basic") {
        const { username, secret } = this.opts.credentials(host);
        if (username !== "" && secret !== "") {
          this.handlers.set(host, {
            scheme: "basic",
            common: { realm: "", service: "", scopes: [], username, secret },
            tokens: new Map(),
          });
          return true;
        }
      }
    }
    return false;
  }

  /**
   * invalidAuthorization: a bearer challenge carrying an error is retried once with a fresh handler;
   * the same request failing twice means the credentials do not grant it.
   */
  private invalidAuthorization(c: Challenge, responses: AuthResponse[]): boolean {
    const error = c.parameters.error;
    if (error === undefined || error === "") return false;
    const n = responses.length;
    const prev = responses[n - 2];
    const cur = responses[n - 1] as AuthResponse;
    if (n === 1 || (prev !== undefined && (prev.method !== cur.method || prev.url !== cur.url))) {
      this.opts.log.debug({ error: error.slice(0, 64) }, "authorization error using bearer token, retrying");
      return true;
    }
    throw new BerthError("Unknown", `server message: ${error}: ${invalidAuthorization.message}`, {
      cause: invalidAuthorization,
    });
  }
}
