import assert from "node:assert/strict";
import { test } from "node:test";
import { LogLineJoiner, parseCriLogLine, rfc3339Nano } from "./cri-log.js";

test("parseCriLogLine reads timestamp, stream, tag and message", () => {
  assert.deepEqual(parseCriLogLine("2016-10-06T00:17:09.669794202Z stdout F hello world"), {
    timestamp: "2016-10-06T00:17:09.669794202Z",
    stream: "stdout",
    partial: false,
    message: "hello world",
  });
  assert.equal(parseCriLogLine("2016-10-06T00:17:09Z stderr P ")?.partial, true);
  assert.equal(parseCriLogLine("2016-10-06T00:17:09Z stderr F")?.message, "");
  assert.equal(parseCriLogLine("garbage"), undefined);
  assert.equal(parseCriLogLine("2016-10-06T00:17:09Z stdin F x"), undefined);
  assert.equal(parseCriLogLine("yesterday stdout F x"), undefined);
});

test("rfc3339Nano prints containerd's and conmon's times as Go's RFC3339Nano does", () => {
  const cases: [string, string | undefined][] = [
    ["2016-10-06T00:17:09.669794202Z", "2016-10-06T00:17:09.669794202Z"],
    // conmon: nine digits and a numeric offset.
    ["2026-11-26T21:39:51.161470100+00:00", "2026-11-26T21:39:51.1614701Z"],
    ["2026-11-26T21:39:51.000000000-00:00", "2026-11-26T21:39:51Z"],
    ["2026-11-26T23:39:51.500000000+02:00", "2026-11-26T23:39:51.5+02:00"],
    ["2016-10-06T00:17:09Z", "2016-10-06T00:17:09Z"],
    ["2016-10-06 00:17:09Z", undefined],
    ["2016-10-06T00:17:09.1234567890Z", undefined],
    ["2016-10-06T00:17:09", undefined],
  ];
  for (const [input, want] of cases) assert.equal(rfc3339Nano(input), want, input);
});

test("LogLineJoiner joins partial records per stream", () => {
  const j = new LogLineJoiner();
  const rec = (line: string) => parseCriLogLine(line) ?? assert.fail(line);
  const t = (s: number) => `2016-10-06T00:17:0${s}Z`;
  assert.equal(j.push(rec(`${t(1)} stdout P hel`)), undefined);
  assert.equal(j.push(rec(`${t(2)} stderr F oops`))?.message, "oops");
  const whole = j.push(rec(`${t(3)} stdout F lo`));
  assert.deepEqual(whole, { timestamp: t(1), stream: "stdout", partial: false, message: "hello" });
});
