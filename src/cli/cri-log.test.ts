import assert from "node:assert/strict";
import { test } from "node:test";
import { LogLineJoiner, parseCriLogLine } from "./cri-log.js";

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
});

test("LogLineJoiner joins partial records per stream", () => {
  const j = new LogLineJoiner();
  const rec = (line: string) => parseCriLogLine(line) ?? assert.fail(line);
  assert.equal(j.push(rec("t1 stdout P hel")), undefined);
  assert.equal(j.push(rec("t2 stderr F oops"))?.message, "oops");
  const whole = j.push(rec("t3 stdout F lo"));
  assert.deepEqual(whole, { timestamp: "t1", stream: "stdout", partial: false, message: "hello" });
});
