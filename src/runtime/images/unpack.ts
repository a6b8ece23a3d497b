// Unpacking one layer into a snapshot, after containerd 1.6's unpacker and
// diff/apply/apply_linux.go: prepare an active snapshot on the parent chain, apply the
// decompressed layer straight into its upper directory (overlay whiteouts included),
// check the diffID against the image config, and commit it under the layer's chainID.
import { failedPrecondition, invalidArgument, isAlreadyExists, wrap } from "../../lib/errdefs.js";
import type { Logger } from "../../lib/log.js";
import { applyLayer } from "../archive/apply.js";
import { decompressStream } from "../archive/decompress.js";
import type { ContentStore, Descriptor } from "../core/content/content.js";
import type { Mount, Snapshotter } from "../core/snapshots/snapshots.js";

export interface UnpackDeps {
  ns: string;
  snapshotter: Snapshotter;
  content: ContentStore;
  log: Logger;
}

export interface UnpackLayer {
  layer: Descriptor;
  diffId: string;
  chainId: string;
  parent: string | undefined;
  /** The active snapshot's key while applying. */
  key: string;
}

export async function unpackLayer(deps: UnpackDeps, u: UnpackLayer): Promise<void> {
  const { ns, snapshotter, content } = deps;
  const mounts = await snapshotter.prepare(ns, u.key, u.parent);
  try {
    const { upper, lowers } = overlayDirs(mounts);
    const { stream } = await decompressStream(await content.createReadStream(ns, u.layer.digest));
    const applied = await applyLayer(upper, stream, { log: deps.log, parents: lowers });
    if (applied.diffID !== u.diffId) {
      throw failedPrecondition(
        `layer ${u.layer.digest} unpacks to ${applied.diffID}, but the image config says ${u.diffId}`,
      );
    }
    try {
      await snapshotter.commit(ns, u.chainId, u.key);
    } catch (err) {
      // A concurrent pull of the same layers got there first: theirs stands.
      if (!isAlreadyExists(err)) throw err;
      await snapshotter.remove(ns, u.key);
    }
  } catch (err) {
    await snapshotter.remove(ns, u.key).catch(() => {});
    throw wrap(err, `failed to unpack layer ${u.layer.digest}`);
  }
}

/**
 * The directory to apply into and the ones below it, from an active snapshot's mounts:
 * a bind mount's source, or an overlay's upperdir and lowerdirs (containerd's getOverlayPath).
 */
export function overlayDirs(mounts: Mount[]): { upper: string; lowers: string[] } {
  const m = mounts[0];
  if (mounts.length !== 1 || !m) throw invalidArgument(`want one mount, got ${mounts.length}`);
  if (m.type === "bind") return { upper: m.source, lowers: [] };
  if (m.type !== "overlay") throw invalidArgument(`cannot apply into a ${m.type} mount`);
  const opt = (name: string) => m.options.find((o) => o.startsWith(`${name}=`))?.slice(name.length + 1);
  const upper = opt("upperdir");
  if (!upper) throw invalidArgument("overlay mount has no upperdir");
  return { upper, lowers: (opt("lowerdir") ?? "").split(":").filter(Boolean) };
}
