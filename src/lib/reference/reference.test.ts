// Table tests taken from containerd 1.6's reference/docker reference_test.go and normalize_test.go, plus
// the messages containerd 1.6.20's CRI gave for bad references (recorded with its PullImage).
import assert from "node:assert/strict";
import { test } from "node:test";
import { kindOf, messageOf } from "../errdefs.js";
import {
  ErrNameContainsUppercase,
  ErrNameEmpty,
  ErrNameTooLong,
  ErrReferenceInvalidFormat,
  familiarName,
  familiarString,
  parse,
  parseAnyReference,
  parseDockerRef,
  parseNormalizedNamed,
  withDigest,
  withName,
  withTag,
} from "./reference.js";

const errorOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    return messageOf(err);
  }
  return "";
};

const f64 = "f".repeat(64);

test("parse: upstream TestReferenceParse table", () => {
  const cases: {
    input: string;
    err?: string;
    repository?: string;
    domain?: string;
    tag?: string;
    digest?: string;
  }[] = [
    { input: "test_com", repository: "test_com" },
    { input: "test.com:tag", repository: "test.com", tag: "tag" },
    { input: "test.com:5000", repository: "test.com", tag: "5000" },
    { input: "test.com/repo:tag", domain: "test.com", repository: "test.com/repo", tag: "tag" },
    { input: "test:5000/repo", domain: "test:5000", repository: "test:5000/repo" },
    { input: "test:5000/repo:tag", domain: "test:5000", repository: "test:5000/repo", tag: "tag" },
    {
      input: `test:5000/repo@sha256:${f64}`,
      domain: "test:5000",
      repository: "test:5000/repo",
      digest: `sha256:${f64}`,
    },
    {
      input: `test:5000/repo:tag@sha256:${f64}`,
      domain: "test:5000",
      repository: "test:5000/repo",
      tag: "tag",
      digest: `sha256:${f64}`,
    },
    { input: "", err: ErrNameEmpty },
    { input: ":justtag", err: ErrReferenceInvalidFormat },
    { input: `@sha256:${f64}`, err: ErrReferenceInvalidFormat },
    { input: `repo@sha256:${"f".repeat(34)}`, err: "invalid checksum digest length" },
    { input: `validname@invaliddigest:${f64}`, err: "unsupported digest algorithm" },
    { input: "Uppercase:tag", err: ErrNameContainsUppercase },
    { input: "test:5000/Uppercase/lowercase:tag", err: ErrNameContainsUppercase },
    { input: "lowercase:Uppercase", repository: "lowercase", tag: "Uppercase" },
    { input: `${"a/".repeat(128)}a:tag`, err: ErrNameTooLong },
    {
      input: `${"a/".repeat(127)}a:tag-puts-this-over-max`,
      domain: "a",
      repository: `${"a/".repeat(127)}a`,
      tag: "tag-puts-this-over-max",
    },
    { input: "aa/asdf$$^/aa", err: ErrReferenceInvalidFormat },
    {
      input: "sub-dom1.foo.com/bar/baz/quux",
      domain: "sub-dom1.foo.com",
      repository: "sub-dom1.foo.com/bar/baz/quux",
    },
    {
      input: "sub-dom1.foo.com/bar/baz/quux:some-long-tag",
      domain: "sub-dom1.foo.com",
      repository: "sub-dom1.foo.com/bar/baz/quux",
      tag: "some-long-tag",
    },
    {
      input: "b.gcr.io/test.example.com/my-app:test.example.com",
      domain: "b.gcr.io",
      repository: "b.gcr.io/test.example.com/my-app",
      tag: "test.example.com",
    },
    {
      input: "xn--n3h.com/myimage:xn--n3h.com",
      domain: "xn--n3h.com",
      repository: "xn--n3h.com/myimage",
      tag: "xn--n3h.com",
    },
    {
      input: `xn--7o8h.com/myimage:xn--7o8h.com@sha512:${"f".repeat(128)}`,
      domain: "xn--7o8h.com",
      repository: "xn--7o8h.com/myimage",
      tag: "xn--7o8h.com",
      digest: `sha512:${"f".repeat(128)}`,
    },
    { input: "foo_bar.com:8080", repository: "foo_bar.com", tag: "8080" },
    { input: "foo/foo_bar.com:8080", domain: "foo", repository: "foo/foo_bar.com", tag: "8080" },
  ];
  for (const c of cases) {
    if (c.err !== undefined) {
      assert.equal(
        errorOf(() => parse(c.input)),
        c.err,
        JSON.stringify(c.input),
      );
      continue;
    }
    const ref = parse(c.input);
    assert.equal(ref.toString(), c.input);
    assert.equal(ref.name, c.repository, c.input);
    assert.equal(ref.domain, c.domain ?? "", c.input);
    assert.equal(ref.tag, c.tag, c.input);
    assert.equal(ref.digest, c.digest, c.input);
  }
});

