import assert from "node:assert/strict";
import { test } from "node:test";
import { getUserFromImage, parseImageReferences } from "./image-list.js";

test("parseImageReferences sorts names into repo tags and repo digests, ignoring bare ids", () => {
  const id = `sha256:${"a".repeat(64)}`;
  const [tags, digests] = parseImageReferences([
    id,
    "127.0.0.1:5000/library/busybox:latest",
    `127.0.0.1:5000/library/busybox@${id}`,
    "docker.io/library/pause:3.9",
    "not a reference",
  ]);
  assert.deepEqual(tags, ["127.0.0.1:5000/library/busybox:latest", "docker.io/library/pause:3.9"]);
  assert.deepEqual(digests, [`127.0.0.1:5000/library/busybox@${id}`]);
});

test("getUserFromImage: numbers are uids, names are user names, groups are dropped", () => {
  const cases: [string, bigint | undefined, string][] = [
    ["", undefined, ""],
    ["0", 0n, ""],
    ["65535:65535", 65535n, ""],
    ["berth", undefined, "berth"],
    ["berth:users", undefined, "berth"],
    ["1000:berth", 1000n, ""],
    ["+5", 5n, ""],
    ["-1", -1n, ""],
    ["9223372036854775808", undefined, "9223372036854775808"],
  ];
  for (const [user, uid, name] of cases) assert.deepEqual(getUserFromImage(user), [uid, name], user);
});
