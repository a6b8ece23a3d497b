// The large image of the pull benchmark: six gzip layers, about 100 MB compressed and
// 4,000 files, shaped like a real distribution image (many small text files, libraries,
// a few big binaries, then an application layer that overwrites, hard-links and deletes).
// Content comes from an AES-CTR keystream with a fixed key, so every build is byte-identical
// and the binaries do not compress, as real ones barely do.
import { createCipheriv } from "node:crypto";
import type { ImageSpec, LayerEntry } from "../src/local-images/oci-image-builder.js";

/** A deterministic stream of pseudo-random bytes. */
class Keystream {
  private readonly cipher = createCipheriv("aes-256-ctr", Buffer.alloc(32, 7), Buffer.alloc(16));

  bytes(n: number): Buffer {
    return this.cipher.update(Buffer.alloc(n));
  }

  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + (this.bytes(4).readUInt32LE(0) % (hi - lo + 1));
  }
}

// Source-like text compresses about 4:1 under gzip, as scripts and configs do.
const words = (
  "def return import from class self if else for in while None True False and or not " +
  "with as try except raise lambda yield print len range str int dict list set value key name " +
  "path data config error result index count item node parent child buffer offset size = ( ) : ,"
).split(" ");

function text(ks: Keystream, size: number): Buffer {
  const picks = ks.bytes(size);
  const out: string[] = [];
  let n = 0;
  for (let i = 0; n < size; i++) {
    const w = `${words[(picks[i % size] as number) % words.length]}${i % 12 === 11 ? "\n" : " "}`;
    out.push(w);
    n += w.length;
  }
  return Buffer.from(out.join("").slice(0, size));
}

const KiB = 1024;
const MiB = 1024 * KiB;

function files(
  ks: Keystream,
  count: number,
  dir: (i: number) => string,
  size: [number, number],
  kind: "text" | "binary",
): LayerEntry[] {
  return Array.from({ length: count }, (_, i): LayerEntry => {
    const n = ks.int(size[0], size[1]);
    const data = kind === "text" ? text(ks, n) : ks.bytes(n);
    const ext = kind === "text" ? "py" : "so";
    return { kind: "file", path: `${dir(i)}/f${i}.${ext}`, mode: kind === "text" ? 0o644 : 0o755, data };
  });
}

export function largeImageSpec(): ImageSpec {
  const ks = new Keystream();
  const base: LayerEntry[] = [
    ...files(ks, 1200, (i) => `usr/share/pkg${i % 60}/doc${i % 7}`, [512, 8 * KiB], "text"),
    ...files(ks, 40, (i) => `usr/bin/tool${i % 4}`, [64 * KiB, MiB], "binary"),
    ...Array.from(
      { length: 100 },
      (_, i): LayerEntry => ({
        kind: "symlink",
        path: `usr/local/bin/link${i}`,
        target: `/usr/bin/tool${i % 4}/f${i % 40}.so`,
      }),
    ),
  ];
  const libs = files(ks, 300, (i) => `usr/lib/x86_64-linux-gnu/lib${i % 30}`, [8 * KiB, 128 * KiB], "binary");
  const big: LayerEntry[] = [
    { kind: "file", path: "opt/big/model.bin", mode: 0o644, data: ks.bytes(24 * MiB) },
    { kind: "file", path: "opt/big/index.bin", mode: 0o644, data: ks.bytes(8 * MiB) },
    ...files(ks, 3, () => "opt/big/meta", [KiB, 4 * KiB], "text"),
  ];
  const site = files(
    ks,
    2000,
    (i) => `usr/lib/python3/site-packages/m${i % 100}/s${i % 5}`,
    [200, 6 * KiB],
    "text",
  );
  const assets = files(ks, 10, () => "srv/assets", [MiB, 2 * MiB], "binary");
  const app: LayerEntry[] = [
    ...files(ks, 300, (i) => `app/src/mod${i % 20}`, [256, 16 * KiB], "text"),
    ...files(ks, 100, (i) => `app/lib/native${i % 5}`, [4 * KiB, 64 * KiB], "binary"),
    ...Array.from(
      { length: 50 },
      (_, i): LayerEntry => ({
        kind: "hardlink",
        path: `app/bin/alias${i}`,
        target: `app/lib/native${i % 5}/f${i}.so`,
      }),
    ),
    // Replaces files of the base layer and deletes some of the site-packages one.
    ...files(ks, 10, () => "", [512, 4 * KiB], "text").map(
      (e, i): LayerEntry => ({ ...e, path: `usr/share/pkg0/doc${(i * 60) % 7}/f${i * 60}.py` }),
    ),
    ...Array.from(
      { length: 20 },
      (_, i): LayerEntry => ({
        kind: "file",
        path: `usr/lib/python3/site-packages/m${i}/s${i % 5}/.wh.f${i}.py`,
        mode: 0o644,
        data: Buffer.alloc(0),
      }),
    ),
  ];
  return {
    name: "bench-large",
    tag: "latest",
    repository: "bench/large",
    layers: [base, libs, big, site, assets, app],
    config: { Cmd: ["/app/bin/alias0"] },
    createdBy: "berth bench: deterministic pseudo-random content",
  };
}
