import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { kindOf } from "../../lib/errdefs.js";
import { criImageNames, lookupDigest, sortReferences } from "./image-store.js";

const digested = (seed: number) => `sha256:${createHash("sha256").update(String(seed)).digest("hex")}`;

test("sortReferences: containerd's sort_test.go cases", () => {
  // The "z." prefix sorts names after "sha256:".
  const r1 = (name: string, tag: string, seed: number) => `z.containerd.io/${name}:${tag}@${digested(seed)}`;
  const r2 = (name: string, tag: string) => `z.containerd.io/${name}:${tag}`;
  const r3 = (name: string, seed: number) => `z.containerd.io/${name}@${digested(seed)}`;
  const cases: [string[], string[]][] = [
    [
      [r2("name", "latest"), r3("name", 1), r1("name", "latest", 1)],
      [r1("name", "latest", 1), r2("name", "latest"), r3("name", 1)],
    ],
    [
      ["can't parse this:latest", r3("name", 1), r2("name", "latest")],
      [r2("name", "latest"), r3("name", 1), "can't parse this:latest"],
    ],
    [
      [digested(1), r3("name", 1), r2("name", "latest")],
      [r2("name", "latest"), r3("name", 1), digested(1)],
    ],
    [
      [r2("name", "tag2"), r2("name", "tag3"), r2("name", "tag1")],
      [r2("name", "tag1"), r2("name", "tag2"), r2("name", "tag3")],
    ],
    [
      [r2("name-2", "tag"), r2("name-3", "tag"), r2("name-1", "tag")],
      [r2("name-1", "tag"), r2("name-2", "tag"), r2("name-3", "tag")],
    ],
  ];
  for (const [unsorted, want] of cases) assert.deepEqual(sortReferences(unsorted), want);
});

test("lookupDigest: whole ids, unique prefixes with or without the algorithm, ambiguity", () => {
  const a = `sha256:ab12${"0".repeat(60)}`;
  const b = `sha256:ab34${"0".repeat(60)}`;
  const c = `sha256:cd${"0".repeat(62)}`;
  const ids = [c, b, a];
  const cases: [string, string | undefined][] = [
    [a, a],
    [a.slice(7), a],
    ["ab1", a],
    ["sha256:ab3", b],
    ["c", c],
    ["sha256:c", c],
    ["sha512:c", undefined],
    ["md5:cd", undefined],
    ["ef", undefined],
    ["sha256:", undefined],
    [`sha256:${"0".repeat(64)}`, undefined],
  ];
  for (const [short, want] of cases) assert.equal(lookupDigest(ids, short), want, short);
  for (const short of ["a", "ab", "sha256:ab", ""]) {
    assert.throws(
      () => lookupDigest(ids, short),
      (err: Error) => err.message === "ambiguous digest string" && kindOf(err) === "Unknown",
      short,
    );
  }
  assert.equal(lookupDigest([], "ab"), undefined);
});

test("criImageNames: id, repo tag, repo digest, as a CRI pull names an image", () => {
  const id = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
  const digest = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
  const target = { mediaType: "application/vnd.oci.image.manifest.v1+json", digest, size: 1 };
  assert.deepEqual(criImageNames({ name: "docker.io/library/busybox:1", target, id }), [
    id,
    "docker.io/library/busybox:1",
    `docker.io/library/busybox@${digest}`,
  ]);
  assert.deepEqual(criImageNames({ name: `example.com/app@${digest}`, target, id }), [
    id,
    `example.com/app@${digest}`,
  ]);
  assert.deepEqual(criImageNames({ name: "", target, id }), [id]);
});
