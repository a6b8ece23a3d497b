// Platform specifiers, normalization and the matcher, after containerd 1.6 platforms/*_test.go; and
// manifest selection from an index as a pull does it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { kindOf, messageOf } from "../../lib/errdefs.js";
import type { Descriptor } from "../core/content/content.js";
import { filterPlatforms, limitManifests, selectManifest } from "./handlers.js";
import { MediaTypes } from "./media-types.js";
import {
  cpuVariantFromCpuinfo,
  defaultMatcher,
  defaultSpec,
  format,
  hostArch,
  hostOS,
  normalize,
  only,
  type Platform,
  parse,
} from "./platforms.js";

test("parse and format: specifiers as containerd reads them", () => {
  const cases: [string, Platform, string][] = [
    ["linux/amd64", { os: "linux", architecture: "amd64" }, "linux/amd64"],
    ["Linux/x86_64", { os: "linux", architecture: "amd64" }, "linux/amd64"],
    ["linux/x86-64", { os: "linux", architecture: "amd64" }, "linux/amd64"],
    ["linux/i386", { os: "linux", architecture: "386" }, "linux/386"],
    ["linux/arm64", { os: "linux", architecture: "arm64" }, "linux/arm64"],
    ["linux/aarch64", { os: "linux", architecture: "arm64" }, "linux/arm64"],
    ["linux/arm64/v8", { os: "linux", architecture: "arm64", variant: "v8" }, "linux/arm64/v8"],
    ["linux/arm64/8", { os: "linux", architecture: "arm64", variant: "v8" }, "linux/arm64/v8"],
    ["linux/arm", { os: "linux", architecture: "arm" }, "linux/arm"],
    ["linux/armhf", { os: "linux", architecture: "arm" }, "linux/arm"],
    ["linux/armel", { os: "linux", architecture: "arm", variant: "v6" }, "linux/arm/v6"],
    ["linux/arm/7", { os: "linux", architecture: "arm", variant: "v7" }, "linux/arm/v7"],
    ["linux/arm/v5", { os: "linux", architecture: "arm", variant: "v5" }, "linux/arm/v5"],
    ["macos/arm64", { os: "darwin", architecture: "arm64" }, "darwin/arm64"],
    ["windows/amd64", { os: "windows", architecture: "amd64" }, "windows/amd64"],
    ["linux", { os: "linux", architecture: hostArch }, `linux/${hostArch}`],
    ["amd64", { os: hostOS, architecture: "amd64" }, `${hostOS}/amd64`],
    ["aarch64", { os: hostOS, architecture: "arm64" }, `${hostOS}/arm64`],
  ];
  for (const [spec, want, formatted] of cases) {
    assert.deepEqual(parse(spec), want, spec);
    assert.equal(format(parse(spec)), formatted, spec);
  }
});

test("parse: bad specifiers are InvalidArgument with containerd's messages", () => {
  const cases: [string, RegExp][] = [
    ["*", /^"\*": wildcards not yet supported: invalid argument$/],
    ["linux/&", /^"&" is an invalid component of "linux\/&": platform specifier component must match/],
    ["nosuchthing", /^"nosuchthing": unknown operating system or architecture: invalid argument$/],
    ["a/b/c/d", /^"a\/b\/c\/d": cannot parse platform specifier: invalid argument$/],
  ];
  for (const [spec, message] of cases) {
    assert.throws(
      () => parse(spec),
      (err) => kindOf(err) === "InvalidArgument" && message.test(messageOf(err)),
      spec,
    );
  }
});

test("normalize: canonical names; arm64's default v8 is dropped as in 1.6", () => {
  const cases: [Platform, Platform][] = [
    [
      { os: "Linux", architecture: "x86_64" },
      { os: "linux", architecture: "amd64" },
    ],
    [
      { os: "linux", architecture: "aarch64", variant: "v8" },
      { os: "linux", architecture: "arm64" },
    ],
    [
      { os: "linux", architecture: "arm64", variant: "8" },
      { os: "linux", architecture: "arm64" },
    ],
    [
      { os: "linux", architecture: "arm" },
      { os: "linux", architecture: "arm", variant: "v7" },
    ],
    [
      { os: "linux", architecture: "arm", variant: "6" },
      { os: "linux", architecture: "arm", variant: "v6" },
    ],
    [
      { os: "", architecture: "amd64" },
      { os: hostOS, architecture: "amd64" },
    ],
    [
      { os: "linux", architecture: "amd64", "os.features": ["x"] },
      { os: "linux", architecture: "amd64" },
    ],
  ];
  for (const [input, want] of cases) assert.deepEqual(normalize(input), want, JSON.stringify(input));
});

