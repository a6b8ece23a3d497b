// Bounded retries with exponential backoff for registry requests. containerd 1.6 only re-sends on 401,
// 405, 408 and 429; berth also waits out network failures and 5xx, and honours Retry-After, because a
// node pulling during a registry restart should not fail the pod. 4xx answers are final.
import { setTimeout as sleep } from "node:timers/promises";
import { BerthError, messageOf } from "../../lib/errdefs.js";
import type { Logger } from "../../lib/log.js";
import { isNetworkError, statusText } from "./http.js";

export interface RetryOptions {
  /** Rounds over the hosts before giving up (default 5). */
  attempts?: number;
  /** First delay; each later one doubles (default 250 ms). */
  minDelayMs?: number;
  /** Longest delay, also the cap on Retry-After (default 10 s). */
  maxDelayMs?: number;
}

/** Statuses a registry gives when it may answer later: timeout, rate limit, server trouble. */
export function isRetryableStatus(status: number): boolean {
  return (
    status === 408 || status === 429 || status === 500 || status === 502 || status === 503 || status === 504
  );
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The delay before retry `attempt` (0-based): doubling from minDelayMs, at least Retry-After, capped. */
export function backoffMs(attempt: number, opts: RetryOptions, retryAfterMs?: number): number {
  const min = opts.minDelayMs ?? 250;
  const max = opts.maxDelayMs ?? 10_000;
  return Math.min(max, Math.max(min * 2 ** attempt, retryAfterMs ?? 0));
}

/** An error for an HTTP answer, carrying what the retry loop needs. */
export function statusError(message: string, status: number, retryAfter?: string): BerthError {
  return new BerthError("Unknown", message, {
    cause: { status, statusText: statusText(status), retryAfterMs: parseRetryAfter(retryAfter) },
  });
}

interface RetryHint {
  status?: number;
  retryAfterMs?: number;
}

const hintOf = (err: unknown): RetryHint => ((err as { cause?: unknown } | null)?.cause ?? {}) as RetryHint;

/** Whether another attempt may succeed where `err` failed. */
export function isRetryable(err: unknown): boolean {
  const status = hintOf(err).status;
  return isNetworkError(err) || (typeof status === "number" && isRetryableStatus(status));
}

/** A round's failures: the first is the one reported; any retryable one lets the round be retried. */
export class Failures {
  private first: { err: unknown } | undefined;
  private retryable = false;
  private retryAfterMs: number | undefined;

  add(err: unknown): void {
    this.first ??= { err };
    if (isRetryable(err)) {
      this.retryable = true;
      this.retryAfterMs = Math.max(this.retryAfterMs ?? 0, retryAfterOf(err) ?? 0) || undefined;
    }
  }

  /** The failed round, reporting `otherwise()` when nothing was added (every host said 404). */
  outcome(otherwise: () => unknown): Round<never> {
    return {
      error: this.first ? this.first.err : otherwise(),
      retryable: this.retryable,
      retryAfterMs: this.retryAfterMs,
    };
  }
}

/** One round's outcome: a value, or the error to report, whether another round may help, and when. */
export type Round<T> = { value: T } | { error: unknown; retryable: boolean; retryAfterMs?: number };

/**
 * Runs `round` until it yields a value, fails for good, or the attempts are used up, waiting between
 * rounds. Throws the last round's error.
 */
export async function withRetries<T>(
  what: string,
  opts: RetryOptions,
  log: Logger,
  round: () => Promise<Round<T>>,
  signal?: AbortSignal,
): Promise<T> {
  const attempts = Math.max(1, opts.attempts ?? 5);
  for (let attempt = 0; ; attempt++) {
    const r = await round();
    if ("value" in r) return r.value;
    if (!r.retryable || attempt + 1 >= attempts || signal?.aborted) throw r.error;
    const delay = backoffMs(attempt, opts, r.retryAfterMs);
    log.warn({ attempt: attempt + 1, delayMs: delay, err: messageOf(r.error) }, `retrying ${what}`);
    await sleep(delay, undefined, { signal });
  }
}

/** The Retry-After an error carries, if any. */
export function retryAfterOf(err: unknown): number | undefined {
  return hintOf(err).retryAfterMs;
}