test("parse: a long invalid name fails quickly (no catastrophic backtracking)", () => {
  const start = process.hrtime.bigint();
  assert.equal(
    errorOf(() => parse(`${"a".repeat(5000)}!`)),
    ErrReferenceInvalidFormat,
  );
  assert.equal(
    errorOf(() => parse(`${"a-".repeat(2000)}-!`)),
    ErrReferenceInvalidFormat,
  );
  assert.ok(process.hrtime.bigint() - start < 2_000_000_000n);
});

test("parseNormalizedNamed: upstream valid and invalid repository names (1.6 has no IPv6 hosts)", () => {
  const valid = [
    "docker/docker",
    "library/debian",
    "debian",
    "docker.io/docker/docker",
    "docker.io/library/debian",
    "docker.io/debian",
    "index.docker.io/docker/docker",
    "index.docker.io/library/debian",
    "index.docker.io/debian",
    "127.0.0.1:5000/docker/docker",
    "127.0.0.1:5000/library/debian",
    "127.0.0.1:5000/debian",
    "192.168.0.1",
    "192.168.0.1:80",
    "192.168.0.1:8/debian",
    "192.168.0.2:25000/debian",
    "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
    "docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
    "Docker/docker",
    "DOCKER/docker",
    "docker-rules/docker",
    "docker---rules/docker",
    "doc/docker",
    "d/docker",
    "jess/t",
    "dock__er/docker",
  ];
  const invalid = [
    "https://github.com/docker/docker",
    "docker/Docker",
    "-docker",
    "-docker/docker",
    "-docker.io/docker/docker",
    "docker///docker",
    "docker.io/docker/Docker",
    "docker.io/docker///docker",
    "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
    "docker-/docker",
    "-docker-/docker",
    "____/____",
    "_docker/_docker",
    "dock..er/docker",
    "dock_.er/docker",
    "dock-.er/docker",
    "docker/",
    `${"this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_".repeat(4)}/docker`,
    // containerd 1.6.20 answered `invalid reference format` for IPv6 hosts (added in 1.7).
    "[fc00::1]:5000/docker",
    "[::1]:5000/busybox",
  ];
  for (const name of valid) assert.doesNotThrow(() => parseNormalizedNamed(name), name);
  for (const name of invalid) assert.throws(() => parseNormalizedNamed(name), name);
});