test("only: what each platform also runs (upstream TestOnly)", () => {
  const p = (s: string) => parse(s);
  const cases: [string, Record<string, boolean>][] = [
    [
      "linux/amd64",
      {
        "linux/amd64": true,
        "linux/386": true,
        "linux/arm64": false,
        "windows/amd64": false,
        "linux/arm/v7": false,
      },
    ],
    ["linux/386", { "linux/386": true, "linux/amd64": false }],
    [
      "linux/arm64",
      {
        "linux/arm64": true,
        "linux/arm64/v8": true,
        "linux/arm/v8": true,
        "linux/arm/v7": true,
        "linux/arm/v6": true,
        "linux/arm/v5": true,
        "linux/arm/v4": false,
        "linux/amd64": false,
      },
    ],
    [
      "linux/arm/v8",
      { "linux/arm/v8": true, "linux/arm/v7": true, "linux/arm/v5": true, "linux/arm64": false },
    ],
    [
      "linux/arm/v7",
      { "linux/arm": true, "linux/arm/v8": false, "linux/arm/v6": true, "linux/arm/v5": true },
    ],
    ["linux/arm/v6", { "linux/arm/v7": false, "linux/arm/v6": true, "linux/arm/v5": true }],
    ["linux/arm/v5", { "linux/arm/v6": false, "linux/arm/v5": true }],
  ];
  for (const [spec, matches] of cases) {
    const m = only(p(spec));
    for (const [candidate, want] of Object.entries(matches)) {
      assert.equal(m.match(p(candidate)), want, `${spec} matches ${candidate}`);
    }
  }
});

test("only: preference order", () => {
  const m = only(parse("linux/arm64"));
  const order = ["linux/arm/v5", "linux/arm/v7", "linux/arm64", "linux/arm/v8", "linux/arm/v6"].map(parse);
  assert.deepEqual(order.sort((a, b) => (m.less(a, b) ? -1 : m.less(b, a) ? 1 : 0)).map(format), [
    "linux/arm64",
    "linux/arm/v8",
    "linux/arm/v7",
    "linux/arm/v6",
    "linux/arm/v5",
  ]);
  assert.ok(only(parse("linux/amd64")).less(parse("linux/amd64"), parse("linux/386")));
});

test("defaultSpec: this machine is linux/amd64 without a variant", () => {
  assert.deepEqual(defaultSpec(), { os: hostOS, architecture: hostArch });
  if (hostArch === "amd64") assert.equal(format(defaultSpec()), "linux/amd64");
});

test("cpuVariantFromCpuinfo: /proc/cpuinfo fields as containerd reads them", () => {
  const cases: [string, string, string][] = [
    ["processor\t: 0\nCPU architecture: 8\n", "arm64", "v8"],
    ["CPU architecture: AArch64\n", "arm64", "v8"],
    ["model name\t: ARMv7 Processor rev 4 (v7l)\nCPU architecture: 7\n", "arm", "v7"],
    ["model name\t: ARMv6-compatible processor rev 7 (v6l)\nCPU architecture: 7\n", "arm", "v6"],
    ["CPU architecture: 5TEJ\n", "arm", "v5"],
    ["CPU architecture: 9\n", "arm64", "unknown"],
    ["vendor_id\t: GenuineIntel\n", "arm64", ""],
  ];
  for (const [cpuinfo, arch, want] of cases)
    assert.equal(cpuVariantFromCpuinfo(cpuinfo, arch), want, cpuinfo);
});

const desc = (digest: string, platform?: string): Descriptor => ({
  mediaType: MediaTypes.ociManifest,
  digest: `sha256:${digest.repeat(64)}`,
  size: 100,
  ...(platform ? { platform: parse(platform) } : {}),
});

test("selectManifest: picks this host's manifest with containerd's preferences", () => {
  const cases: [string, Descriptor[], string][] = [
    ["amd64 after arm64", [desc("a", "linux/arm64/v8"), desc("b", "linux/amd64")], "b"],
    ["amd64 over 386 listed first", [desc("a", "linux/386"), desc("b", "linux/amd64")], "b"],
    ["386 when nothing better", [desc("a", "linux/arm/v7"), desc("b", "linux/386")], "b"],
    ["platformless entry after a match", [desc("a"), desc("b", "linux/amd64")], "b"],
    ["platformless entry when no platform matches", [desc("a", "linux/arm64"), desc("c")], "c"],
  ];
  const m = only(parse("linux/amd64"));
  for (const [name, manifests, want] of cases) {
    assert.equal(
      selectManifest({ schemaVersion: 2, manifests }, m).digest,
      `sha256:${want.repeat(64)}`,
      name,
    );
  }
  const arm = [desc("a", "linux/arm/v5"), desc("b", "linux/arm/v7"), desc("c", "linux/arm/v8")];
  assert.equal(
    selectManifest({ schemaVersion: 2, manifests: arm }, only(parse("linux/arm/v7"))).digest,
    desc("b").digest,
  );
  assert.equal(
    selectManifest({ schemaVersion: 2, manifests: arm }, only(parse("linux/arm64"))).digest,
    desc("c").digest,
  );
});

test("selectManifest: no match is NotFound with containerd's message", () => {
  const index = { schemaVersion: 2, manifests: [desc("a", "linux/arm64/v8"), desc("b", "linux/arm/v7")] };
  assert.throws(
    () => selectManifest(index, only(parse("linux/amd64"))),
    (err) => kindOf(err) === "NotFound" && messageOf(err) === "no match for platform in manifest: not found",
  );
  assert.deepEqual(filterPlatforms(index.manifests, only(parse("linux/amd64"))), []);
  assert.deepEqual(limitManifests([], only(parse("linux/amd64")), 0), []);
});

test("defaultMatcher: this host's platform", () => {
  const index = { schemaVersion: 2, manifests: [desc("a", "linux/arm64"), desc("b", format(defaultSpec()))] };
  assert.equal(selectManifest(index, defaultMatcher()).digest, desc("b").digest);
});
