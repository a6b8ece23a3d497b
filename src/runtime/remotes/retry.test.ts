// The retry policy's arithmetic: which statuses are retried, Retry-After, and the backoff schedule.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  backoffMs,
  isRetryable,
  isRetryableStatus,
  parseRetryAfter,
  retryAfterOf,
  statusError,
} from "./retry.js";

test("isRetryableStatus: timeouts, rate limits and server trouble; never other 4xx", () => {
  const cases: [number, boolean][] = [
    [408, true],
    [429, true],
    [500, true],
    [502, true],
    [503, true],
    [504, true],
    [400, false],
    [401, false],
    [403, false],
    [404, false],
    [405, false],
    [501, false],
    [200, false],
  ];
  for (const [status, want] of cases) assert.equal(isRetryableStatus(status), want, String(status));
  assert.equal(isRetryable(statusError("x", 503)), true);
  assert.equal(isRetryable(statusError("x", 401)), false);
  assert.equal(isRetryable(new Error("plain")), false);
});

test("parseRetryAfter: delta-seconds or an HTTP date", () => {
  const now = Date.parse("2024-01-01T00:00:00Z");
  const cases: [string | undefined, number | undefined][] = [
    [undefined, undefined],
    ["", undefined],
    ["0", 0],
    ["3", 3000],
    [" 12 ", 12000],
    ["Mon, 01 Jan 2024 00:00:05 GMT", 5000],
    ["Sun, 31 Dec 2023 23:59:00 GMT", 0],
    ["soon", undefined],
  ];
  for (const [value, want] of cases) assert.equal(parseRetryAfter(value, now), want, String(value));
  assert.equal(retryAfterOf(statusError("x", 429, "2")), 2000);
});

test("backoffMs: doubling from the minimum, at least Retry-After, capped", () => {
  const opts = { minDelayMs: 100, maxDelayMs: 1000 };
  const cases: [number, number | undefined, number][] = [
    [0, undefined, 100],
    [1, undefined, 200],
    [2, undefined, 400],
    [3, undefined, 800],
    [4, undefined, 1000],
    [0, 300, 300],
    [2, 300, 400],
    [0, 60_000, 1000],
  ];
  for (const [attempt, retryAfter, want] of cases) {
    assert.equal(backoffMs(attempt, opts, retryAfter), want, `${attempt} ${retryAfter}`);
  }
  assert.equal(backoffMs(0, {}), 250);
});