test("parseNormalizedNamed: upstream TestParseRepositoryInfo table", () => {
  const cases = [
    ["fooo/bar", "fooo/bar", "docker.io/fooo/bar", "index.docker.io/fooo/bar", "docker.io"],
    ["library/ubuntu", "ubuntu", "docker.io/library/ubuntu", "library/ubuntu", "docker.io"],
    ["nonlibrary/ubuntu", "nonlibrary/ubuntu", "docker.io/nonlibrary/ubuntu", "", "docker.io"],
    ["other/library", "other/library", "docker.io/other/library", "", "docker.io"],
    [
      "private/moonbase",
      "127.0.0.1:8000/private/moonbase",
      "127.0.0.1:8000/private/moonbase",
      "",
      "127.0.0.1:8000",
    ],
    ["privatebase", "127.0.0.1:8000/privatebase", "127.0.0.1:8000/privatebase", "", "127.0.0.1:8000"],
    ["private/moonbase", "example.com/private/moonbase", "example.com/private/moonbase", "", "example.com"],
    ["privatebase", "example.com/privatebase", "example.com/privatebase", "", "example.com"],
    [
      "private/moonbase",
      "example.com:8000/private/moonbase",
      "example.com:8000/private/moonbase",
      "",
      "example.com:8000",
    ],
    [
      "privatebasee",
      "example.com:8000/privatebasee",
      "example.com:8000/privatebasee",
      "",
      "example.com:8000",
    ],
    [
      "library/ubuntu-12.04-base",
      "ubuntu-12.04-base",
      "docker.io/library/ubuntu-12.04-base",
      "index.docker.io/library/ubuntu-12.04-base",
      "docker.io",
    ],
    ["library/foo", "foo", "docker.io/library/foo", "docker.io/foo", "docker.io"],
    ["library/foo/bar", "library/foo/bar", "docker.io/library/foo/bar", "", "docker.io"],
    ["store/foo/bar", "store/foo/bar", "docker.io/store/foo/bar", "", "docker.io"],
    ["bar", "Foo/bar", "Foo/bar", "", "Foo"],
    ["bar", "FOO/bar", "FOO/bar", "", "FOO"],
  ] as const;
  for (const [remoteName, familiar, full, ambiguous, domain] of cases) {
    for (const s of [familiar, full, ambiguous].filter((x) => x !== "")) {
      const ref = parseNormalizedNamed(s);
      assert.equal(familiarName(ref), familiar, s);
      assert.equal(ref.toString(), full, s);
      assert.equal(ref.domain, domain, s);
      assert.equal(ref.path, remoteName, s);
    }
  }
});

test("parseNormalizedNamed: upstream TestNormalizedSplitHostname table", () => {
  const cases = [
    ["test.com/foo", "test.com", "foo"],
    ["test_com/foo", "docker.io", "test_com/foo"],
    ["docker/migrator", "docker.io", "docker/migrator"],
    ["test.com:8080/foo", "test.com:8080", "foo"],
    ["test-com:8080/foo", "test-com:8080", "foo"],
    ["foo", "docker.io", "library/foo"],
    ["xn--n3h.com/foo", "xn--n3h.com", "foo"],
    ["xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo"],
    ["docker.io/foo", "docker.io", "library/foo"],
    ["docker.io/library/foo", "docker.io", "library/foo"],
    ["docker.io/library/foo/bar", "docker.io", "library/foo/bar"],
  ] as const;
  for (const [input, domain, path] of cases) {
    const ref = parseNormalizedNamed(input);
    assert.deepEqual([ref.domain, ref.path], [domain, path], input);
  }
});

test("parseNormalizedNamed: tag and digest together (upstream TestParseReferenceWithTagAndDigest)", () => {
  const short = "busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa";
  const ref = parseNormalizedNamed(short);
  assert.equal(ref.toString(), `docker.io/library/${short}`);
  assert.equal(ref.tag, "latest");
  assert.equal(familiarString(ref), short);
});

test("parseAnyReference: upstream TestParseAnyReference table", () => {
  const d = "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c";
  const cases = [
    ["redis", "docker.io/library/redis"],
    ["redis:latest", "docker.io/library/redis:latest"],
    ["docker.io/library/redis:latest", "docker.io/library/redis:latest"],
    [`redis@sha256:${d}`, `docker.io/library/redis@sha256:${d}`],
    [`docker.io/library/redis@sha256:${d}`, `docker.io/library/redis@sha256:${d}`],
    ["dmcgowan/myapp", "docker.io/dmcgowan/myapp"],
    ["dmcgowan/myapp:latest", "docker.io/dmcgowan/myapp:latest"],
    ["docker.io/mcgowan/myapp:latest", "docker.io/mcgowan/myapp:latest"],
    [`dmcgowan/myapp@sha256:${d}`, `docker.io/dmcgowan/myapp@sha256:${d}`],
    [d, `sha256:${d}`],
    [`sha256:${d}`, `sha256:${d}`],
    [d.slice(0, 63), `docker.io/library/${d.slice(0, 63)}`],
    ["dbcc1", "docker.io/library/dbcc1"],
  ] as const;
  for (const [input, equivalent] of cases)
    assert.equal(parseAnyReference(input).toString(), equivalent, input);
  assert.equal(parseAnyReference(d).name, "");
});

