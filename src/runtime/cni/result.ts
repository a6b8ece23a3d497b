// CNI results, after containernetworking/cni pkg/types/100 (Result) and its conversions from
// pkg/types/040 and pkg/types/020: whatever version a plugin answered in, berth reads the
// 1.0.0 shape. 0.3.x and 0.4.0 differ only by a "version" on each IP; 0.1.0 and 0.2.0 carry
// one IP per family ("ip4", "ip6") with their routes, and no interfaces.
import { isIP } from "node:net";
import { BerthError } from "../../lib/errdefs.js";
import { isObject } from "./conf.js";
import { isSpecVersion, versionAtLeast } from "./spec-version.js";

export interface Interface {
  name: string;
  mac?: string;
  mtu?: number;
  /** The netns path for an interface inside the sandbox; absent on the host side. */
  sandbox?: string;
}

export interface IPConfig {
  /** Index into the result's interfaces. */
  interface?: number;
  /** The address with its prefix length, "10.88.0.5/16". */
  address: string;
  gateway?: string;
}

export interface Route {
  dst: string;
  gw?: string;
}

export interface Dns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

export interface Result {
  cniVersion: string;
  interfaces: Interface[];
  ips: IPConfig[];
  routes: Route[];
  dns: Dns;
}

/** Reads a plugin's result in any spec version as the 1.0.0 shape, checking what berth uses. */
export function parseResult(v: unknown): Result {
  if (!isObject(v)) throw invalidResult("not a JSON object");
  const version = typeof v.cniVersion === "string" ? v.cniVersion : "";
  if (!isSpecVersion(version)) throw invalidResult(`unknown cniVersion ${JSON.stringify(v.cniVersion)}`);
  const r: Result = versionAtLeast(version, "0.3.0") ? fromCurrent(v) : fromLegacy(v);
  for (const [i, ip] of r.ips.entries()) {
    if (!isCidr(ip.address)) throw invalidResult(`ips[${i}]: invalid address ${JSON.stringify(ip.address)}`);
    if (ip.gateway !== undefined && isIP(ip.gateway) === 0)
      throw invalidResult(`ips[${i}]: invalid gateway ${JSON.stringify(ip.gateway)}`);
    if (ip.interface !== undefined && !(ip.interface >= 0 && ip.interface < r.interfaces.length))
      throw invalidResult(`ips[${i}]: interface ${ip.interface} is not one of ${r.interfaces.length}`);
  }
  return r;
}

function fromCurrent(v: Record<string, unknown>): Result {
  return {
    cniVersion: versionAtLeast(String(v.cniVersion), "1.0.0") ? String(v.cniVersion) : "1.0.0",
    interfaces: list(v.interfaces, "interfaces").map((i) => {
      if (typeof i.name !== "string") throw invalidResult("interface without a name");
      return pick<Interface>(i, ["name", "mac", "mtu", "sandbox"]);
    }),
    ips: list(v.ips, "ips").map((ip) => pick<IPConfig>(ip, ["interface", "address", "gateway"])),
    routes: routes(v.routes),
    dns: isObject(v.dns) ? (v.dns as Dns) : {},
  };
}

function fromLegacy(v: Record<string, unknown>): Result {
  const r: Result = { cniVersion: "1.0.0", interfaces: [], ips: [], routes: [], dns: {} };
  for (const family of ["ip4", "ip6"]) {
    const c = v[family];
    if (!isObject(c)) continue;
    r.ips.push(pick<IPConfig>({ address: c.ip, gateway: c.gateway }, ["address", "gateway"]));
    r.routes.push(...routes(c.routes));
  }
  if (isObject(v.dns)) r.dns = v.dns as Dns;
  return r;
}

function routes(v: unknown): Route[] {
  return list(v, "routes").map((rt) => {
    if (typeof rt.dst !== "string") throw invalidResult("route without a dst");
    return pick<Route>(rt, ["dst", "gw"]);
  });
}

function list(v: unknown, what: string): Record<string, unknown>[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every(isObject)) throw invalidResult(`${what} is not a list of objects`);
  return v;
}

/** The named fields that are present, so results compare and print without undefined keys. */
function pick<T>(o: Record<string, unknown>, keys: (keyof T & string)[]): T {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out as T;
}

export function isCidr(s: unknown): s is string {
  if (typeof s !== "string") return false;
  const [ip, prefix, ...rest] = s.split("/");
  const family = isIP(ip ?? "");
  const bits = Number(prefix);
  return rest.length === 0 && family !== 0 && /^\d+$/.test(prefix ?? "") && bits <= (family === 4 ? 32 : 128);
}

function invalidResult(why: string): BerthError {
  return new BerthError("Unknown", `invalid CNI result: ${why}`);
}
