// The task runtime plugin (containerd's io.containerd.runtime.v2.task): bundles under its
// state dir, one conmon monitor per container (none for a pod's infra container), runc as
// the OCI runtime. Tasks outlive the
// daemon, so closing the plugin stops nothing.
import { join } from "node:path";
import { ConmonShim } from "../../shim/conmon-shim.js";
import { RuncShim } from "../../shim/runc-shim.js";
import type { Snapshotter } from "../core/snapshots/snapshots.js";
import { type Plugin, PluginType } from "../plugin.js";
import { TaskManager } from "./task-manager.js";

export const taskPlugin: Plugin<TaskManager> = {
  type: PluginType.Runtime,
  id: "task",
  requires: [PluginType.Snapshotter],
  init: (ic) =>
    new TaskManager({
      stateDir: join(ic.state, "bundles"),
      // Short names: conmon's attach socket path starts with the shim's directory.
      shim: new ConmonShim({ stateDir: join(ic.state, "s"), runcRoot: join(ic.state, "runc"), log: ic.log }),
      infraShim: new RuncShim({ runcRoot: join(ic.state, "runc-infra") }),
      snapshotters: { overlayfs: ic.get<Snapshotter>(PluginType.Snapshotter, "overlayfs") },
      log: ic.log,
    }),
};
