import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { test } from "node:test";
import { buildLayer } from "./layer-builder.js";
import { parseNumeric, parsePAX, readTar, type TarHeader } from "./tar-reader.js";

/** A raw 512-byte header, for the cases tar-stream will not write. */
function rawHeader(h: {
  name: string;
  typeflag: string;
  size?: number;
  magic?: "ustar" | "gnu" | "v7";
}): Buffer {
  const b = Buffer.alloc(512);
  b.write(h.name, 0);
  b.write("0000644\0", 100);
  b.write(`${(h.size ?? 0).toString(8).padStart(11, "0")}\0`, 124);
  b.write(h.typeflag, 156, "latin1");
  if (h.magic === "ustar") b.write("ustar\x0000", 257, "latin1");
  if (h.magic === "gnu") b.write("ustar  \0", 257, "latin1");
  b.write("        ", 148);
  const sum = b.reduce((a, c) => a + c, 0);
  b.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
  return b;
}

const data = (s: string) => {
  const b = Buffer.from(s);
  return Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);
};

async function read(tar: Buffer): Promise<{ header: TarHeader; body: string }[]> {
  const out: { header: TarHeader; body: string }[] = [];
  for await (const { header, body } of readTar(Readable.from([tar]))) {
    const chunks: Buffer[] = [];
    for await (const c of body) chunks.push(c);
    out.push({ header, body: Buffer.concat(chunks).toString() });
  }
  return out;
}

test("parseNumeric reads octal and base-256 fields", () => {
  const cases: [string, Buffer, number | RegExp][] = [
    ["octal with NUL", Buffer.from("0000644\0"), 0o644],
    ["octal padded with spaces", Buffer.from("  755 \0"), 0o755],
    ["empty", Buffer.alloc(8), 0],
    ["base-256", Buffer.from([0x80, 0, 0, 0, 0, 0, 0x10, 0x00]), 4096],
    ["base-256 beyond octal's 8 GiB", Buffer.from([0x80, 0, 0, 0, 0, 0, 0, 0x02, 0, 0, 0, 0]), 2 ** 33],
    ["negative base-256", Buffer.from([0xff, 0xff, 0xff, 0xff]), /negative number/],
    ["not octal", Buffer.from("12z\0"), /bad octal number "12z"/],
  ];
  for (const [name, input, want] of cases) {
    if (want instanceof RegExp) assert.throws(() => parseNumeric(input), want, name);
    else assert.equal(parseNumeric(input), want, name);
  }
  // A field read in place within its header: only its own bytes count.
  const header = Buffer.from("name\u0000\u0000 0644 7777\u0000");
  assert.equal(parseNumeric(header, 6, 11), 0o644);
  assert.equal(parseNumeric(header, 12, 14), 0o77);
  assert.throws(() => parseNumeric(header, 6, 16), /bad octal number "0644 7777"/);
});

test("parsePAX keeps values as bytes and refuses malformed records", () => {
  const binary = Buffer.from([0x01, 0x80, 0xff, 0x0a, 0x3d]);
  const record = Buffer.concat([Buffer.from("35 SCHILY.xattr.security.cap="), binary, Buffer.from("\n")]);
  const records = parsePAX(Buffer.concat([Buffer.from("20 path=a/long/name\n"), record]));
  assert.equal(records.get("path")?.toString(), "a/long/name");
  assert.deepEqual(records.get("SCHILY.xattr.security.cap"), binary);
  const bad: [string, string][] = [
    ["length past the end", "99 path=x\n"],
    ["no newline at the length", "10 path=xy"],
    ["no equals sign", "8 pathx\n"],
    ["no length", "path=x\n"],
  ];
  for (const [name, input] of bad) assert.throws(() => parsePAX(Buffer.from(input)), /bad PAX record/, name);
});

