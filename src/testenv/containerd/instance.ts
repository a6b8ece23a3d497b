// The instance record: every path and name one private containerd owns. It is kept in
// <base>/instance.json too, so a later run can clean up after one that crashed.
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import { listCgroupTops } from "./cgroups.js";
import { errnoOf, readdirSafe, readJsonSafe } from "./files.js";

export const INSTANCE_PREFIX = "berth-containerd-";
export const RECORD_FILE = "instance.json";
const MAX_INSTANCES = 256;
/** Shared dirs containerd 1.6 and libcni use whatever their config says. */
export const RUN_CONTAINERD = "/run/containerd";
export const VAR_LIB_CNI = "/var/lib/cni";

export interface InstanceRecord {
  index: number;
  base: string;
  root: string;
  state: string;
  socket: string;
  configPath: string;
  logPath: string;
  runcRoot: string;
  fifoDir: string;
  hostsDir: string;
  cniConfDir: string;
  cniIpamDir: string;
  bridge: string;
  network: string;
  podCidr: string;
  ownerPid: number;
  containerdPid?: number;
  /** Which shared directories existed before we started (only those we made are removed). */
  preexisting: { paths: string[]; cgroupTops: string[] };
}

/** Claims a free slot in parentDir and records what the instance in it will own. */
export async function newInstance(parentDir: string, podCidr?: string): Promise<InstanceRecord> {
  const { index, base } = await claimInstanceDir(parentDir);
  const state = path.join(base, "state");
  const rec: InstanceRecord = {
    index,
    base,
    root: path.join(base, "root"),
    state,
    socket: path.join(state, "containerd.sock"),
    configPath: path.join(base, "config.toml"),
    logPath: path.join(base, "containerd.log"),
    runcRoot: path.join(state, "runc"),
    fifoDir: path.join(state, "fifo"),
    hostsDir: path.join(base, "certs.d"),
    cniConfDir: path.join(base, "cni", "net.d"),
    cniIpamDir: path.join(base, "cni", "ipam"),
    bridge: `berthc${index}`,
    network: `berthc${index}`,
    podCidr: podCidr ?? `10.233.${index}.0/24`,
    ownerPid: process.pid,
    preexisting: {
      paths: [RUN_CONTAINERD, `${RUN_CONTAINERD}/s`, `${RUN_CONTAINERD}/fifo`, `${RUN_CONTAINERD}/runc`]
        .concat([VAR_LIB_CNI, `${VAR_LIB_CNI}/results`])
        .concat(readdirSafe(`${RUN_CONTAINERD}/runc`).map((ns) => `${RUN_CONTAINERD}/runc/${ns}`))
        .filter((p) => fs.existsSync(p)),
      cgroupTops: listCgroupTops(),
    },
  };
  await writeRecord(rec);
  return rec;
}

/**
 * <N> is claimed by an atomic mkdir of the base dir, skipping N whose bridge exists, so
 * parallel instances, in any process, never share a bridge or a subnet.
 */
async function claimInstanceDir(parentDir: string): Promise<{ index: number; base: string }> {
  for (let index = 0; index < MAX_INSTANCES; index++) {
    if (fs.existsSync(`/sys/class/net/berthc${index}`)) continue; // someone else's (or stale)
    const base = path.join(parentDir, `${INSTANCE_PREFIX}${index}`);
    try {
      await fsp.mkdir(base, { mode: 0o711 });
      return { index, base };
    } catch (err) {
      if (errnoOf(err) !== "EEXIST") throw err;
    }
  }
  throw new Error(`no free containerd test instance slot in ${parentDir} (${MAX_INSTANCES} in use)`);
}

export async function writeRecord(rec: InstanceRecord): Promise<void> {
  const file = path.join(rec.base, RECORD_FILE);
  await fsp.writeFile(`${file}.tmp`, `${JSON.stringify(rec, null, 2)}\n`);
  await fsp.rename(`${file}.tmp`, file);
}

export function readRecord(base: string): InstanceRecord | undefined {
  return readJsonSafe(path.join(base, RECORD_FILE)) as InstanceRecord | undefined;
}
