// The pure parts of the image manager; test/kubelet-image-manager.test.ts runs it against berth runtime.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Container } from "kubernetes-types/core/v1.js";
import { BerthError } from "../../lib/errdefs.js";
import { ErrImagePull, ErrRegistryUnavailable } from "../container/sync-result.js";
import { applyDefaultImageTag, evalCRIPullErr, ImageError, shouldPullImage } from "./image-manager.js";

const digest = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// TestApplyDefaultImageTag (image_manager_test.go)
describe("applyDefaultImageTag", () => {
  for (const [input, output] of [
    ["root", "root:latest"],
    ["root:tag", "root:tag"],
    [`root@${digest}`, `root@${digest}`],
    [`root:latest@${digest}`, `root:latest@${digest}`],
    ["root:latest", "root:latest"],
    // The name is not qualified on the way: the runtime decides what a short name means.
    ["127.0.0.1:5000/library/busybox", "127.0.0.1:5000/library/busybox:latest"],
  ] as const) {
    test(input, () => assert.equal(applyDefaultImageTag(input), output));
  }

  test("an invalid reference says which and why", () => {
    assert.throws(() => applyDefaultImageTag("FAILED_IMAGE"), {
      name: "BerthError",
      kind: "InvalidArgument",
      message: `couldn't parse image name "FAILED_IMAGE": invalid reference format: repository name must be lowercase`,
    });
    assert.throws(() => applyDefaultImageTag("http://url"), {
      message: `couldn't parse image name "http://url": invalid reference format`,
    });
    const hex = digest.slice("sha256:".length);
    assert.throws(() => applyDefaultImageTag(hex), {
      message: `couldn't parse image name "${hex}": invalid repository name (${hex}), cannot specify 64-byte hexadecimal strings`,
    });
  });
});

// shouldPullImage's cases, which image_manager_test.go covers through its puller tables.
test("shouldPullImage follows the pull policy and whether the image is present", () => {
  const c = (imagePullPolicy?: string): Container => ({ name: "c", image: "busybox", imagePullPolicy });
  const table: [string | undefined, boolean, boolean][] = [
    ["Always", true, true],
    ["Always", false, true],
    ["IfNotPresent", true, false],
    ["IfNotPresent", false, true],
    ["Never", true, false],
    ["Never", false, false],
    [undefined, false, false],
  ];
  for (const [policy, present, want] of table) {
    assert.equal(shouldPullImage(c(policy), present), want, `${policy} present=${present}`);
  }
});

// TestEvalCRIPullErr (image_manager_test.go), without the signature cases: berth's reasons have no
// SignatureValidationFailed.
describe("evalCRIPullErr", () => {
  const container: Container = { name: "c", image: "test" };
  test("fallback error", () => {
    const err = evalCRIPullErr(container, new BerthError("NotFound", "test"));
    assert.ok(err instanceof ImageError);
    assert.deepEqual([err.reason, err.kind, err.message], [ErrImagePull, "NotFound", "test"]);
  });
  test("registry is unavailable", () => {
    const err = evalCRIPullErr(container, new Error("RegistryUnavailable"));
    assert.deepEqual(
      [err.reason, err.kind, err.message],
      [
        ErrRegistryUnavailable,
        "Unavailable",
        "image pull failed for test because the registry is unavailable",
      ],
    );
  });
  test("registry is unavailable with additional error message", () => {
    const err = evalCRIPullErr(container, new Error("RegistryUnavailable: foo"));
    assert.equal(err.message, "image pull failed for test because the registry is unavailable: foo");
  });
});
