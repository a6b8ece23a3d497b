// k8s.io/apiserver/pkg/server/healthz, as the kubelet installs it: /healthz runs every check and
// answers "ok", or 500 listing each check as [+] or [-] (reasons withheld, and logged);
// ?verbose lists them on success too, ?exclude=<name> skips one, and /healthz/<name> runs one.
import type { Logger } from "../../lib/log.js";

export interface HealthChecker {
  name: string;
  /** Throws when unhealthy; the error's message is the reason. */
  check(): void | Promise<void>;
}

/** PingHealthz: healthy whenever the server answers at all. */
export const pingHealthz: HealthChecker = { name: "ping", check: () => {} };

/**
 * LogHealthz: upstream fails it when logging has blocked for two minutes. berth writes its log
 * synchronously, so a blocked log stops the whole process and no answer comes back at all: the
 * check has nothing left to find, and stays so that the verbose output lists what upstream's does.
 */
export const logHealthz: HealthChecker = { name: "log", check: () => {} };

export function namedCheck(name: string, check: () => void | Promise<void>): HealthChecker {
  return { name, check };
}

export interface HealthzAnswer {
  code: 200 | 500;
  body: string;
}

/** adaptCheckToHandler: /healthz/<name> runs that check alone. */
export async function adaptCheckToHandler(check: HealthChecker): Promise<HealthzAnswer> {
  try {
    await check.check();
    return { code: 200, body: "ok" };
  } catch (err) {
    return { code: 500, body: `internal server error: ${(err as Error).message}\n` };
  }
}

/** handleRootHealth: /healthz runs every check not excluded. */
export async function handleRootHealth(
  checks: readonly HealthChecker[],
  query: URLSearchParams,
  log: Logger,
): Promise<HealthzAnswer> {
  const excluded = new Set(query.getAll("exclude"));
  const lines: string[] = [];
  const failed: string[] = [];
  for (const c of checks) {
    if (excluded.delete(c.name)) {
      lines.push(`[+]${c.name} excluded: ok`);
      continue;
    }
    try {
      await c.check();
      lines.push(`[+]${c.name} ok`);
    } catch (err) {
      lines.push(`[-]${c.name} failed: reason withheld`);
      failed.push(`[-]${c.name} failed: ${(err as Error).message}`);
    }
  }
  if (excluded.size > 0) {
    const names = [...excluded].map((n) => JSON.stringify(n)).join(", ");
    lines.push(`warn: some health checks cannot be excluded: no matches for ${names}`);
  }
  const out = lines.map((l) => `${l}\n`).join("");
  if (failed.length > 0) {
    log.info({ failed }, "healthz check failed");
    return { code: 500, body: `${out}healthz check failed\n` };
  }
  return { code: 200, body: query.has("verbose") ? `${out}healthz check passed\n` : "ok" };
}
