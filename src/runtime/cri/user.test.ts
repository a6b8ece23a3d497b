import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Int64ValueSchema } from "../../cri/gen/runtime/v1/api_pb.js";
import { kindOf } from "../../lib/errdefs.js";
import type { Spec } from "../../runc/oci-spec.js";
import {
  generateUserString,
  mergeGids,
  parseGroup,
  parsePasswd,
  rootPath,
  withAdditionalGids,
  withSupplementalGroups,
  withUser,
} from "./user.js";

let dir: string;
let root: string;
let empty: string;
const withRoot = <T>(fn: (r: string) => Promise<T>) => fn(root);
const withEmpty = <T>(fn: (r: string) => Promise<T>) => fn(empty);
const int = (value: bigint) => create(Int64ValueSchema, { value });
const spec = (): Spec => ({
  ociVersion: "1.0.2",
  process: { user: { uid: 0, gid: 0, additionalGids: [42] }, args: [], cwd: "/" },
});

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "berth-user-"));
  root = join(dir, "root");
  empty = join(dir, "empty");
  await mkdir(join(root, "etc"), { recursive: true });
  await mkdir(empty);
  await writeFile(
    join(root, "etc", "passwd"),
    "root:x:0:0:root:/root:/bin/sh\n# a comment\nberth:x:1000:1000::/home/berth:/bin/sh\nodd:x:notanumber:7::/:/bin/sh\n",
  );
  await writeFile(
    join(root, "etc", "group"),
    "root:x:0:\nusers:x:100:berth,other\nberth:x:1000:berth\nwheel:x:10:root\n",
  );
});

after(() => rm(dir, { recursive: true, force: true }));

test("generateUserString combines the CRI user fields as containerd does", () => {
  assert.equal(generateUserString("", undefined, undefined), "");
  assert.equal(generateUserString("berth", undefined, undefined), "berth");
  assert.equal(generateUserString("berth", int(5n), undefined), "berth");
  assert.equal(generateUserString("berth", int(5n), int(6n)), "berth:6");
  assert.equal(generateUserString("", int(5n), undefined), "5");
  assert.equal(generateUserString("", int(0n), int(6n)), "0:6");
  assert.throws(() => generateUserString("", undefined, int(6n)), /user group "6" is specified without user/);
});

test("passwd and group parse like libcontainer/user: bad numbers are 0, members split on commas", () => {
  assert.deepEqual(parsePasswd("a:x:1:2::/:/bin/sh\nb:x:zz:3\n\n"), [
    { name: "a", uid: 1, gid: 2 },
    { name: "b", uid: 0, gid: 3 },
  ]);
  assert.deepEqual(parseGroup("g:x:5:\nh:x:6:a,b"), [
    { name: "g", gid: 5, members: [] },
    { name: "h", gid: 6, members: ["a", "b"] },
  ]);
});

test("rootPath keeps symlinks inside the rootfs", async () => {
  const r = join(dir, "links");
  await mkdir(join(r, "etc"), { recursive: true });
  await symlink("/../../../../etc/shadow", join(r, "etc", "passwd"));
  await symlink("../etc", join(r, "up"));
  assert.equal(await rootPath(r, "/etc/passwd"), join(r, "etc/shadow"));
  assert.equal(await rootPath(r, "/up/../../x"), join(r, "x"));
});

describe("withUser", () => {
  const cases: [string, { uid: number; gid: number; additionalGids: number[] }][] = [
    ["1000", { uid: 1000, gid: 1000, additionalGids: [1000] }],
    ["4321", { uid: 4321, gid: 0, additionalGids: [0] }],
    ["berth", { uid: 1000, gid: 1000, additionalGids: [1000] }],
    ["1000:5", { uid: 1000, gid: 5, additionalGids: [5] }],
    ["berth:users", { uid: 1000, gid: 100, additionalGids: [100] }],
    ["7:wheel", { uid: 7, gid: 10, additionalGids: [10] }],
  ];
  for (const [user, want] of cases) {
    test(`"${user}" resolves to ${want.uid}:${want.gid} and resets the additional gids`, async () => {
      const s = spec();
      await withUser(s, user, withRoot);
      assert.deepEqual(s.process?.user, want);
    });
  }

  test("a numeric uid:gid needs no rootfs; a uid alone without /etc/passwd gets gid 0", async () => {
    const s = spec();
    await withUser(s, "5:6", () => assert.fail("rootfs not needed"));
    assert.deepEqual(s.process?.user, { uid: 5, gid: 6, additionalGids: [6] });
    await withUser(s, "5", withEmpty);
    assert.deepEqual(s.process?.user, { uid: 5, gid: 0, additionalGids: [0] });
  });

  test("unknown names and malformed strings fail with kind Unknown", async () => {
    for (const [user, re] of [
      ["nosuch", /no users found/],
      ["berth:nogroup", /no groups found/],
      ["a:b:c", /invalid USER value a:b:c/],
    ] as const) {
      const err = await withUser(spec(), user, withRoot).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.match(String((err as Error)?.message), re);
      assert.equal(kindOf(err), "Unknown");
    }
    await assert.rejects(withUser(spec(), "berth", withEmpty), /etc\/passwd: no such file or directory/);
  });
});

test("withAdditionalGids adds the groups listing the user and keeps what was there", async () => {
  const s = spec();
  await withUser(s, "berth", withRoot);
  await withAdditionalGids(s, "berth", withRoot);
  assert.deepEqual(s.process?.user.additionalGids, [100, 1000]);
  const byUid = spec();
  await withAdditionalGids(byUid, "0", withRoot);
  assert.deepEqual(byUid.process?.user.additionalGids, [0, 10, 42]);
  const none = spec();
  await withAdditionalGids(none, "0", withEmpty);
  assert.deepEqual(none.process?.user.additionalGids, [0, 42]);
});

test("supplemental groups merge sorted and unique", () => {
  const s = spec();
  withSupplementalGroups(s, [7n, 42n, 3n]);
  assert.deepEqual(s.process?.user.additionalGids, [3, 7, 42]);
  assert.deepEqual(mergeGids([5, 1], [1, 2]), [1, 2, 5]);
});
