// The image config as containerd 1.6 shows it in ImageStatus's verbose info: decoded into
// image-spec's Go structs (specs-go/v1 Image, as vendored by containerd 1.6.20) and encoded
// again by encoding/json. So fields come in the structs' order, unknown ones (Docker's
// container_config, docker_version …) are gone, empty optional ones are left out, times are
// RFC 3339 with a trimmed fraction, and <, >, & are escaped as \u003c, \u003e, \u0026.
import type { ImageConfig } from "../images/oci.js";

type Json = Record<string, unknown>;

/** encoding/json's output for `value` (map keys sorted, HTML characters escaped). */
export function goJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** The image config as specs-go/v1.Image encodes it. */
export function imageSpecOf(config: ImageConfig): Json {
  const c = config as ImageConfig & Json;
  return dropEmpty(
    {
      created: goTime(c.created),
      author: c.author,
      architecture: c.architecture ?? "",
      variant: c.variant,
      os: c.os ?? "",
      "os.version": c["os.version"],
      "os.features": c["os.features"],
      config: imageConfigOf((c.config ?? {}) as Json),
      rootfs: { type: c.rootfs?.type ?? "", diff_ids: c.rootfs?.diff_ids ?? null },
      history: Array.isArray(c.history) ? c.history.map((h) => historyOf(h as Json)) : undefined,
    },
    // Struct members and non-omitempty strings are always there; a *time.Time unless null.
    ["architecture", "os", "config", "rootfs", ...(c.created == null ? [] : ["created"])],
  );
}

/** specs-go/v1.ImageConfig: every field omitempty; set members are empty structs. */
function imageConfigOf(c: Json): Json {
  return dropEmpty({
    User: c.User,
    ExposedPorts: emptyStructSet(c.ExposedPorts),
    Env: c.Env,
    Entrypoint: c.Entrypoint,
    Cmd: c.Cmd,
    Volumes: emptyStructSet(c.Volumes),
    WorkingDir: c.WorkingDir,
    Labels: sortedMap(c.Labels),
    StopSignal: c.StopSignal,
    ArgsEscaped: c.ArgsEscaped,
  });
}

function historyOf(h: Json): Json {
  return dropEmpty(
    {
      created: goTime(h.created),
      created_by: h.created_by,
      author: h.author,
      comment: h.comment,
      empty_layer: h.empty_layer,
    },
    h.created == null ? [] : ["created"],
  );
}

/** omitempty: drops undefined, null, "", false, and empty arrays and maps, except `keep`. */
function dropEmpty(o: Json, keep: string[] = []): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(o)) {
    const empty =
      v === undefined ||
      v === null ||
      v === "" ||
      v === false ||
      (Array.isArray(v) && v.length === 0) ||
      (isMap(v) && Object.keys(v).length === 0 && !keep.includes(k));
    if (!empty || (keep.includes(k) && v !== undefined)) out[k] = v;
  }
  return out;
}

function isMap(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** encoding/json writes Go maps with sorted keys. */
function sortedMap(v: unknown): Json | undefined {
  if (!isMap(v)) return undefined;
  return Object.fromEntries(
    Object.keys(v)
      .sort()
      .map((k) => [k, v[k]]),
  );
}

/** map[string]struct{}: only the keys survive. */
function emptyStructSet(v: unknown): Json | undefined {
  if (!isMap(v)) return undefined;
  return Object.fromEntries(
    Object.keys(v)
      .sort()
      .map((k) => [k, {}]),
  );
}

/**
 * time.Time's MarshalJSON (RFC 3339 with nanoseconds, trailing zeros trimmed, "Z" for a zero
 * offset) of a time parsed from `v`; anything not RFC 3339 is passed through unchanged.
 */
export function goTime(v: unknown): unknown {
  if (typeof v !== "string") return v;
  const m = /^(\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$/.exec(v);
  if (!m) return v;
  const [, time, fraction = "", offset = ""] = m;
  const nanos = fraction.slice(0, 9).replace(/0+$/, "");
  const zone = /^[Zz]$|^[+-]00:00$/.test(offset) ? "Z" : offset;
  return `${(time as string).toUpperCase()}${nanos ? `.${nanos}` : ""}${zone}`;
}
