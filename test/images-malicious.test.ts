// Hostile layers pulled through the berth daemon: each pull fails with a message naming
// the entry, nothing lands outside the snapshot, and no half-made image, snapshot or
// mount is left. (The per-entry rules are unit-tested in src/runtime/archive/.)
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { gzipSync } from "node:zlib";
import {
  canonicalJson,
  MEDIA_TYPE_CONFIG,
  MEDIA_TYPE_LAYER_GZIP,
  MEDIA_TYPE_MANIFEST,
  sha256,
} from "../src/local-images/oci-image-builder.js";
import { buildLayer, type LayerEntry } from "../src/runtime/archive/layer-builder.js";
import { type BerthRuntime, startBerthRuntime } from "../src/testenv/berth-runtime.js";
import { type Registry, startRegistry } from "../src/testenv/registry.js";
import { berth } from "./support/berth-cli.js";

let reg: Registry;
let daemon: BerthRuntime;
const marker = `berth-escape-${randomBytes(6).toString("hex")}`;

before(async () => {
  reg = await startRegistry();
  daemon = await startBerthRuntime();
});
after(async () => {
  await daemon?.stop();
  await reg?.stop();
});

/** Pushes a one-layer image whose layer holds `entries`; returns its reference. */
async function pushLayerImage(repo: string, entries: LayerEntry[]): Promise<string> {
  const tar = await buildLayer(entries);
  const layer = gzipSync(tar);
  const config = Buffer.from(
    canonicalJson({
      architecture: "amd64",
      os: "linux",
      rootfs: { type: "layers", diff_ids: [sha256(tar)] },
    }),
  );
  const manifest = Buffer.from(
    canonicalJson({
      schemaVersion: 2,
      mediaType: MEDIA_TYPE_MANIFEST,
      config: { mediaType: MEDIA_TYPE_CONFIG, digest: await reg.putBlob(repo, config), size: config.length },
      layers: [
        { mediaType: MEDIA_TYPE_LAYER_GZIP, digest: await reg.putBlob(repo, layer), size: layer.length },
      ],
    }),
  );
  await reg.putManifest(repo, "latest", MEDIA_TYPE_MANIFEST, manifest);
  return `${reg.host}/${repo}:latest`;
}

const cases: { name: string; entries: LayerEntry[]; error: string }[] = [
  {
    name: "traversal",
    entries: [{ name: `../../../${marker}`, body: "x" }],
    error: `layer entry "../../../${marker}": path escapes the snapshot`,
  },
  {
    name: "absolute",
    entries: [{ name: `/tmp/${marker}`, body: "x" }],
    error: `layer entry "/tmp/${marker}": path escapes the snapshot`,
  },
  {
    name: "symlink-out",
    entries: [
      { name: "a", type: "symlink", linkname: "/tmp" },
      { name: `a/${marker}`, body: "x" },
    ],
    error: `layer entry "a/${marker}": path escapes the snapshot through symlink "a" -> "/tmp"`,
  },
  {
    name: "symlink-up",
    entries: [
      { name: "a", type: "symlink", linkname: "../../.." },
      { name: `a/${marker}`, body: "x" },
    ],
    error: `layer entry "a/${marker}": path escapes the snapshot through symlink "a" -> "../../.."`,
  },
  {
    name: "hardlink-out",
    entries: [{ name: "h", type: "link", linkname: "../../../../etc/passwd" }],
    error: `layer entry "h": hardlink target "../../../../etc/passwd": path escapes the snapshot`,
  },
];

for (const c of cases) {
  test(`a layer with a ${c.name} escape is refused and leaves nothing`, async () => {
    const ref = await pushLayerImage(`evil/${c.name}`, c.entries);
    const r = await berth(["--runtime-endpoint", daemon.endpoint, "pull", ref]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      new RegExp(`failed to pull and unpack image "${ref}": .*${escapeRegExp(c.error)}`),
    );
    // No image, no snapshot directory, no mount.
    const ids = await berth(["--runtime-endpoint", daemon.endpoint, "images", "-q"]);
    assert.equal(ids.stdout, "");
    assert.deepEqual(await readdir(join(daemon.root, "snapshotter.overlayfs", "snapshots")), []);
    assert.doesNotMatch(
      await readFile("/proc/self/mountinfo", "utf8"),
      new RegExp(escapeRegExp(daemon.root)),
    );
  });
}

test("nothing any hostile layer named was written outside its snapshot", async () => {
  for (const d of [
    "/tmp",
    "/etc",
    daemon.root,
    join(daemon.root, ".."),
    join(daemon.root, "snapshotter.overlayfs"),
  ]) {
    assert.equal(existsSync(join(d, marker)), false, `${d}/${marker}`);
  }
  assert.match(await readFile("/etc/passwd", "utf8"), /^root:/);
});

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
