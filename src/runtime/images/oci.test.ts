import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { MediaTypes } from "./media-types.js";
import { chainIds, childrenOf } from "./oci.js";

test("chainIds follows the image-spec definition", () => {
  const [a, b, c] = ["sha256:aa", "sha256:bb", "sha256:cc"];
  const sha = (text: string) => `sha256:${createHash("sha256").update(text).digest("hex")}`;
  const ab = sha("sha256:aa sha256:bb");
  assert.deepEqual(chainIds([a, b, c]), [a, ab, sha(`${ab} sha256:cc`)]);
  assert.deepEqual(chainIds([]), []);
});

test("childrenOf lists config then layers, or an index's manifests", () => {
  const d = (digest: string, mediaType: string) => ({ digest, mediaType, size: 1 });
  const manifest = {
    schemaVersion: 2,
    config: d("sha256:c", MediaTypes.ociConfig),
    layers: [d("sha256:l1", MediaTypes.ociLayerGzip)],
  };
  assert.deepEqual(
    childrenOf(d("sha256:m", MediaTypes.ociManifest), Buffer.from(JSON.stringify(manifest))).map(
      (x) => x.digest,
    ),
    ["sha256:c", "sha256:l1"],
  );
  const index = { schemaVersion: 2, manifests: [d("sha256:m1", MediaTypes.ociManifest)] };
  assert.deepEqual(
    childrenOf(d("sha256:i", MediaTypes.dockerManifestList), Buffer.from(JSON.stringify(index))).map(
      (x) => x.digest,
    ),
    ["sha256:m1"],
  );
  assert.deepEqual(childrenOf(d("sha256:l", MediaTypes.ociLayerGzip), Buffer.from("not json")), []);
  assert.throws(() => childrenOf(d("sha256:m", MediaTypes.ociManifest), Buffer.from("{")), /not valid JSON/);
});
