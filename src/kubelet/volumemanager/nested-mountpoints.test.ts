import assert from "node:assert/strict";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { Container, Pod } from "kubernetes-types/core/v1.js";
import { getNestedMountpoints, makeNestedMountpoints } from "./nested-mountpoints.js";

const mounts = (...pairs: [string, string][]): Container => ({
  name: "c",
  volumeMounts: pairs.map(([mountPath, name]) => ({ mountPath, name })),
});
const pod = (containers: Container[], initContainers: Container[] = []): Pod => ({
  metadata: { namespace: "test_namespace", uid: "test_pod_uid" },
  spec: { containers, initContainers },
});

test("getNestedMountpoints (upstream TestGetNestedMountpoints)", () => {
  const cases: { name: string; pod: Pod; expected?: string[] }[] = [
    { name: "Simple Pod", pod: pod([mounts(["/dir", "vol1"])]), expected: [] },
    {
      name: "Simple Nested Pod",
      pod: pod([mounts(["/dir", "vol1"], ["/dir/nested", "vol2"])]),
      expected: ["nested"],
    },
    {
      name: "Unsorted Nested Pod",
      pod: pod([
        mounts(
          ["/dir/nested/double", "vol3"],
          ["/ignore", "vol4"],
          ["/dir/nested", "vol2"],
          ["/ignore2", "vol5"],
          ["/dir", "vol1"],
          ["/dir/nested2", "vol3"],
        ),
      ]),
      expected: ["nested", "nested2"],
    },
    {
      name: "Multiple vol1 mounts Pod",
      pod: pod([
        mounts(
          ["/dir", "vol1"],
          ["/dir/nested", "vol2"],
          ["/ignore", "vol4"],
          ["/other", "vol1"],
          ["/other/nested2", "vol3"],
        ),
      ]),
      expected: ["nested", "nested2"],
    },
    {
      name: "Big Pod",
      pod: pod(
        [
          mounts(
            ["/mnt", "vol1"],
            ["/ignore", "vol2"],
            ["/mnt/sub1/sub2/sub3", "vol3"],
            ["/mnt/sub1/sub2/sub4", "vol4"],
            ["/mnt/sub1/sub2/sub4/skip", "vol5"],
            ["/mnt/sub1/sub2/sub4/skip2", "vol5a"],
            ["/mnt/sub1/sub2/sub6", "vol6"],
            ["/mnt7", "vol7"],
          ),
        ],
        [
          mounts(
            ["/mnt/dir", "vol1"],
            ["/mnt/dir_ignore", "vol8"],
            ["/ignore", "vol9"],
            ["/mnt/dir/sub", "vol11"],
          ),
        ],
      ),
      expected: ["sub1/sub2/sub3", "sub1/sub2/sub4", "sub1/sub2/sub6", "sub"],
    },
    { name: "Naughty Pod", pod: pod([mounts(["foo/../../dir", "vol1"], ["foo/../../dir/skip", "vol10"])]) },
  ];
  for (const c of cases) {
    if (c.expected === undefined) {
      assert.throws(
        () => getNestedMountpoints("vol1", c.pod),
        { message: "invalid container mount point ../dir" },
        c.name,
      );
    } else {
      assert.deepEqual([...new Set(getNestedMountpoints("vol1", c.pod))].sort(), c.expected.sort(), c.name);
    }
  }
});

test("makeNestedMountpoints creates the directories inside the volume", async () => {
  const dir = await mkdtemp(join(tmpdir(), "berth-nested-"));
  try {
    await makeNestedMountpoints(
      "vol1",
      dir,
      pod([mounts(["/etc/app", "vol1"], ["/etc/app/certs/tls", "vol2"])]),
    );
    assert.ok((await stat(join(dir, "certs", "tls"))).isDirectory());
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
