// Ports containerd 1.6 platforms/ (platforms.go, database.go, compare.go, defaults_unix.go, cpuinfo.go):
// platform specifiers, normalization, and the matcher a pull uses to pick this host's manifest.
import { readFileSync } from "node:fs";
import { BerthError } from "../../lib/errdefs.js";
import type { Platform } from "../core/content/content.js";

export type { Platform };

/** Matches platforms and orders them best first (containerd's MatchComparer). */
export interface MatchComparer {
  match(p: Platform): boolean;
  /** Whether `a` is preferred over `b`. */
  less(a: Platform, b: Platform): boolean;
}

/** Node's process.arch → Go's GOARCH, the names OCI platforms use. */
const goArch: Record<string, string> = {
  x64: "amd64",
  ia32: "386",
  arm: "arm",
  arm64: "arm64",
  ppc64: "ppc64le",
  s390x: "s390x",
  riscv64: "riscv64",
  loong64: "loong64",
  mips: "mips",
  mipsel: "mipsle",
};

export const hostOS = process.platform === "win32" ? "windows" : process.platform;
export const hostArch = goArch[process.arch] ?? process.arch;

const knownOS = new Set([
  "android",
  "darwin",
  "dragonfly",
  "freebsd",
  "linux",
  "nacl",
  "netbsd",
  "openbsd",
  "plan9",
  "solaris",
  "windows",
  "zos",
]);
const knownArch = new Set([
  "386",
  "amd64",
  "amd64p32",
  "arm",
  "armbe",
  "arm64",
  "arm64be",
  "ppc64",
  "ppc64le",
  "mips",
  "mipsle",
  "mips64",
  "mips64le",
  "mips64p32",
  "mips64p32le",
  "ppc",
  "s390",
  "s390x",
  "sparc",
  "sparc64",
]);

function normalizeOS(os: string): string {
  if (os === "") return hostOS;
  const lower = os.toLowerCase();
  return lower === "macos" ? "darwin" : lower;
}

/** normalizeArch: the canonical architecture and variant (1.6: arm64's default v8 is written as ""). */
function normalizeArch(arch: string, variant: string): [string, string] {
  const a = arch.toLowerCase();
  const v = variant.toLowerCase();
  switch (a) {
    case "i386":
      return ["386", ""];
    case "x86_64":
    case "x86-64":
      return ["amd64", ""];
    case "aarch64":
    case "arm64":
      return ["arm64", v === "8" || v === "v8" ? "" : v];
    case "armhf":
      return ["arm", "v7"];
    case "armel":
      return ["arm", "v6"];
    case "arm":
      if (v === "" || v === "7") return ["arm", "v7"];
      if (v === "5" || v === "6" || v === "8") return ["arm", `v${v}`];
      return ["arm", v];
    default:
      return [a, v];
  }
}

/** Normalize: the canonical form of a platform (deprecated os.features dropped). */
export function normalize(p: Platform): Platform {
  const [architecture, variant] = normalizeArch(p.architecture, p.variant ?? "");
  const out: Platform = { os: normalizeOS(p.os), architecture };
  if (variant !== "") out.variant = variant;
  if (p["os.version"] !== undefined) out["os.version"] = p["os.version"];
  return out;
}

/** getCPUVariant: the ARM variant named by /proc/cpuinfo's "Cpu architecture" field. */
export function cpuVariantFromCpuinfo(cpuinfo: string, arch: string): string {
  const field = (name: string) => {
    const line = cpuinfo.split("\n").find((l) => l.split(":")[0]?.trim().toLowerCase() === name);
    return line?.slice(line.indexOf(":") + 1).trim();
  };
  let variant = field("cpu architecture");
  if (variant === undefined) return "";
  // Raspberry Pi ARMv6 kernels report "7".
  if (
    arch === "arm" &&
    variant === "7" &&
    field("model name")?.toLowerCase().startsWith("armv6-compatible")
  ) {
    variant = "6";
  }
  switch (variant.toLowerCase()) {
    case "8":
    case "aarch64":
      return "v8";
    case "7":
    case "7m":
    case "?(12)":
    case "?(13)":
    case "?(14)":
    case "?(15)":
    case "?(16)":
    case "?(17)":
      return "v7";
    case "6":
    case "6tej":
      return "v6";
    case "5":
    case "5t":
    case "5te":
    case "5tej":
      return "v5";
    case "4":
    case "4t":
      return "v4";
    case "3":
      return "v3";
    default:
      return "unknown";
  }
}

