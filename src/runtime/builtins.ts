// The one list of plugins `berth runtime` starts (containerd's cmd/containerd/builtins):
// adding a service is adding its record here. The loader orders them by `requires`.
import { metadataPlugin } from "./core/metadata/plugin.js";
import { criPlugin } from "./cri/plugin.js";
import type { Plugin } from "./plugin.js";

export const builtins: readonly Plugin[] = [metadataPlugin, criPlugin];
