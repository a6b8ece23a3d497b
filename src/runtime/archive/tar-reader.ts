// Ported from Go's archive/tar/reader.go (Reader.Next, parsePAX, mergePAX, parseNumeric),
// the reader containerd applies layers with. tar-stream and node-tar decode PAX values as
// UTF-8 text, which corrupts binary xattrs such as security.capability, and tar-stream drops
// PAX times and ids; this reader keeps PAX values as bytes.
import { invalidArgument } from "../../lib/errdefs.js";

export const TypeFlag = {
  Reg: "0",
  RegA: "\0",
  Link: "1",
  Symlink: "2",
  Char: "3",
  Block: "4",
  Dir: "5",
  Fifo: "6",
  Cont: "7",
  XHeader: "x",
  XGlobalHeader: "g",
  GNUSparse: "S",
  GNULongName: "L",
  GNULongLink: "K",
} as const;

export interface TarHeader {
  /** One character, as in the header (TypeFlag). */
  typeflag: string;
  name: string;
  linkname: string;
  size: number;
  /** Permission bits with setuid, setgid and sticky (07777). */
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch, with a fraction when PAX gives one. */
  mtime: number;
  atime?: number;
  devmajor: number;
  devminor: number;
  /** SCHILY.xattr.<name> records, values as the raw bytes. */
  xattrs: Map<string, Buffer>;
}

export interface TarEntry {
  header: TarHeader;
  /** The entry's data; whatever is not read is skipped when the iteration goes on. */
  body: AsyncIterable<Buffer>;
}

const blockSize = 512;
/** Go's maxSpecialFileSize: the bound on a PAX or GNU long-name record. */
const maxSpecialFileSize = 1 << 20;
const paxXattr = "SCHILY.xattr.";

/**
 * The entries of a tar stream, in order. The source is read to its very end, past the
 * end-of-archive blocks, so that a digest taken over it covers the whole stream.
 */
export async function* readTar(source: AsyncIterable<Buffer>): AsyncGenerator<TarEntry> {
  const r = new ByteReader(source[Symbol.asyncIterator]());
  let pax = new Map<string, Buffer>();
  for (;;) {
    const hdr = await readHeader(r);
    if (!hdr) break;
    switch (hdr.typeflag) {
      case TypeFlag.XHeader:
        pax = parsePAX(await readSpecialFile(r, hdr.size));
        continue;
      case TypeFlag.XGlobalHeader:
        // Go returns it as an entry of its own and applies none of it; containerd ignores it.
        await readSpecialFile(r, hdr.size);
        continue;
      case TypeFlag.GNULongName:
        pax.set("path", Buffer.from(cString(await readSpecialFile(r, hdr.size))));
        continue;
      case TypeFlag.GNULongLink:
        pax.set("linkpath", Buffer.from(cString(await readSpecialFile(r, hdr.size))));
        continue;
    }
    mergePAX(hdr, pax);
    pax = new Map();
    // Go reads no data for these types, whatever size the header claims.
    let remaining = headerOnly.has(hdr.typeflag) ? 0 : hdr.size;
    const body = (async function* () {
      while (remaining > 0) {
        const chunk = await r.readSome(remaining);
        if (chunk.length === 0) throw invalidArgument(`tar entry "${hdr.name}" is truncated`);
        remaining -= chunk.length;
        yield chunk;
      }
    })();
    const padding = (blockSize - (remaining % blockSize)) % blockSize;
    yield { header: hdr, body };
    while (remaining > 0) {
      const chunk = await r.readSome(remaining);
      if (chunk.length === 0) throw invalidArgument(`tar entry "${hdr.name}" is truncated`);
      remaining -= chunk.length;
    }
    await r.read(padding);
  }
  await r.drain();
}

const headerOnly = new Set<string>([
  TypeFlag.Link,
  TypeFlag.Symlink,
  TypeFlag.Char,
  TypeFlag.Block,
  TypeFlag.Dir,
  TypeFlag.Fifo,
]);

