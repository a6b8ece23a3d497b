// `berth pull` against the berth runtime on a terminal: it follows berth.v1.Images
// PullProgress and draws a bar per layer, redrawn in place, until every layer is unpacked;
// piped, it prints only the result. (Against containerd, which has no such stream, the
// spinner of test/cli-containerd.test.ts stands.)
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, test } from "node:test";
import { type BerthRuntime, startBerthRuntime } from "../src/testenv/berth-runtime.js";
import { type RegistryWithTestImages, startRegistryWithTestImages } from "../src/testenv/registry.js";
import { berth, berthBin, berthOk } from "./support/berth-cli.js";

let reg: RegistryWithTestImages;
let daemon: BerthRuntime;
const at = () => ["--runtime-endpoint", daemon.endpoint, "--timeout", "60s"];

before(async () => {
  reg = await startRegistryWithTestImages();
  daemon = await startBerthRuntime();
});

after(async () => {
  await daemon?.stop();
  await reg?.registry.stop();
});

/** Runs the CLI on a pseudo-terminal, as an interactive user has (script(1)). */
function onTerminal(...args: string[]): string {
  const cmd = [process.execPath, berthBin, ...at(), ...args].map(shellQuote).join(" ");
  return execFileSync("script", ["-qec", cmd, "/dev/null"], { encoding: "utf8" });
}

for (const name of ["busybox", "pause"] as const) {
  test(`a pull of ${name} on a terminal draws each layer until it is unpacked, then the result`, async () => {
    const image = reg[name];
    const out = onTerminal("pull", image.ref);
    assert.ok(out.endsWith(`Image is up to date for ${image.imageId}\r\n`), JSON.stringify(out));
    assert.doesNotMatch(out, /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/, "no spinner");
    // Each drawing after the first moves the cursor back up over the previous one.
    const layers = image.image.layerDigests.length;
    assert.match(out, new RegExp(`\x1b\\[${layers}A`));
    for (const digest of image.image.layerDigests) {
      const short = digest.slice(7, 19);
      assert.match(out, new RegExp(`${short} {2}Waiting {6}`), `${short} waits`);
      // The last drawing shows the layer unpacked, with its whole size.
      const last = out.slice(out.lastIndexOf(`\x1b[${layers}A`));
      assert.match(last, new RegExp(`\x1b\\[K${short} {2}Unpacked {5}\\[={30}\\] {2}(\\S+)/\\1\r\n`), last);
    }
    // Pulled again, the layers exist already.
    assert.match(onTerminal("pull", image.ref), /Exists/);
  });
}

test("piped, a pull prints only its result, and the image is there", async () => {
  const r = await berth([...at(), "pull", reg.busybox.ref]);
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, `Image is up to date for ${reg.busybox.imageId}\n`, ""]);
  assert.ok((await berthOk([...at(), "images", "-q"])).split("\n").includes(reg.busybox.imageId));
  await berthOk([...at(), "rmi", reg.busybox.imageId, reg.pause.imageId]);
  assert.equal(await berthOk([...at(), "images", "-q"]), "");
});

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, "'\\''")}'`;
}
