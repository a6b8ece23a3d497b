import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { dockerManifest } from "./archive-import.js";
import { MediaTypes } from "./media-types.js";

test("the manifest made for a Docker save archive is containerd's, byte for byte", () => {
  const manifest = dockerManifest(
    {
      mediaType: MediaTypes.dockerConfig,
      digest: "sha256:e617a86b81d8ff38116901909643afdbfc95c76eeae0cc56eb8386a1f6eb829f",
      size: 449,
      annotations: { ignored: "yes" },
    },
    [
      {
        mediaType: MediaTypes.dockerLayer,
        digest: "sha256:18c212c66cd2ce812a4cea0029a65a022898b1127eaa83da0a748e765c61b1d1",
        size: 2131968,
      },
    ],
  );
  // What `ctr images import` (containerd 1.6.20) wrote for the busybox test image saved by skopeo.
  assert.equal(
    `sha256:${createHash("sha256").update(manifest).digest("hex")}`,
    "sha256:69dbad7d1eaa63a36fe6629631d75b04e847a9c1b9829fd06a1adb21d35680aa",
  );
});
