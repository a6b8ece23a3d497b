// A berth logger whose JSON lines are kept in memory, for tests that assert what was logged.
import { Writable } from "node:stream";
import { pino } from "pino";
import type { Logger } from "../../src/lib/log.js";

export interface CapturedLog {
  log: Logger;
  /** Every line logged so far, parsed. */
  lines(): { level: number; msg: string; [k: string]: unknown }[];
  /** Lines whose message contains `text`. */
  matching(text: string): { msg: string; [k: string]: unknown }[];
}

export function captureLog(level = "debug"): CapturedLog {
  const raw: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      raw.push(String(chunk));
      done();
    },
  });
  const log = pino({ level }, sink);
  const lines = () =>
    raw
      .join("")
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l));
  return { log, lines, matching: (text) => lines().filter((l) => String(l.msg).includes(text)) };
}
