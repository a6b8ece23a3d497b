import assert from "node:assert/strict";
import { mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  findTailLineStartIndex,
  parseCRILog,
  readAtMost,
  readLastStringFromContainerLogs,
  readLogs,
} from "./logs.js";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "berth-logs-test-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, content: string | Buffer): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

describe("parseCRILog", () => {
  // logs_test.go TestParseCRILog
  const time = "2016-10-20T18:39:20.57606443Z";
  const at = new Date("2016-10-20T18:39:20.576Z");
  const cases: { line: string; expected?: { stream: string; log: string } }[] = [
    {
      line: `${time} stdout F cri stdout test log\n`,
      expected: { stream: "stdout", log: "cri stdout test log\n" },
    },
    {
      line: `${time} stderr F cri stderr test log\n`,
      expected: { stream: "stderr", log: "cri stderr test log\n" },
    },
    { line: "unsupported log format test log\n" },
    {
      line: `${time} stdout P cri stdout partial test log\n`,
      expected: { stream: "stdout", log: "cri stdout partial test log" },
    },
    {
      line: `${time} stdout P:TAG1:TAG2 cri stdout partial test log\n`,
      expected: { stream: "stdout", log: "cri stdout partial test log" },
    },
  ];
  for (const [i, c] of cases.entries()) {
    test(`case ${i}: ${JSON.stringify(c.line)}`, () => {
      if (c.expected === undefined) {
        assert.throws(() => parseCRILog(Buffer.from(c.line)));
        return;
      }
      const msg = parseCRILog(Buffer.from(c.line));
      assert.deepEqual(
        { timestamp: msg.timestamp, stream: msg.stream, log: msg.log.toString() },
        { timestamp: at, ...c.expected },
      );
    });
  }

  test("rejects an unknown stream and a line without a tag", () => {
    assert.throws(() => parseCRILog(Buffer.from(`${time} stdin F x\n`)), /unexpected stream type "stdin"/);
    assert.throws(() => parseCRILog(Buffer.from(`${time} stdout`)), /stream type is not found/);
    assert.throws(() => parseCRILog(Buffer.from(`${time} stdout F`)), /log tag is not found/);
    assert.throws(() => parseCRILog(Buffer.from("yesterday stdout F x\n")), /unexpected timestamp format/);
  });
});

test("findTailLineStartIndex finds the start of the last n complete lines (tail_test.go TestTail)", async () => {
  const line = "a".repeat(1024);
  const path = await file("tail", `${line}\n${line}\n${line}\n${line}\n${line.slice(512)}`);
  const handle = await open(path, "r");
  try {
    for (const { n, start } of [
      { n: -1, start: 0 },
      { n: 0, start: (line.length + 1) * 4 },
      { n: 1, start: (line.length + 1) * 3 },
      { n: 9999, start: 0 },
    ]) {
      assert.equal(await findTailLineStartIndex(handle, n), start, `n=${n}`);
    }
  } finally {
    await handle.close();
  }
});

test("readAtMost reads the end of a file and says whether there was more", async () => {
  const path = await file("message", "0123456789");
  assert.deepEqual(await readAtMost(path, 4), { data: Buffer.from("6789"), truncated: true });
  assert.deepEqual(await readAtMost(path, 100), { data: Buffer.from("0123456789"), truncated: false });
  assert.deepEqual(await readAtMost(await file("empty", ""), 4), { data: Buffer.alloc(0), truncated: false });
});

describe("readLogs", () => {
  // logs_test.go TestReadLogs (its tail cases), in the CRI format.
  const lines = [
    "2020-09-27T11:18:01.00000000Z stdout F line1\n",
    "2020-09-27T11:18:02.00000000Z stdout F line2\n",
    "2020-09-27T11:18:03.00000000Z stdout F line3\n",
  ];
  for (const { name, tail, expected } of [
    { name: "default pod log options should output all lines", tail: -1, expected: "line1\nline2\nline3\n" },
    { name: "using TailLines 2 should output last 2 lines", tail: 2, expected: "line2\nline3\n" },
    {
      name: "using TailLines 4 should output all lines when the log has less than 4 lines",
      tail: 4,
      expected: "line1\nline2\nline3\n",
    },
    { name: "using TailLines 0 should output nothing", tail: 0, expected: "" },
  ]) {
    test(name, async () => {
      const path = await file(`read-${tail}`, lines.join(""));
      let out = "";
      await readLogs(path, { tail }, (_s, c) => {
        out += c.toString();
      });
      assert.equal(out, expected);
    });
  }

  test("joins partial lines, keeps the streams apart and skips a broken line after the first", async () => {
    const path = await file(
      "partial",
      [
        "2020-09-27T11:18:01Z stdout P hel",
        "2020-09-27T11:18:01Z stderr F oops",
        "not a log line",
        "2020-09-27T11:18:01Z stdout F lo",
        // Still being written: no newline yet.
        "2020-09-27T11:18:02Z stdout F tail",
      ].join("\n"),
    );
    const out: Record<string, string> = { stdout: "", stderr: "" };
    await readLogs(path, { tail: -1 }, (stream, c) => {
      out[stream] += c.toString();
    });
    assert.deepEqual(out, { stdout: "hello\ntail", stderr: "oops\n" });
  });

  test("a file in no known format, and a missing file, are errors", async () => {
    const bad = await file(
      "docker-json",
      '{"log":"line1\\n","stream":"stdout","time":"2020-09-27T11:18:01Z"}\n',
    );
    await assert.rejects(
      readLogs(bad, { tail: -1 }, () => undefined),
      /failed to get parse function: unsupported log format/,
    );
    await assert.rejects(
      readLogs(join(dir, "missing"), { tail: -1 }, () => undefined),
      /failed to open log file/,
    );
  });
});

describe("readLastStringFromContainerLogs", () => {
  test("takes the last 80 lines, then their last 2048 bytes", async () => {
    const lines = Array.from({ length: 100 }, (_, i) => `2020-09-27T11:18:01Z stderr F line ${i}\n`);
    const tail80 = Array.from({ length: 80 }, (_, i) => `line ${i + 20}\n`).join("");
    assert.equal(await readLastStringFromContainerLogs(await file("many", lines.join(""))), tail80);

    const long = Array.from(
      { length: 30 },
      (_, i) => `2020-09-27T11:18:01Z stdout F ${String(i).padStart(99, "x")}\n`,
    );
    const text = Array.from({ length: 30 }, (_, i) => `${String(i).padStart(99, "x")}\n`).join("");
    assert.equal(await readLastStringFromContainerLogs(await file("long", long.join(""))), text.slice(-2048));
  });

  test("says why it could not read the log", async () => {
    assert.match(
      await readLastStringFromContainerLogs(join(dir, "nope.log")),
      /^Error on reading termination message from logs: failed to open log file/,
    );
  });
});
