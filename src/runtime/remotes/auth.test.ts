// WWW-Authenticate challenges (after containerd's auth/parse_test.go) and CRI AuthConfig credentials
// (after pkg/cri/server/image_pull_test.go TestParseAuth).
import assert from "node:assert/strict";
import { test } from "node:test";
import { messageOf } from "../../lib/errdefs.js";
import { type Credentials, parseAuth, type RegistryAuth } from "./auth.js";
import { type Challenge, parseAuthHeader } from "./auth-challenge.js";

test("parseAuthHeader: challenges with their parameters, strongest scheme first", () => {
  const cases: [string, string[], Challenge[]][] = [
    [
      "single scope",
      [
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:foo/bar:pull,push"',
      ],
      [
        {
          scheme: "bearer",
          parameters: {
            realm: "https://auth.docker.io/token",
            service: "registry.docker.io",
            scope: "repository:foo/bar:pull,push",
          },
        },
      ],
    ],
    [
      "multiple scopes",
      [
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:foo/bar:pull,push repository:foo/baz:pull repository:foo/foo:push"',
      ],
      [
        {
          scheme: "bearer",
          parameters: {
            realm: "https://auth.docker.io/token",
            service: "registry.docker.io",
            scope: "repository:foo/bar:pull,push repository:foo/baz:pull repository:foo/foo:push",
          },
        },
      ],
    ],
    [
      "empty value kept",
      ['Bearer realm="https://auth.example.io/token",empty="",service="registry.example.io"'],
      [
        {
          scheme: "bearer",
          parameters: { realm: "https://auth.example.io/token", empty: "", service: "registry.example.io" },
        },
      ],
    ],
    [
      "basic with realm",
      ['Basic realm="berth-registry"'],
      [{ scheme: "basic", parameters: { realm: "berth-registry" } }],
    ],
    [
      "registry error on a bearer challenge",
      [
        'Bearer realm="http://127.0.0.1:1/token",service="s",scope="repository:a:pull",error="insufficient_scope"',
      ],
      [
        {
          scheme: "bearer",
          parameters: {
            realm: "http://127.0.0.1:1/token",
            service: "s",
            scope: "repository:a:pull",
            error: "insufficient_scope",
          },
        },
      ],
    ],
    [
      "case-insensitive names, token values, spaces",
      ['BASIC Realm=x ,  Charset="UTF-8"'],
      [{ scheme: "basic", parameters: { realm: "x", charset: "UTF-8" } }],
    ],
    [
      "escaped quotes",
      ['Bearer realm="a\\"b\\\\c"'],
      [{ scheme: "bearer", parameters: { realm: 'a"b\\c' } }],
    ],
    ["unterminated quote", ['Bearer realm="open'], [{ scheme: "bearer", parameters: { realm: "" } }]],
    [
      "sorted bearer, digest, basic; unknown schemes dropped",
      ['Basic realm="b"', "Negotiate abc", 'Digest realm="d"', 'Bearer realm="t"'],
      [
        { scheme: "bearer", parameters: { realm: "t" } },
        { scheme: "digest", parameters: { realm: "d" } },
        { scheme: "basic", parameters: { realm: "b" } },
      ],
    ],
    ["nothing", [], []],
  ];
  for (const [name, headers, want] of cases) assert.deepEqual(parseAuthHeader(headers), want, name);
});

test("parseAuth: CRI AuthConfig to credentials as containerd's ParseAuth", () => {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  const host = "registry.test:5000";
  const cases: [string, RegistryAuth | undefined, Credentials][] = [
    ["no auth config", undefined, { username: "", secret: "" }],
    ["empty auth config", {}, { username: "", secret: "" }],
    ["username and password", { username: "u", password: "p" }, { username: "u", secret: "p" }],
    [
      "username wins over auth",
      { username: "u", password: "p", auth: b64("x:y") },
      { username: "u", secret: "p" },
    ],
    ["identity token", { identityToken: "tok" }, { username: "", secret: "tok" }],
    ["auth string", { auth: b64("u:p:with:colons") }, { username: "u", secret: "p:with:colons" }],
    ["auth string with trailing NULs", { auth: b64("u:p\0\0") }, { username: "u", secret: "p" }],
    ["registry token", { registryToken: "rt" }, { username: "", secret: "", registryToken: "rt" }],
    [
      "matching server address",
      { serverAddress: `https://${host}`, username: "u", password: "p" },
      { username: "u", secret: "p" },
    ],
    [
      "other server address",
      { serverAddress: "https://other.test", username: "u", password: "p" },
      { username: "", secret: "" },
    ],
    [
      "server address without scheme never matches",
      { serverAddress: "registry.test", username: "u" },
      { username: "", secret: "" },
    ],
  ];
  for (const [name, auth, want] of cases) assert.deepEqual(parseAuth(auth, host), want, name);
});

test("parseAuth: errors as containerd words them", () => {
  assert.throws(
    () => parseAuth({ auth: Buffer.from("nocolon").toString("base64") }, "h"),
    (err) => messageOf(err) === 'invalid decoded auth: "nocolon"',
  );
  assert.throws(
    () => parseAuth({ serverAddress: "127.0.0.1:5000", username: "u" }, "127.0.0.1:5000"),
    (err) =>
      messageOf(err) ===
      'parse server address: parse "127.0.0.1:5000": first path segment in URL cannot contain colon',
  );
});
