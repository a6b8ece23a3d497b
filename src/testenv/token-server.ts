// A small token server for registry token authentication (the distribution "token" auth scheme), for tests.
//
// It listens on 127.0.0.1 and answers the realm URL both ways clients ask: GET with optional Basic
// credentials and `service`/`scope` query parameters (returns `token`), and the OAuth2 POST form with
// grant_type=password or grant_type=refresh_token (returns `access_token`). Tokens are ES256 JWTs whose x5c
// header carries the signing certificate; docker-registry trusts them through `rootcertbundle` and checks
// issuer, audience, expiry and the granted access for real.

import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { importPKCS8, SignJWT } from "jose";
import { makeSelfSignedCert } from "./self-signed-cert.js";

export interface TokenServerOptions {
  /** Accounts: user name → password. */
  users?: Record<string, string>;
  /** Identity (refresh) tokens accepted by the POST form: token → user name. */
  refreshTokens?: Record<string, string>;
  /** Whether anonymous clients get pull access (default false: their tokens grant nothing). */
  anonymousPull?: boolean;
  /** Answer POST with 405, as registries without OAuth2 support do, so clients fall back to GET. */
  disablePost?: boolean;
  /** `service` the registry names in its challenge (default "berth-registry"). */
  service?: string;
  /** Token lifetime in seconds (default 300). */
  expiresIn?: number;
  /** Parent for the temp dir holding the signing key (default os.tmpdir()). */
  tmpRoot?: string;
}

/** What the registry needs to trust this server (docker-registry `auth.token`). */
export interface RegistryTokenAuth {
  realm: string;
  service: string;
  issuer: string;
  rootCertBundle: string;
  /** Mints a token directly, for the test environment's own requests (push checks). */
  mint(user: string, scope: string): Promise<string>;
}

/** One request the server answered, for tests to assert which flow a client used. */
export interface TokenRequest {
  method: "GET" | "POST";
  /** "basic" (GET with credentials), "anonymous", "password" or "refresh_token" (POST grants). */
  grant: string;
  user?: string;
  scopes: string[];
  status: number;
}

export interface TokenServer {
  /** "http://127.0.0.1:PORT/token". */
  realm: string;
  auth: RegistryTokenAuth;
  /** Requests answered so far, oldest first. */
  requests: TokenRequest[];
  /** Close the server and remove its temp dir. */
  stop(): Promise<void>;
}

const ISSUER = "berth-token-server";

interface Access {
  type: string;
  name: string;
  actions: string[];
}

/** Parses "repository:library/busybox:pull,push" (the name may itself hold no colon). */
function parseScope(scope: string): Access | undefined {
  const first = scope.indexOf(":");
  const last = scope.lastIndexOf(":");
  if (first <= 0 || last === first) return undefined;
  return {
    type: scope.slice(0, first),
    name: scope.slice(first + 1, last),
    actions: scope.slice(last + 1).split(","),
  };
}

export async function startTokenServer(opts: TokenServerOptions = {}): Promise<TokenServer> {
  const dir = await mkdtemp(path.join(opts.tmpRoot ?? os.tmpdir(), "berth-token-server-"));
  try {
    const cert = await makeSelfSignedCert(dir, "token-signer");
    const key = await importPKCS8(cert.keyPem, "ES256");
    const x5c = cert.certPem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, "");
    const service = opts.service ?? "berth-registry";
    const expiresIn = opts.expiresIn ?? 300;
    const users = opts.users ?? {};
    const refreshTokens = opts.refreshTokens ?? {};
    const requests: TokenRequest[] = [];

    const mint = async (user: string | undefined, scopes: string[]): Promise<string> => {
      const access = scopes
        .map(parseScope)
        .filter((a): a is Access => a !== undefined)
        .map((a) => ({ ...a, actions: user || opts.anonymousPull ? grantable(a, user) : [] }));
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ access })
        .setProtectedHeader({ alg: "ES256", typ: "JWT", x5c: [x5c] })
        .setIssuer(ISSUER)
        .setSubject(user ?? "")
        .setAudience(service)
        .setIssuedAt(now)
        .setNotBefore(now - 10)
        .setExpirationTime(now + expiresIn)
        .setJti(randomBytes(16).toString("hex"))
        .sign(key);
    };
    // Accounts get what they ask for; anonymous clients (when allowed) only pull.
    const grantable = (a: Access, user: string | undefined) =>
      user ? a.actions : a.actions.filter((x) => x === "pull");

    const server = http.createServer((req, res) => {
      const reply = (status: number, body: unknown, record: Omit<TokenRequest, "status">) => {
        requests.push({ ...record, status });
        res.writeHead(status, { "Content-Type": "application/json" });
        res.end(JSON.stringify(body));
      };
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      if (url.pathname !== "/token") {
        res.writeHead(404).end();
        return;
      }
      if (req.method === "GET") {
        const scopes = url.searchParams.getAll("scope").flatMap((s) => s.split(" "));
        const header = req.headers.authorization ?? "";
        if (!header.startsWith("Basic ")) {
          void mint(undefined, scopes).then((token) =>
            reply(200, { token, expires_in: expiresIn }, { method: "GET", grant: "anonymous", scopes }),
          );
          return;
        }
        const decoded = Buffer.from(header.slice(6), "base64").toString("utf8");
        const colon = decoded.indexOf(":");
        const user = decoded.slice(0, colon);
        if (colon < 0 || users[user] === undefined || users[user] !== decoded.slice(colon + 1)) {
          reply(
            401,
            { details: "incorrect username or password" },
            { method: "GET", grant: "basic", scopes },
          );
          return;
        }
        void mint(user, scopes).then((token) =>
          reply(200, { token, expires_in: expiresIn }, { method: "GET", grant: "basic", user, scopes }),
        );
        return;
      }
      if (req.method !== "POST" || opts.disablePost) {
        reply(405, { details: "method not allowed" }, { method: "POST", grant: "", scopes: [] });
        return;
      }
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const form = new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
        const grant = form.get("grant_type") ?? "";
        const scopes = (form.get("scope") ?? "").split(" ").filter((s) => s !== "");
        let user: string | undefined;
        if (grant === "password") {
          const name = form.get("username") ?? "";
          if (users[name] !== undefined && users[name] === form.get("password")) user = name;
        } else if (grant === "refresh_token") {
          user = refreshTokens[form.get("refresh_token") ?? ""];
        }
        if (user === undefined) {
          reply(401, { error: "invalid_grant" }, { method: "POST", grant, scopes });
          return;
        }
        const who = user;
        void mint(who, scopes).then((token) =>
          reply(
            200,
            { access_token: token, expires_in: expiresIn, scope: scopes.join(" ") },
            { method: "POST", grant, user: who, scopes },
          ),
        );
      });
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const addr = server.address();
    if (addr === null || typeof addr === "string") throw new Error("token server has no TCP address");
    const realm = `http://127.0.0.1:${addr.port}/token`;

    let stopped: Promise<void> | undefined;
    const stop = () => {
      stopped ??= (async () => {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await rm(dir, { recursive: true, force: true });
      })();
      return stopped;
    };
    return {
      realm,
      requests,
      auth: {
        realm,
        service,
        issuer: ISSUER,
        rootCertBundle: cert.certPath,
        mint: (user, scope) => mint(user, [scope]),
      },
      stop,
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
