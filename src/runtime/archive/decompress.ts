// After containerd archive/compression/compression.go (DetectCompression, DecompressStream):
// layers are gzip, zstd or plain tar, told apart by their first bytes, whatever the media
// type says. zstd is decoded by fzstd (pure JS, streaming) because Node 20's zlib has none.
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { Decompress } from "fzstd";
import { invalidArgument } from "../../lib/errdefs.js";

export type Compression = "uncompressed" | "gzip" | "zstd";

const gzipMagic = Buffer.from([0x1f, 0x8b, 0x08]);
const zstdMagic = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

export function detectCompression(head: Buffer): Compression {
  if (head.subarray(0, gzipMagic.length).equals(gzipMagic)) return "gzip";
  if (head.subarray(0, zstdMagic.length).equals(zstdMagic)) return "zstd";
  return "uncompressed";
}

/** The decompressed content of `input`, whichever of the supported compressions it has. */
export async function decompressStream(
  input: Readable,
): Promise<{ compression: Compression; stream: Readable }> {
  const it = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let head = Buffer.alloc(0);
  let done = false;
  while (head.length < zstdMagic.length && !done) {
    const next = await it.next();
    if (next.done) done = true;
    else head = Buffer.concat([head, next.value]);
  }
  const compression = detectCompression(head);
  const rest = (async function* () {
    try {
      if (head.length > 0) yield head;
      if (done) return;
      for (let next = await it.next(); !next.done; next = await it.next()) yield next.value;
    } finally {
      // Destroys the input when the reader gives up early.
      await it.return?.();
    }
  })();
  if (compression === "uncompressed")
    return { compression, stream: Readable.from(rest, { objectMode: false }) };
  const decoder = compression === "gzip" ? createGunzip({ chunkSize: 128 * 1024 }) : zstdDecompressor();
  // An error on either side ends up on the decoder, where the reader sees it.
  pipeline(rest, decoder).catch((err) => decoder.destroy(err));
  return { compression, stream: decoder };
}

function zstdDecompressor(): Transform {
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      try {
        d.push(chunk);
        cb();
      } catch (err) {
        cb(zstdError(err));
      }
    },
    flush(cb) {
      try {
        d.push(new Uint8Array(0), true);
        cb();
      } catch (err) {
        cb(zstdError(err));
      }
    },
  });
  // fzstd hands out a fresh array per block, so it can be wrapped without a copy.
  const d = new Decompress((data) => {
    if (data.length > 0) t.push(Buffer.from(data.buffer, data.byteOffset, data.length));
  });
  return t;
}

function zstdError(err: unknown) {
  return invalidArgument(`invalid zstd stream: ${err instanceof Error ? err.message : String(err)}`, err);
}
