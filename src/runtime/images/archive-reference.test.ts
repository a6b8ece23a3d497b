import assert from "node:assert/strict";
import { test } from "node:test";
import { imageName, ociReferenceName, refTranslator } from "./archive-reference.js";

test("ociReferenceName keeps the object after the host, as containerd's reference.Parse splits it", () => {
  const cases: [string, string][] = [
    ["docker.io/library/busybox:latest", "latest"],
    ["127.0.0.1:5000/library/busybox:1.36", "1.36"],
    ["docker.io/library/busybox@sha256:abc", "@sha256:abc"],
    ["docker.io/library/busybox:1@sha256:abc", "1@sha256:abc"],
    ["docker.io/library/busybox", ""],
    ["busybox:latest", "busybox:latest"],
  ];
  for (const [name, want] of cases) assert.equal(ociReferenceName(name), want, name);
});

test("imageName prefers containerd's annotation and translates the OCI one", () => {
  const upper = (ref: string) => ref.toUpperCase();
  const both = {
    "io.containerd.image.name": "docker.io/library/a:1",
    "org.opencontainers.image.ref.name": "1",
  };
  assert.equal(imageName(both, upper), "docker.io/library/a:1");
  assert.equal(imageName({ "org.opencontainers.image.ref.name": "v1" }, upper), "V1");
  assert.equal(imageName({}, upper), "");
});

test("refTranslator: ctr's AddRefPrefix without a base name, FilterRefPrefix with one", () => {
  const now = new Date(2024, 0, 5);
  const cases: [string | undefined, string, string][] = [
    [undefined, "latest", "import-2024-01-05:latest"],
    [undefined, "example.com/app:v1", "example.com/app:v1"],
    ["example.com/app", "v1", "example.com/app:v1"],
    ["example.com/app", "example.com/app:v2", "example.com/app:v2"],
    ["example.com/app", "example.com/app@sha256:abc", "example.com/app@sha256:abc"],
    ["example.com/app", "example.com/app/sub:v1", "example.com/app/sub:v1"],
    // Not a partial path component, nor another repository.
    ["example.com/app", "example.com/apple:v1", ""],
    ["example.com/app", "other.io/x:v1", ""],
  ];
  for (const [base, ref, want] of cases) assert.equal(refTranslator(base, now)(ref), want, `${base} ${ref}`);
});
