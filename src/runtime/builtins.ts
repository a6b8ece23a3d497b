// The one list of plugins `berth runtime` starts (containerd's cmd/containerd/builtins):
// adding a service is adding its record here. The loader orders them by `requires`.
import { contentPlugin } from "./content/plugin.js";
import { metadataPlugin } from "./core/metadata/plugin.js";
import { criPlugin } from "./cri/plugin.js";
import { gcPlugin } from "./gc/plugin.js";
import { leasesPlugin } from "./leases/plugin.js";
import type { Plugin } from "./plugin.js";
import { overlayPlugin } from "./snapshots/overlay/plugin.js";
import { taskPlugin } from "./tasks/plugin.js";

export const builtins: readonly Plugin[] = [
  metadataPlugin,
  contentPlugin,
  overlayPlugin,
  leasesPlugin,
  gcPlugin,
  taskPlugin,
  criPlugin,
];