/** The next header, or undefined at the end of the archive (two zero blocks, or none). */
async function readHeader(r: ByteReader): Promise<TarHeader | undefined> {
  let block = await r.read(blockSize);
  if (block.length === 0) return undefined;
  if (block.length < blockSize) throw invalidArgument("tar header is truncated");
  if (isZero(block)) {
    block = await r.read(blockSize);
    if (block.length === 0 || isZero(block)) return undefined;
    throw invalidArgument("invalid tar header: a zero block followed by data");
  }
  // Fields are read in place: a layer has thousands of headers, and a view per field would
  // be an allocation each.
  const stored = parseOctal(block, 148, 156);
  const [unsigned, signed] = checksums(block);
  if (stored !== unsigned && stored !== signed) throw invalidArgument("invalid tar header: bad checksum");

  const ustar = block.toString("latin1", 257, 265) === "ustar\x0000";
  let name = cString(block, 0, 100);
  // GNU headers keep times, not a name prefix, in that field.
  if (ustar) {
    const prefix = cString(block, 345, 500);
    if (prefix !== "") name = `${prefix}/${name}`;
  }
  let typeflag = String.fromCharCode(block[156] as number);
  if (typeflag === TypeFlag.RegA) typeflag = name.endsWith("/") ? TypeFlag.Dir : TypeFlag.Reg;
  return {
    typeflag,
    name,
    linkname: cString(block, 157, 257),
    mode: parseNumeric(block, 100, 108) & 0o7777,
    uid: parseNumeric(block, 108, 116),
    gid: parseNumeric(block, 116, 124),
    size: parseNumeric(block, 124, 136),
    mtime: parseNumeric(block, 136, 148),
    devmajor: parseNumeric(block, 329, 337),
    devminor: parseNumeric(block, 337, 345),
    xattrs: new Map(),
  };
}

function checksums(block: Buffer): [number, number] {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < blockSize; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : (block[i] as number);
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  return [unsigned, signed];
}

function isZero(block: Buffer): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

/** The end of the C string in b[start, end): its first NUL, or end. */
function cStringEnd(b: Buffer, start: number, end: number): number {
  const nul = b.indexOf(0, start);
  return nul === -1 || nul > end ? end : nul;
}

/** The bytes of b[start, end) up to the first NUL, as UTF-8. */
export function cString(b: Buffer, start = 0, end = b.length): string {
  return b.toString("utf8", start, cStringEnd(b, start, end));
}

/** b[start, end): base-256 when the high bit is set (GNU, for values octal cannot hold), else octal. */
export function parseNumeric(b: Buffer, start = 0, end = b.length): number {
  const first = b[start] ?? 0;
  if (end > start && (first & 0x80) !== 0) {
    if ((first & 0x40) !== 0) throw invalidArgument("invalid tar header: negative number");
    let x = BigInt(first & 0x7f);
    for (let i = start + 1; i < end; i++) x = (x << 8n) | BigInt(b[i] as number);
    if (x > BigInt(Number.MAX_SAFE_INTEGER)) throw invalidArgument("invalid tar header: number too large");
    return Number(x);
  }
  return parseOctal(b, start, end);
}

/** An octal C string in b[start, end), spaces around it allowed; empty is 0. */
function parseOctal(b: Buffer, start: number, end: number): number {
  let i = start;
  let j = cStringEnd(b, start, end);
  while (i < j && b[i] === 0x20) i++;
  while (j > i && b[j - 1] === 0x20) j--;
  let x = 0;
  for (let k = i; k < j; k++) {
    const c = b[k] as number;
    if (c < 0x30 || c > 0x37) {
      throw invalidArgument(`invalid tar header: bad octal number "${b.toString("utf8", i, j)}"`);
    }
    x = x * 8 + (c - 0x30);
  }
  return x;
}

async function readSpecialFile(r: ByteReader, size: number): Promise<Buffer> {
  if (size > maxSpecialFileSize) throw invalidArgument("invalid tar header: extended header too large");
  const data = await r.read(size);
  if (data.length < size) throw invalidArgument("tar extended header is truncated");
  await r.read((blockSize - (size % blockSize)) % blockSize);
  return Buffer.from(data);
}

