import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterEach, beforeEach, test } from "node:test";
import { gzipSync } from "node:zlib";
import { pino } from "pino";
import { applyLayer } from "./apply.js";
import { type Compression, decompressStream, detectCompression } from "./decompress.js";
import { buildLayer } from "./layer-builder.js";

const log = pino({ level: "silent" });

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "berth-decompress-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Real zstd output, from the reference implementation's CLI (Debian package zstd). */
const zstd = (data: Buffer) => execFileSync("zstd", ["-q", "-c", "-19"], { input: data, maxBuffer: 1 << 26 });

/** Splits a buffer into small chunks, so that magic bytes and frames straddle reads. */
const chunked = (data: Buffer, size = 3) =>
  Readable.from(
    Array.from({ length: Math.ceil(data.length / size) }, (_, i) => data.subarray(i * size, (i + 1) * size)),
  );

test("detectCompression reads the magic bytes", () => {
  const cases: [string, Buffer, Compression][] = [
    ["gzip", Buffer.from([0x1f, 0x8b, 0x08, 0x00]), "gzip"],
    ["zstd", Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00]), "zstd"],
    ["tar", Buffer.from("bin/\0\0\0"), "uncompressed"],
    ["gzip magic without deflate", Buffer.from([0x1f, 0x8b, 0x00]), "uncompressed"],
    ["empty", Buffer.alloc(0), "uncompressed"],
  ];
  for (const [name, head, want] of cases) assert.equal(detectCompression(head), want, name);
});

test("gzip, zstd and plain layers apply to the same files and the same diffID", async () => {
  const tar = await buildLayer([
    { name: "etc/", type: "directory" },
    { name: "etc/os-release", body: "ID=berth\n".repeat(1000) },
    { name: "big", body: Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) % 251)) },
  ]);
  const diffID = `sha256:${createHash("sha256").update(tar).digest("hex")}`;
  const twoFrames = Buffer.concat([zstd(tar.subarray(0, 10_000)), zstd(tar.subarray(10_000))]);
  const cases: [string, Buffer, Compression][] = [
    ["plain", tar, "uncompressed"],
    ["gzip", gzipSync(tar), "gzip"],
    ["zstd", zstd(tar), "zstd"],
    ["zstd in two frames", twoFrames, "zstd"],
  ];
  for (const [name, blob, want] of cases) {
    const { compression, stream } = await decompressStream(chunked(blob, 1000));
    assert.equal(compression, want, name);
    const into = join(dir, name);
    await mkdir(into);
    const result = await applyLayer(into, stream, { log });
    assert.deepEqual(result, { diffID, size: tar.length }, name);
    assert.equal(await readFile(join(into, "etc/os-release"), "utf8"), "ID=berth\n".repeat(1000), name);
  }
});

test("magic bytes split across reads are still recognised", async () => {
  const { compression, stream } = await decompressStream(chunked(gzipSync(Buffer.from("hello"))));
  assert.equal(compression, "gzip");
  assert.equal(Buffer.concat(await stream.toArray()).toString(), "hello");
});

test("corrupt or truncated compressed layers fail", async () => {
  const data = Buffer.from("x".repeat(100_000));
  const cases: [string, Buffer, RegExp][] = [
    ["truncated gzip", gzipSync(data).subarray(0, 50), /unexpected end of file/],
    ["truncated zstd", zstd(data).subarray(0, 20), /invalid zstd stream/],
    [
      "garbage after the zstd magic",
      Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.alloc(64, 0xff)]),
      /invalid zstd stream/,
    ],
  ];
  for (const [name, blob, error] of cases) {
    const { stream } = await decompressStream(Readable.from([blob]));
    await assert.rejects(stream.toArray(), error, name);
  }
});
