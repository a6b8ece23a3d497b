// go-digest's validation messages (digest_test.go), which containerd's CRI passes through.
import assert from "node:assert/strict";
import { test } from "node:test";
import { messageOf } from "../errdefs.js";
import { fromBytes, newDigester, validateDigest } from "./digest.js";

test("validateDigest: go-digest's table", () => {
  const cases: [string, string][] = [
    [`sha256:${"e".repeat(64)}`, ""],
    [`sha384:${"d".repeat(96)}`, ""],
    [`sha512:${"a".repeat(128)}`, ""],
    ["d41d8cd98f00b204e9800998ecf8427e", "invalid checksum digest format"],
    ["sha256:", "invalid checksum digest format"],
    [":abc", "invalid checksum digest format"],
    [`sha256:${"e".repeat(63)}`, "invalid checksum digest length"],
    [`sha256:${"E".repeat(64)}`, "invalid checksum digest format"],
    [`sha256:${"g".repeat(64)}`, "invalid checksum digest format"],
    [`md5:${"d".repeat(32)}`, "unsupported digest algorithm"],
    [`foo:${"0".repeat(64)}`, "unsupported digest algorithm"],
    [`sha256+b64u:${"e".repeat(43)}`, "unsupported digest algorithm"],
    [`Sha256:${"e".repeat(64)}`, "invalid checksum digest format"],
  ];
  for (const [digest, want] of cases) {
    let got = "";
    try {
      validateDigest(digest);
    } catch (err) {
      got = messageOf(err);
    }
    assert.equal(got, want, digest);
  }
});

test("newDigester and fromBytes agree, in the digest's own algorithm", () => {
  const data = Buffer.from("berth");
  const d = newDigester(`sha256:${"0".repeat(64)}`);
  d.update(data.subarray(0, 2));
  d.update(data.subarray(2));
  assert.equal(d.digest(), fromBytes(data));
  const s512 = newDigester(`sha512:${"0".repeat(128)}`);
  s512.update(data);
  assert.match(s512.digest(), /^sha512:[0-9a-f]{128}$/);
});
