// Test helper: builds layer tars entry by entry with tar-stream. Extra PAX records go
// into an extended header written here, since tar-stream writes PAX values as text and
// binary xattrs (security.capability) need their exact bytes.
import * as tarStream from "tar-stream";

type Header = Partial<tarStream.Header> & { name: string };

export interface LayerEntry extends Header {
  body?: string | Buffer;
  /** Extra PAX records for this entry, e.g. { "SCHILY.xattr.user.a": "b" }. */
  pax?: Record<string, string | Buffer>;
}

/** A fixed time, so that built layers are byte-identical. */
export const layerTime = new Date("2024-01-02T03:04:05Z");

export async function buildLayer(entries: LayerEntry[]): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (const { body, pax, ...header } of entries) {
    if (pax) parts.push(paxEntry(pax));
    parts.push(await singleEntry({ mtime: layerTime, ...header }, body));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** One entry as tar-stream writes it, without the end-of-archive blocks. */
async function singleEntry(header: Header, body?: string | Buffer): Promise<Buffer> {
  const pack = tarStream.pack();
  // Only files carry data; tar-stream refuses a body, even empty, for anything else.
  const type: string | undefined = header.type;
  if (type === undefined || type === "file") pack.entry(header, body ?? "");
  else pack.entry(header);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  const tar = Buffer.concat(chunks);
  return tar.subarray(0, tar.length - 1024);
}

/** A PAX extended header ('x') holding `pax` as "%d %s=%s\n" records, byte for byte. */
function paxEntry(pax: Record<string, string | Buffer>): Buffer {
  const records = Buffer.concat(
    Object.entries(pax).map(([key, value]) => {
      const rest = Buffer.concat([Buffer.from(` ${key}=`), Buffer.from(value), Buffer.from("\n")]);
      // The length counts the whole record, its own digits included.
      let n = rest.length + 1;
      while (String(n).length + rest.length !== n) n++;
      return Buffer.concat([Buffer.from(String(n)), rest]);
    }),
  );
  const block = Buffer.alloc(512);
  block.write("PaxHeader", 0);
  block.write("0000644\0", 100);
  block.write(`${records.length.toString(8).padStart(11, "0")}\0`, 124);
  block.write("x", 156);
  block.write("ustar\x0000", 257, "latin1");
  block.write("        ", 148);
  const sum = block.reduce((a, c) => a + c, 0);
  block.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
  return Buffer.concat([block, records, Buffer.alloc((512 - (records.length % 512)) % 512)]);
}
