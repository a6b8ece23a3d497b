// Typed sections of the TOML config: each key has a Field that reads and checks its
// value, so a bad value is reported with its full key ("plugins.cri.cni.bin_dir") and
// what was wanted. TypeScript properties are camelCase; their TOML keys are the same
// words in snake_case, as in containerd's config.toml (sandboxImage ↔ sandbox_image).
import { isAbsolute } from "node:path";
import type { TomlTable } from "smol-toml";
import { invalidArgument } from "../lib/errdefs.js";

export interface Field<T> {
  /** What a good value is, for errors: "a positive integer". */
  want: string;
  /** The value, or undefined when `raw` is not one. */
  read(raw: unknown): T | undefined;
}

/** The fields of a section: a Field per leaf, a nested Fields per sub-table. */
export type Fields<C> = { [K in keyof C]: Field<C[K]> | Fields<C[K]> };

/** A plugin's config section: its fields and its defaults. */
export interface ConfigSection<C> {
  fields: Fields<C>;
  defaults(): C;
}

export const text: Field<string> = {
  want: "a non-empty string",
  read: (raw) => (typeof raw === "string" && raw !== "" ? raw : undefined),
};

export const absolutePath: Field<string> = {
  want: "an absolute path",
  read: (raw) => (typeof raw === "string" && isAbsolute(raw) ? raw : undefined),
};

export const positiveInteger: Field<number> = {
  want: "a positive integer",
  read: (raw) => (typeof raw === "number" && Number.isSafeInteger(raw) && raw > 0 ? raw : undefined),
};

export const boolean: Field<boolean> = {
  want: "true or false",
  read: (raw) => (typeof raw === "boolean" ? raw : undefined),
};

export function oneOf<T extends string | number>(values: readonly T[]): Field<T> {
  const shown = values.map((v) => JSON.stringify(v));
  return {
    want: shown.length === 1 ? `${shown[0]}` : `one of ${shown.join(", ")}`,
    read: (raw) => ((values as readonly unknown[]).includes(raw) ? (raw as T) : undefined),
  };
}

/** A field whose raw string is turned into the stored value (or rejected) by `convert`. */
export function converted<T>(want: string, convert: (raw: string) => T | undefined): Field<T> {
  return { want, read: (raw) => (typeof raw === "string" ? convert(raw) : undefined) };
}

/**
 * Reads `raw` (a TOML table, or undefined for an absent section) over `defaults`.
 * Keys that no field knows are appended to `unknown` with their full path; a bad
 * value throws InvalidArgument naming its key.
 */
export function decodeSection<C>(
  fields: Fields<C>,
  defaults: C,
  raw: unknown,
  at: string,
  unknown: string[],
): C {
  if (raw === undefined) return structuredClone(defaults);
  if (!isTable(raw)) throw badValue(at, "a table", raw);
  const out = structuredClone(defaults) as Record<string, unknown>;
  const byKey = tomlKeys(fields);
  for (const [key, value] of Object.entries(raw)) {
    const prop = byKey.get(key);
    const path = keyPath(at, key);
    if (prop === undefined) {
      unknown.push(path);
      continue;
    }
    const spec = (fields as Record<string, Field<unknown> | Fields<unknown>>)[prop];
    if (isField(spec)) {
      const v = spec.read(value);
      if (v === undefined) throw badValue(path, spec.want, value);
      out[prop] = v;
    } else {
      out[prop] = decodeSection(spec as Fields<unknown>, out[prop], value, path, unknown);
    }
  }
  return out as C;
}

/** The TOML table of a section's value, keys in snake_case, in field order. */
export function encodeSection<C>(fields: Fields<C>, value: C): TomlTable {
  const out: TomlTable = {};
  const v = value as Record<string, unknown>;
  for (const [prop, spec] of Object.entries<Field<unknown> | Fields<unknown>>(fields)) {
    const key = snakeCase(prop);
    out[key] = isField(spec) ? (v[prop] as TomlTable[string]) : encodeSection(spec, v[prop]);
  }
  return out;
}

/** "plugins" + "cri" → "plugins.cri"; keys that are not bare TOML keys are quoted. */
export function keyPath(at: string, key: string): string {
  const part = /^[A-Za-z0-9_-]+$/.test(key) ? key : JSON.stringify(key);
  return at === "" ? part : `${at}.${part}`;
}

export function badValue(key: string, want: string, got: unknown) {
  return invalidArgument(`key "${key}": want ${want}, got ${show(got)}`);
}

export function isTable(raw: unknown): raw is Record<string, unknown> {
  return typeof raw === "object" && raw !== null && !Array.isArray(raw) && !(raw instanceof Date);
}

export function snakeCase(prop: string): string {
  return prop.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function tomlKeys(fields: object): Map<string, string> {
  return new Map(Object.keys(fields).map((prop) => [snakeCase(prop), prop]));
}

function isField(spec: unknown): spec is Field<unknown> {
  return typeof (spec as Field<unknown>).read === "function";
}

function show(value: unknown): string {
  if (isTable(value)) return "a table";
  if (value instanceof Date) return value.toISOString();
  return JSON.stringify(value) ?? String(value);
}
