import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { BlobProgressSchema, BlobState } from "../cri/gen/berth/v1/images_pb.js";
import { ProgressBars, progressLine } from "./progress-bars.js";

const digest = "sha256:f931bc71d156cedecec5743b014c8f724ef2b4ffc0c27f393ff250273ab23826";
const layer = (state: BlobState, offset: number, mediaType = "application/vnd.oci.image.layer.v1.tar+gzip") =>
  create(BlobProgressSchema, { digest, mediaType, size: 1_000_000n, offset: BigInt(offset), state });

test("a layer's line: short digest, state, bar, bytes", () => {
  const cases: [BlobState, number, string][] = [
    [BlobState.BLOB_WAITING, 0, `Waiting      [${" ".repeat(30)}]  0B/1MB`],
    [BlobState.BLOB_DOWNLOADING, 0, `Downloading  [${" ".repeat(30)}]  0B/1MB`],
    [BlobState.BLOB_DOWNLOADING, 500_000, `Downloading  [${"=".repeat(15)}>${" ".repeat(14)}]  500kB/1MB`],
    [BlobState.BLOB_DOWNLOADED, 1_000_000, `Downloaded   [${"=".repeat(30)}]  1MB/1MB`],
    [BlobState.BLOB_EXISTS, 0, `Exists       [${"=".repeat(30)}]  1MB/1MB`],
    [BlobState.BLOB_UNPACKING, 1_000_000, `Unpacking    [${"=".repeat(30)}]  1MB/1MB`],
    [BlobState.BLOB_UNPACKED, 1_000_000, `Unpacked     [${"=".repeat(30)}]  1MB/1MB`],
  ];
  for (const [state, offset, rest] of cases)
    assert.equal(progressLine(layer(state, offset)), `f931bc71d156  ${rest}`);
});

test("each drawing goes back up over the last, shows layers only and fits the terminal", () => {
  let written = "";
  const stream = { columns: 40, write: (s: string) => (written += s) } as unknown as NodeJS.WriteStream;
  const bars = new ProgressBars(stream);
  const config = layer(BlobState.BLOB_EXISTS, 0, "application/vnd.oci.image.config.v1+json");
  bars.draw([config, layer(BlobState.BLOB_WAITING, 0)]);
  bars.draw([config, layer(BlobState.BLOB_UNPACKED, 1_000_000)]);
  const line = (s: string) => `\r\x1b[K${s.slice(0, 39)}\n`;
  assert.equal(
    written,
    line(progressLine(layer(BlobState.BLOB_WAITING, 0))) +
      `\x1b[1A${line(progressLine(layer(BlobState.BLOB_UNPACKED, 1_000_000)))}`,
  );
});
