// Per-layer pull progress on a terminal, drawn as docker pull draws it: one line per layer
// with its short digest, state, a bar and bytes, redrawn in place by moving the cursor up.
import { type BlobProgress, BlobState } from "../cri/gen/berth/v1/images_pb.js";
import { isLayerType } from "../runtime/images/media-types.js";
import { humanSize } from "./output.js";

const stateNames: Record<BlobState, string> = {
  [BlobState.BLOB_WAITING]: "Waiting",
  [BlobState.BLOB_DOWNLOADING]: "Downloading",
  [BlobState.BLOB_DOWNLOADED]: "Downloaded",
  [BlobState.BLOB_EXISTS]: "Exists",
  [BlobState.BLOB_UNPACKING]: "Unpacking",
  [BlobState.BLOB_UNPACKED]: "Unpacked",
};

const barWidth = 30;

/** One layer's line, e.g. "f931bc71d156  Downloading  [=========>          ]  512kB/1.05MB". */
export function progressLine(b: Pick<BlobProgress, "digest" | "state" | "offset" | "size">): string {
  const short = b.digest.replace(/^sha256:/, "").slice(0, 12);
  const size = Number(b.size);
  const done =
    b.state === BlobState.BLOB_WAITING
      ? 0
      : b.state === BlobState.BLOB_DOWNLOADING
        ? Math.min(Number(b.offset), size)
        : size;
  return `${short}  ${stateNames[b.state].padEnd(11)}  [${bar(done, size)}]  ${humanSize(done)}/${humanSize(size)}`;
}

function bar(done: number, size: number): string {
  const filled = size > 0 ? Math.floor((done / size) * barWidth) : barWidth;
  if (filled >= barWidth) return "=".repeat(barWidth);
  if (done === 0) return " ".repeat(barWidth);
  return `${"=".repeat(filled)}>${" ".repeat(barWidth - filled - 1)}`;
}

/** Draws the layers of each event over the previous drawing. */
export class ProgressBars {
  private drawn = 0;

  constructor(private readonly stream: NodeJS.WriteStream) {}

  draw(blobs: BlobProgress[]): void {
    // Cut to the terminal's width: a wrapped line would throw off the cursor-up count.
    const width = this.stream.columns ? this.stream.columns - 1 : Number.POSITIVE_INFINITY;
    const lines = blobs.filter((b) => isLayerType(b.mediaType)).map((b) => progressLine(b).slice(0, width));
    let out = this.drawn > 0 ? `\x1b[${this.drawn}A` : "";
    for (const line of lines) out += `\r\x1b[K${line}\n`;
    this.stream.write(out);
    this.drawn = lines.length;
  }
}
