// Registry authentication against real registries: docker-registry with htpasswd (Basic) and with token
// auth backed by the test token server, whose JWTs the registry verifies. Errors are the ones
// containerd 1.6.20 gave for the same pulls (recorded through its CRI).
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { kindOf, messageOf } from "../src/lib/errdefs.js";
import type { BuiltImage } from "../src/local-images/oci-image-builder.js";
import type { RegistryAuth } from "../src/runtime/remotes/auth.js";
import { newResolver, type Resolver } from "../src/runtime/remotes/resolver.js";
import { buildTestImages, defaultImagesDir } from "../src/testenv/images.js";
import { type Registry, startRegistry } from "../src/testenv/registry.js";
import { startTokenServer, type TokenServer } from "../src/testenv/token-server.js";
import { captureLog } from "./support/capture-log.js";
import { fetchImage, rejection } from "./support/resolver.js";

const user = "alice";
const password = "s3cret";
let dir: string;
let busybox: BuiltImage;
const resolvers: Resolver[] = [];
const registries: Registry[] = [];
const tokenServers: TokenServer[] = [];

function resolver(auth?: RegistryAuth): Resolver {
  const r = newResolver({
    log: captureLog().log,
    configDir: path.join(dir, "certs.d"),
    auth,
    retry: { attempts: 2 },
  });
  resolvers.push(r);
  return r;
}

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "berth-remotes-auth-"));
  const images = await buildTestImages(defaultImagesDir());
  busybox = images.find((i) => i.name === "busybox") as BuiltImage;
});

after(async () => {
  for (const r of resolvers) await r.close();
  for (const reg of registries) await reg.stop();
  for (const t of tokenServers) await t.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("basic auth (htpasswd)", () => {
  let reg: Registry;
  let ref: string;
  before(async () => {
    reg = await startRegistry({ htpasswd: { [user]: password } });
    registries.push(reg);
    ref = (await reg.push(busybox, "library/busybox", "latest")).ref;
  });

  test("good credentials pull manifest, config and layers", async () => {
    await fetchImage(resolver({ username: user, password }), ref);
  });

  test("the docker-config `auth` form works too", async () => {
    await fetchImage(resolver({ auth: Buffer.from(`${user}:${password}`).toString("base64") }), ref);
  });

  test("bad or no credentials: the 401 stands, in containerd's words", async () => {
    for (const auth of [{ username: user, password: "wrong" }, undefined]) {
      const err = await rejection(resolver(auth).resolve(ref));
      assert.equal(kindOf(err), "Unknown");
      assert.equal(
        messageOf(err),
        `pulling from host ${reg.host} failed with status code [manifests latest]: 401 Unauthorized`,
      );
    }
  });

  test("credentials for another server address are not sent", async () => {
    const err = await rejection(
      resolver({ username: user, password, serverAddress: "https://other.test" }).resolve(ref),
    );
    assert.match(messageOf(err), /401 Unauthorized$/);
  });

  test("a missing tag behind auth is still NotFound", async () => {
    const missing = `${reg.host}/library/busybox:nope`;
    const err = await rejection(resolver({ username: user, password }).resolve(missing));
    assert.equal(kindOf(err), "NotFound");
    assert.equal(messageOf(err), `${missing}: not found`);
  });
});

describe("token auth (bearer)", () => {
  let tokens: TokenServer;
  let reg: Registry;
  let ref: string;
  before(async () => {
    tokens = await startTokenServer({
      users: { [user]: password },
      refreshTokens: { "identity-token-1": user },
    });
    tokenServers.push(tokens);
    reg = await startRegistry({ tokenAuth: tokens.auth, credentials: { username: user, password } });
    registries.push(reg);
    ref = (await reg.push(busybox, "library/busybox", "latest")).ref;
  });

  const since = (n: number) => tokens.requests.slice(n).map((x) => `${x.method} ${x.grant} ${x.status}`);

  test("username and password: OAuth2 POST (grant_type=password), one token for the whole pull", async () => {
    const n = tokens.requests.length;
    await fetchImage(resolver({ username: user, password }), ref);
    assert.deepEqual(since(n), ["POST password 200"]);
    assert.deepEqual(tokens.requests.at(-1)?.scopes, ["repository:library/busybox:pull"]);
  });

  test("identity token: OAuth2 POST with grant_type=refresh_token", async () => {
    const n = tokens.requests.length;
    await fetchImage(resolver({ identityToken: "identity-token-1" }), ref);
    assert.deepEqual(since(n), ["POST refresh_token 200"]);
  });

  test("registry token: sent as the bearer token, no token server involved", async () => {
    const token = await tokens.auth.mint(user, "repository:library/busybox:pull");
    const n = tokens.requests.length;
    await fetchImage(resolver({ registryToken: token }), ref);
    assert.deepEqual(since(n), []);
  });

  test("bad credentials: containerd's POST, then GET fallback, then its error", async () => {
    const n = tokens.requests.length;
    const err = await rejection(resolver({ username: user, password: "wrong" }).resolve(ref));
    assert.equal(kindOf(err), "Unknown");
    assert.equal(
      messageOf(err),
      "failed to authorize: failed to fetch oauth token: unexpected status: 401 Unauthorized",
    );
    assert.deepEqual(since(n).slice(0, 2), ["POST password 401", "GET basic 401"]);
  });

  test("no credentials: an anonymous token without access is refused as containerd reports it", async () => {
    const err = await rejection(resolver().resolve(ref));
    assert.equal(kindOf(err), "Unknown");
    assert.equal(
      messageOf(err),
      "pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed",
    );
  });
});

describe("token auth without the OAuth2 POST", () => {
  test("GET with Basic credentials after the POST is refused (405)", async () => {
    const tokens = await startTokenServer({ users: { [user]: password }, disablePost: true });
    tokenServers.push(tokens);
    const reg = await startRegistry({ tokenAuth: tokens.auth, credentials: { username: user, password } });
    registries.push(reg);
    const { ref } = await reg.push(busybox, "library/busybox", "latest");
    const n = tokens.requests.length;
    await fetchImage(resolver({ username: user, password }), ref);
    assert.deepEqual(
      tokens.requests.slice(n).map((x) => `${x.method} ${x.grant} ${x.status}`),
      ["POST  405", "GET basic 200"],
    );
  });

  test("anonymous pull where the token server grants it", async () => {
    const tokens = await startTokenServer({ users: { [user]: password }, anonymousPull: true });
    tokenServers.push(tokens);
    const reg = await startRegistry({ tokenAuth: tokens.auth, credentials: { username: user, password } });
    registries.push(reg);
    const { ref } = await reg.push(busybox, "library/busybox", "latest");
    await fetchImage(resolver(), ref);
    assert.equal(tokens.requests.at(-1)?.grant, "anonymous");
  });
});