test("readTar follows Go's archive/tar on the odd corners of the format", async () => {
  const longName = `dir/${"x".repeat(200)}`;
  const cases: { name: string; tar: Buffer; want: [string, string, string][] | RegExp }[] = [
    {
      name: "GNU long name and long link",
      tar: Buffer.concat([
        rawHeader({ name: "././@LongLink", typeflag: "L", size: longName.length + 1, magic: "gnu" }),
        data(`${longName}\0`),
        rawHeader({ name: "././@LongLink", typeflag: "K", size: 301, magic: "gnu" }),
        data(`${"t".repeat(300)}\0`),
        rawHeader({ name: "short", typeflag: "2", magic: "gnu" }),
        Buffer.alloc(1024),
      ]),
      want: [["2", longName, ""]],
    },
    {
      name: "V7 regular file whose name ends in / is a directory",
      tar: Buffer.concat([rawHeader({ name: "old/", typeflag: "\0", magic: "v7" }), Buffer.alloc(1024)]),
      want: [["5", "old/", ""]],
    },
    {
      name: "a hardlink's size is not data, and a global header applies to nothing",
      tar: Buffer.concat([
        rawHeader({ name: "pax_global_header", typeflag: "g", size: 20, magic: "ustar" }),
        data("20 path=ignored/at\n"),
        rawHeader({ name: "h", typeflag: "1", size: 5000, magic: "ustar" }),
        rawHeader({ name: "f", typeflag: "0", size: 2, magic: "ustar" }),
        data("hi"),
        Buffer.alloc(1024),
      ]),
      want: [
        ["1", "h", ""],
        ["0", "f", "hi"],
      ],
    },
    {
      name: "an archive without end blocks ends where the stream does",
      tar: Buffer.concat([rawHeader({ name: "f", typeflag: "0", size: 2, magic: "ustar" }), data("ok")]),
      want: [["0", "f", "ok"]],
    },
    {
      name: "a bad checksum",
      tar: (() => {
        const h = rawHeader({ name: "f", typeflag: "0", magic: "ustar" });
        h[0] = 0x67;
        return h;
      })(),
      want: /bad checksum/,
    },
    {
      name: "a zero block followed by data",
      tar: Buffer.concat([Buffer.alloc(512), rawHeader({ name: "f", typeflag: "0", magic: "ustar" })]),
      want: /a zero block followed by data/,
    },
    {
      name: "GNU sparse files",
      tar: Buffer.concat([
        rawHeader({ name: "PaxHeader", typeflag: "x", size: 22, magic: "ustar" }),
        data("22 GNU.sparse.major=1\n"),
        rawHeader({ name: "f", typeflag: "0", magic: "ustar" }),
      ]),
      want: /GNU sparse files are not supported/,
    },
  ];
  for (const c of cases) {
    if (c.want instanceof RegExp) {
      await assert.rejects(read(c.tar), c.want, c.name);
    } else {
      const got = (await read(c.tar)).map((e) => [e.header.typeflag, e.header.name, e.body]);
      assert.deepEqual(got, c.want, c.name);
    }
  }
});

test("entries whose data is not read are skipped", async () => {
  const tar = await buildLayer([
    { name: "a", body: "a".repeat(1500) },
    { name: "b", body: "b" },
  ]);
  const names: string[] = [];
  for await (const { header } of readTar(Readable.from([tar.subarray(0, 600), tar.subarray(600)])))
    names.push(header.name);
  assert.deepEqual(names, ["a", "b"]);
});

test("a stream cut anywhere reads the same as in one piece", async () => {
  const tar = await buildLayer([
    { name: "dir/", type: "directory" },
    { name: `dir/${"long".repeat(40)}`, body: "pax path" },
    { name: "big", body: "x".repeat(3000) },
    { name: "empty", body: "" },
    { name: "link", type: "symlink", linkname: "big" },
  ]);
  const whole = await read(tar);
  for (const size of [1, 7, 511, 512, 513, 1500]) {
    const chunks: Buffer[] = [];
    for (let at = 0; at < tar.length; at += size) chunks.push(tar.subarray(at, at + size));
    const entries: { header: TarHeader; body: string }[] = [];
    for await (const { header, body } of readTar(Readable.from(chunks))) {
      const parts: Buffer[] = [];
      for await (const c of body) parts.push(c);
      entries.push({ header, body: Buffer.concat(parts).toString() });
    }
    assert.deepEqual(entries, whole, `chunks of ${size} bytes`);
  }
});