test("withTag / withDigest: upstream TestWithTag and TestWithDigest tables", () => {
  const short = "sha256:1234567890098765432112345667890098765";
  assert.equal(withTag(withName("test.com/foo"), "tag").toString(), "test.com/foo:tag");
  assert.equal(withTag(withName("foo"), "tag2").toString(), "foo:tag2");
  assert.equal(withTag(withName("test.com:8000/foo"), "TAG5").toString(), "test.com:8000/foo:TAG5");
  assert.equal(
    withTag(withDigest(withName("test.com:8000/foo"), short), "TAG5").toString(),
    `test.com:8000/foo:TAG5@${short}`,
  );
  assert.equal(withDigest(withName("test.com/foo"), short).toString(), `test.com/foo@${short}`);
  assert.equal(
    withDigest(withTag(withName("test.com:8000/foo"), "latest"), short).toString(),
    `test.com:8000/foo:latest@${short}`,
  );
  assert.throws(() => withTag(parseNormalizedNamed("busybox"), "-foo"), /invalid tag format/);
  assert.throws(() => withDigest(parseNormalizedNamed("busybox"), "foo"), /invalid digest format/);
  for (const bad of ["", ":justtag", `@sha256:${f64}`, `${"a/".repeat(128)}a:tag`, "aa/asdf$$^/aa"]) {
    assert.throws(() => withName(bad), bad);
  }
});

test("parseDockerRef: normalizes as the CRI plugin does before a pull", () => {
  const d = `sha256:${f64}`;
  const cases = [
    ["busybox", "docker.io/library/busybox:latest"],
    ["busybox:1.36", "docker.io/library/busybox:1.36"],
    [`busybox@${d}`, `docker.io/library/busybox@${d}`],
    [`busybox:latest@${d}`, `docker.io/library/busybox@${d}`],
    ["127.0.0.1:5000/x", "127.0.0.1:5000/x:latest"],
    ["localhost/x", "localhost/x:latest"],
    ["localhost:5000/a/b:c", "localhost:5000/a/b:c"],
    ["index.docker.io/foo/bar", "docker.io/foo/bar:latest"],
    ["gcr.io/project/image:tag", "gcr.io/project/image:tag"],
  ] as const;
  for (const [input, want] of cases) assert.equal(parseDockerRef(input).toString(), want, input);
});

test("bad references give containerd 1.6.20's CRI messages, kind Unknown like its gRPC code", () => {
  // What containerd answered after `failed to parse image reference "<input>": `.
  const cases = [
    ["127.0.0.1:39327/Library/busybox", "invalid reference format: repository name must be lowercase"],
    ["Busybox", "invalid reference format: repository name must be lowercase"],
    ["busybox:", "invalid reference format"],
    ["-busybox", "invalid reference format"],
    ["busybox@sha256:abc", "invalid reference format"],
    [`busybox@foo:${"0".repeat(64)}`, "unsupported digest algorithm"],
    ["[::1]:5000/busybox", "invalid reference format"],
    [
      "0".repeat(64),
      `invalid repository name (${"0".repeat(64)}), cannot specify 64-byte hexadecimal strings`,
    ],
    ["", "invalid reference format"],
  ] as const;
  for (const [input, message] of cases) {
    let caught: unknown;
    try {
      parseDockerRef(input);
    } catch (err) {
      caught = err;
    }
    assert.equal(messageOf(caught), message, JSON.stringify(input));
    assert.equal(kindOf(caught), "Unknown");
  }
});
