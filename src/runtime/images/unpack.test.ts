import assert from "node:assert/strict";
import { test } from "node:test";
import { overlayDirs } from "./unpack.js";

test("overlayDirs finds where a layer is applied and what lies below", () => {
  assert.deepEqual(overlayDirs([{ type: "bind", source: "/s/1/fs", options: ["rw", "rbind"] }]), {
    upper: "/s/1/fs",
    lowers: [],
  });
  assert.deepEqual(
    overlayDirs([
      {
        type: "overlay",
        source: "overlay",
        options: ["index=off", "workdir=/s/3/work", "upperdir=/s/3/fs", "lowerdir=/s/2/fs:/s/1/fs"],
      },
    ]),
    { upper: "/s/3/fs", lowers: ["/s/2/fs", "/s/1/fs"] },
  );
});

test("overlayDirs refuses mounts it cannot apply into", () => {
  assert.throws(() => overlayDirs([]), /want one mount, got 0/);
  assert.throws(
    () => overlayDirs([{ type: "tmpfs", source: "tmpfs", options: [] }]),
    /cannot apply into a tmpfs mount/,
  );
  assert.throws(
    () => overlayDirs([{ type: "overlay", source: "overlay", options: ["lowerdir=/a:/b"] }]),
    /overlay mount has no upperdir/,
  );
});