/** cpuVariant: the host's ARM variant, "" elsewhere. */
function cpuVariant(): string {
  if (hostArch !== "arm" && hostArch !== "arm64") return "";
  try {
    return cpuVariantFromCpuinfo(readFileSync("/proc/cpuinfo", "utf8"), hostArch);
  } catch {
    return "";
  }
}

/** DefaultSpec: this host's platform, e.g. linux/amd64. */
export function defaultSpec(): Platform {
  const variant = cpuVariant();
  return variant === ""
    ? { os: hostOS, architecture: hostArch }
    : { os: hostOS, architecture: hostArch, variant };
}

const specifierRe = /^[A-Za-z0-9_-]+$/;
const invalid = (message: string) => new BerthError("InvalidArgument", `${message}: invalid argument`);

/** Parse: an "os[/arch[/variant]]" specifier, or a lone os or arch, filled in from the host. */
export function parse(specifier: string): Platform {
  if (specifier.includes("*")) throw invalid(`"${specifier}": wildcards not yet supported`);
  const parts = specifier.split("/");
  for (const part of parts) {
    if (!specifierRe.test(part)) {
      throw invalid(
        `"${part}" is an invalid component of "${specifier}": platform specifier component must match "${specifierRe.source}"`,
      );
    }
  }
  const [first = "", second = "", third = ""] = parts;
  const withVariant = (os: string, [architecture, variant]: [string, string]): Platform =>
    variant === "" ? { os, architecture } : { os, architecture, variant };
  switch (parts.length) {
    case 1: {
      const os = normalizeOS(first);
      if (knownOS.has(os)) {
        const variant = hostArch === "arm" && cpuVariant() !== "v7" ? cpuVariant() : "";
        return withVariant(os, [hostArch, variant]);
      }
      const [arch, variant] = normalizeArch(first, "");
      if (knownArch.has(arch))
        return withVariant(hostOS, [arch, arch === "arm" && variant === "v7" ? "" : variant]);
      throw invalid(`"${specifier}": unknown operating system or architecture`);
    }
    case 2: {
      const [arch, variant] = normalizeArch(second, "");
      return withVariant(normalizeOS(first), [arch, arch === "arm" && variant === "v7" ? "" : variant]);
    }
    case 3: {
      const [arch, variant] = normalizeArch(second, third);
      return withVariant(normalizeOS(first), [arch, arch === "arm64" && variant === "" ? "v8" : variant]);
    }
    default:
      throw invalid(`"${specifier}": cannot parse platform specifier`);
  }
}

/** Format: "os/arch[/variant]". */
export function format(p: Platform): string {
  if (p.os === "") return "unknown";
  return [p.os, p.architecture, p.variant ?? ""].filter((s) => s !== "").join("/");
}

/** NewMatcher: exact match after normalizing both sides. */
export function newMatcher(p: Platform): (candidate: Platform) => boolean {
  const want = normalize(p);
  return (candidate) => {
    const got = normalize(candidate);
    return got.os === want.os && got.architecture === want.architecture && got.variant === want.variant;
  };
}

/** platformVector: the platform followed by the ones it can also run, best first. */
function platformVector(p: Platform): Platform[] {
  const vector = [p];
  const base = { os: p.os, ...(p["os.version"] !== undefined ? { "os.version": p["os.version"] } : {}) };
  switch (p.architecture) {
    case "amd64":
      vector.push({ ...base, architecture: "386", ...(p.variant ? { variant: p.variant } : {}) });
      break;
    case "arm": {
      const version = Number.parseInt((p.variant ?? "").replace(/^v/, ""), 10);
      for (let v = version - 1; version > 5 && v >= 5; v--)
        vector.push({ ...base, architecture: "arm", variant: `v${v}` });
      break;
    }
    case "arm64":
      vector.push(...platformVector({ ...base, architecture: "arm", variant: p.variant || "v8" }));
      break;
  }
  return vector;
}

/** Ordered: matches any of the platforms, preferring them in the order given. */
export function ordered(...platforms: Platform[]): MatchComparer {
  const matchers = platforms.map(newMatcher);
  return {
    match: (p) => matchers.some((m) => m(p)),
    less: (a, b) => {
      for (const m of matchers) {
        const am = m(a);
        const bm = m(b);
        if (am && !bm) return true;
        if (am || bm) return false;
      }
      return false;
    },
  };
}

/**
 * Only: the platform and what it can also run, best first (amd64 also runs 386; arm/v7 also v6 and v5;
 * arm64 also arm/v8 down to arm/v5).
 */
export function only(p: Platform): MatchComparer {
  return ordered(...platformVector(normalize(p)));
}

/** Default: the matcher a pull uses, only(defaultSpec()). */
export function defaultMatcher(): MatchComparer {
  return only(defaultSpec());
}
