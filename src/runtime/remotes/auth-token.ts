// Ports containerd 1.6 remotes/docker/auth/fetch.go: asking a token server (the challenge's realm) for
// a bearer token, by GET with optional Basic credentials or by the OAuth2 POST form.
import { BerthError, messageOf } from "../../lib/errdefs.js";
import type { Challenge } from "./auth-challenge.js";
import { type HttpClient, unexpectedStatus } from "./http.js";

/** What a token request needs (containerd's TokenOptions). */
export interface TokenOptions {
  realm: string;
  service: string;
  scopes: string[];
  username: string;
  /** Password, or with no username an identity (refresh) token. */
  secret: string;
}

export interface TokenResponse {
  token: string;
  /** Seconds the token lives, when the server says. */
  expiresIn?: number;
}

const ErrNoToken = "authorization server did not include a token in the response";

/** GenerateTokenOptions: a bearer challenge's realm, service and scope with the credentials. */
export function generateTokenOptions(c: Challenge, username: string, secret: string): TokenOptions {
  const realm = c.parameters.realm;
  if (realm === undefined) throw new BerthError("Unknown", "no realm specified for token auth challenge");
  try {
    new URL(realm);
  } catch (err) {
    throw new BerthError("Unknown", `invalid token auth challenge realm: ${messageOf(err)}`);
  }
  const scope = c.parameters.scope;
  return {
    realm,
    service: c.parameters.service ?? "",
    scopes: scope !== undefined ? scope.split(" ") : [],
    username,
    secret,
  };
}

async function decode(body: Buffer): Promise<Record<string, unknown>> {
  try {
    return JSON.parse(body.toString("utf8")) as Record<string, unknown>;
  } catch (err) {
    throw new BerthError("Unknown", `unable to decode token response: ${messageOf(err)}`);
  }
}

const expiresIn = (doc: Record<string, unknown>) =>
  typeof doc.expires_in === "number" && doc.expires_in > 0 ? doc.expires_in : undefined;

/** FetchTokenWithOAuth: POST the OAuth2 form (grant_type password, or refresh_token without a username). */
export async function fetchTokenWithOAuth(
  http: HttpClient,
  headers: Record<string, string>,
  clientId: string,
  to: TokenOptions,
): Promise<TokenResponse> {
  const form = new URLSearchParams();
  if (to.scopes.length > 0) form.set("scope", to.scopes.join(" "));
  form.set("service", to.service);
  form.set("client_id", clientId);
  if (to.username === "") {
    form.set("grant_type", "refresh_token");
    form.set("refresh_token", to.secret);
  } else {
    form.set("grant_type", "password");
    form.set("username", to.username);
    form.set("password", to.secret);
  }
  const res = await http.send("POST", to.realm, {
    headers: { ...headers, "Content-Type": "application/x-www-form-urlencoded; charset=utf-8" },
    body: form.toString(),
  });
  const body = await res.readAll();
  if (res.status < 200 || res.status >= 400) throw unexpectedStatus(res.status, body);
  const doc = await decode(body);
  if (typeof doc.access_token !== "string" || doc.access_token === "")
    throw new BerthError("Unknown", ErrNoToken);
  return { token: doc.access_token, expiresIn: expiresIn(doc) };
}

/** FetchToken: GET the realm with service and scopes, with Basic credentials when there is a secret. */
export async function fetchToken(
  http: HttpClient,
  headers: Record<string, string>,
  to: TokenOptions,
): Promise<TokenResponse> {
  const url = new URL(to.realm);
  if (to.service !== "") url.searchParams.append("service", to.service);
  for (const scope of to.scopes) url.searchParams.append("scope", scope);
  const all: Record<string, string> = { ...headers };
  if (to.secret !== "")
    all.Authorization = `Basic ${Buffer.from(`${to.username}:${to.secret}`).toString("base64")}`;
  const res = await http.send("GET", url.toString(), { headers: all });
  const body = await res.readAll();
  if (res.status < 200 || res.status >= 400) throw unexpectedStatus(res.status, body);
  const doc = await decode(body);
  // access_token is the same as token; either may be given.
  const token =
    typeof doc.access_token === "string" && doc.access_token !== "" ? doc.access_token : doc.token;
  if (typeof token !== "string" || token === "") throw new BerthError("Unknown", ErrNoToken);
  return { token, expiresIn: expiresIn(doc) };
}
