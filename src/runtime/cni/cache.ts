// libcni's result cache (containernetworking/cni libcni/api.go: cachedInfo, cacheAdd,
// getCachedResult, GetCachedAttachments), in the same file format under a directory berth
// owns: <cacheDir>/results/<network>-<containerId>-<ifName>. An entry is written after a
// whole list was added and removed after its DEL, so it records every attachment still in
// place: DEL reads its prevResult and config from it, and restart recovery lists it to find
// attachments of sandboxes that no longer exist.
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { wrap } from "../../lib/errdefs.js";
import { isObject } from "./conf.js";

const CacheKind = "cniCacheV1";

export interface Attachment {
  containerId: string;
  networkName: string;
  ifName: string;
  netns: string;
  /** The network config list ADD ran, as JSON. */
  config: string;
  cniArgs: [string, string][];
  capabilityArgs: Record<string, unknown>;
  /** The list's result as the last plugin returned it. */
  result: unknown;
}

function resultsDir(cacheDir: string): string {
  return join(cacheDir, "results");
}

function cacheFile(cacheDir: string, network: string, containerId: string, ifName: string): string {
  return join(resultsDir(cacheDir), `${network}-${containerId}-${ifName}`);
}

export async function writeCache(cacheDir: string, a: Attachment): Promise<void> {
  const file = cacheFile(cacheDir, a.networkName, a.containerId, a.ifName);
  const entry = {
    kind: CacheKind,
    containerId: a.containerId,
    // Go marshals libcni's []byte config as base64; keeping that keeps the files libcni's.
    config: Buffer.from(a.config).toString("base64"),
    ifName: a.ifName,
    networkName: a.networkName,
    netns: a.netns,
    cniArgs: a.cniArgs,
    capabilityArgs: a.capabilityArgs,
    result: a.result,
  };
  try {
    await mkdir(resultsDir(cacheDir), { recursive: true, mode: 0o700 });
    // Through a temporary name, so a crash never leaves half an entry; listings skip dot files.
    const tmp = join(resultsDir(cacheDir), `.${a.networkName}-${a.containerId}-${a.ifName}.tmp`);
    await writeFile(tmp, JSON.stringify(entry), { mode: 0o600 });
    await rename(tmp, file);
  } catch (err) {
    throw wrap(err, `failed to cache the result of network "${a.networkName}" for "${a.containerId}"`);
  }
}

/** The cached attachment, or undefined when there is none or it cannot be read, as libcni ignores those. */
export async function readCache(
  cacheDir: string,
  network: string,
  containerId: string,
  ifName: string,
): Promise<Attachment | undefined> {
  try {
    return parseEntry(await readFile(cacheFile(cacheDir, network, containerId, ifName), "utf8"));
  } catch {
    return undefined;
  }
}

export async function removeCache(cacheDir: string, network: string, containerId: string, ifName: string) {
  await rm(cacheFile(cacheDir, network, containerId, ifName), { force: true });
}

/** Every cached attachment, or those of one container, sorted by file name. */
export async function cachedAttachments(cacheDir: string, containerId?: string): Promise<Attachment[]> {
  let names: string[];
  try {
    names = await readdir(resultsDir(cacheDir));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw wrap(err, `failed to list CNI cache "${resultsDir(cacheDir)}"`);
  }
  const out: Attachment[] = [];
  for (const name of names.filter((n) => !n.startsWith(".")).sort()) {
    if (containerId !== undefined && !name.includes(`-${containerId}-`)) continue;
    const a = await readFile(join(resultsDir(cacheDir), name), "utf8")
      .then(parseEntry)
      .catch(() => undefined);
    if (a && (containerId === undefined || a.containerId === containerId)) out.push(a);
  }
  return out;
}

function parseEntry(text: string): Attachment | undefined {
  const o: unknown = JSON.parse(text);
  if (!isObject(o) || o.kind !== CacheKind) return undefined;
  const str = (v: unknown) => (typeof v === "string" ? v : "");
  if (!str(o.containerId) || !str(o.networkName) || !str(o.ifName)) return undefined;
  return {
    containerId: str(o.containerId),
    networkName: str(o.networkName),
    ifName: str(o.ifName),
    netns: str(o.netns),
    config: Buffer.from(str(o.config), "base64").toString(),
    cniArgs: Array.isArray(o.cniArgs) ? (o.cniArgs as [string, string][]) : [],
    capabilityArgs: isObject(o.capabilityArgs) ? o.capabilityArgs : {},
    result: o.result,
  };
}
