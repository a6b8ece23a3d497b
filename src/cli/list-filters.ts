// Client-side parts of crictl's list filters: --name/--namespace are regular
// expressions, --latest/--last keep the newest, and lists are newest first.
import type { Command } from "commander";
import { invalidArgument } from "../lib/errdefs.js";
import { collect } from "./states.js";

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

/** The flags pods and ps share. */
export interface ListOptions {
  id?: string;
  name?: string;
  label?: string[];
  state?: string;
  latest?: boolean;
  last?: string;
  quiet?: boolean;
  trunc?: boolean;
  output?: string;
}

/** Adds the list flags crictl's pods and ps share, worded for `noun` ("pod", "container"). */
export function withListOptions(cmd: Command, noun: string, states: string): Command {
  return cmd
    .option("--id <id>", `filter by ${noun} id`)
    .option("--name <regexp>", `filter by ${noun} name (regular expression)`)
    .option("--label <key=value>", "filter by label, repeatable", collect)
    .option("-s, --state <state>", `filter by state: ${states}`)
    .option("-l, --latest", `show the most recently created ${noun}`)
    .option("--last <n>", `show the n most recently created ${noun}s`)
    .option("-q, --quiet", `only display ${noun} ids`)
    .option("--no-trunc", "show full ids")
    .option("-o, --output <format>", "json, yaml or table");
}
