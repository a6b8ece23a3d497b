// Ports containerd 1.6 images/handlers.go (FilterPlatforms, LimitManifests): choosing the manifest of an
// image index or Docker manifest list that this host runs, as a pull with limit 1 does.
import { notFound } from "../../lib/errdefs.js";
import type { Descriptor } from "../core/content/content.js";
import type { Index } from "./oci.js";
import type { MatchComparer } from "./platforms.js";

/** FilterPlatforms: children with no platform, or one the matcher accepts. */
export function filterPlatforms(children: Descriptor[], m: MatchComparer): Descriptor[] {
  return children.filter((d) => d.platform === undefined || m.match(d.platform));
}

/**
 * LimitManifests: children sorted best platform first (stable; no platform sorts last), cut to `n`.
 * Nothing left is NotFound with containerd's message.
 */
export function limitManifests(children: Descriptor[], m: MatchComparer, n: number): Descriptor[] {
  const sorted = [...children].sort((a, b) => {
    if (a.platform === undefined) return b.platform === undefined ? 0 : 1;
    if (b.platform === undefined) return -1;
    if (m.less(a.platform, b.platform)) return -1;
    return m.less(b.platform, a.platform) ? 1 : 0;
  });
  if (n > 0 && sorted.length === 0) throw notFound("no match for platform in manifest: not found");
  return n > 0 ? sorted.slice(0, n) : sorted;
}

/** The one manifest of `index` a pull for `m` takes (it may itself be an index, to select from again). */
export function selectManifest(index: Index, m: MatchComparer): Descriptor {
  return limitManifests(filterPlatforms(index.manifests, m), m, 1)[0] as Descriptor;
}
