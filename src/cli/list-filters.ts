// Client-side parts of crictl's list filters: --name/--namespace are regular
// expressions, --latest/--last keep the newest, and lists are newest first.
import { invalidArgument } from "../lib/errdefs.js";

export function regexpFilter(flag: string, pattern: string | undefined): (value: string) => boolean {
  if (!pattern) return () => true;
  let re: RegExp;
  try {
    re = new RegExp(pattern);
  } catch (err) {
    throw invalidArgument(`${flag} "${pattern}": not a valid regular expression`, err);
  }
  return (value) => re.test(value);
}

export function newestFirst<T extends { createdAt: bigint }>(
  items: T[],
  opts: { latest?: boolean; last?: string },
): T[] {
  const sorted = [...items].sort((a, b) =>
    a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0,
  );
  const last = opts.latest ? 1 : opts.last !== undefined ? Number(opts.last) : 0;
  if (!Number.isInteger(last) || last < 0)
    throw invalidArgument(`--last "${opts.last}": want a whole number`);
  return last > 0 ? sorted.slice(0, last) : sorted;
}