/** PAX records, "%d %s=%s\n", keys as text and values as the raw bytes. */
export function parsePAX(buf: Buffer): Map<string, Buffer> {
  const records = new Map<string, Buffer>();
  let rest = buf;
  while (rest.length > 0) {
    const sp = rest.indexOf(0x20);
    const n = sp > 0 ? Number(rest.subarray(0, sp).toString("latin1")) : Number.NaN;
    if (!Number.isInteger(n) || n < 5 || n > rest.length || rest[n - 1] !== 0x0a) {
      throw invalidArgument("invalid tar header: bad PAX record");
    }
    const rec = rest.subarray(sp + 1, n - 1);
    const eq = rec.indexOf(0x3d);
    if (eq === -1) throw invalidArgument("invalid tar header: bad PAX record");
    records.set(rec.subarray(0, eq).toString("utf8"), rec.subarray(eq + 1));
    rest = rest.subarray(n);
  }
  return records;
}

/** Applies PAX records over the header's own fields. */
function mergePAX(hdr: TarHeader, pax: Map<string, Buffer>): void {
  for (const [key, raw] of pax) {
    const v = raw.toString("utf8");
    switch (key) {
      case "path":
        hdr.name = v;
        break;
      case "linkpath":
        hdr.linkname = v;
        break;
      case "uid":
        hdr.uid = paxInteger(key, v);
        break;
      case "gid":
        hdr.gid = paxInteger(key, v);
        break;
      case "size":
        hdr.size = paxInteger(key, v);
        break;
      case "mtime":
        hdr.mtime = paxTime(key, v);
        break;
      case "atime":
        hdr.atime = paxTime(key, v);
        break;
      default:
        if (key.startsWith(paxXattr)) hdr.xattrs.set(key.slice(paxXattr.length), raw);
        else if (key.startsWith("GNU.sparse.")) {
          throw invalidArgument(`tar entry "${hdr.name}": GNU sparse files are not supported`);
        }
    }
  }
}

function paxInteger(key: string, v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n)) {
    throw invalidArgument(`invalid tar header: bad PAX ${key} "${v}"`);
  }
  return n;
}

function paxTime(key: string, v: string): number {
  if (!/^-?\d+(\.\d*)?$/.test(v)) throw invalidArgument(`invalid tar header: bad PAX ${key} "${v}"`);
  return Number(v);
}

/** Exact-size reads over an async iterator of chunks. */
class ByteReader {
  private buf: Buffer = Buffer.alloc(0);

  constructor(private readonly it: AsyncIterator<Buffer>) {}

  /**
   * Exactly n bytes, or fewer at the end of the stream. Only bytes that span chunks are
   * copied: a header crossing a chunk boundary costs 512 bytes, not the next chunk.
   */
  async read(n: number): Promise<Buffer> {
    if (this.buf.length >= n) return this.take(n);
    const parts = [this.buf];
    let have = this.buf.length;
    while (have < n) {
      const chunk = await this.next();
      if (!chunk) break;
      parts.push(chunk);
      have += chunk.length;
    }
    const last = parts.at(-1) as Buffer;
    this.buf = have > n ? last.subarray(last.length - (have - n)) : Buffer.alloc(0);
    return Buffer.concat(parts, Math.min(n, have));
  }

  /** Between 1 and n bytes, or none at the end of the stream. */
  async readSome(n: number): Promise<Buffer> {
    if (this.buf.length === 0) this.buf = (await this.next()) ?? this.buf;
    return this.take(n);
  }

  /** Reads and drops the rest of the stream. */
  async drain(): Promise<void> {
    this.buf = Buffer.alloc(0);
    while (!(await this.it.next()).done);
  }

  private take(n: number): Buffer {
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(out.length);
    return out;
  }

  private async next(): Promise<Buffer | undefined> {
    const next = await this.it.next();
    if (next.done) return undefined;
    const v: Uint8Array = next.value;
    return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  }
}
