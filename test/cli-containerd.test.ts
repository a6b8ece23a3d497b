// Every berth CLI command (test/support/cli-scenario.ts) against the reference runtime,
// Debian's containerd 1.6.20.
import { join } from "node:path";
import { startContainerd } from "../src/testenv/containerd/containerd.js";
import { cliScenario } from "./support/cli-scenario.js";

cliScenario("containerd 1.6.20", async (reg) => {
  const ctrd = await startContainerd({ sandboxImage: reg.pause.ref, registryHosts: [reg.registry.host] });
  return {
    endpoint: ctrd.endpoint,
    runtimeName: "containerd",
    runtimeVersion: /^v?1\.6\.20/,
    infoConfig: {
      sandboxImage: reg.pause.ref,
      rootDir: join(ctrd.root, "io.containerd.grpc.v1.cri"),
      stateDir: join(ctrd.state, "io.containerd.grpc.v1.cri"),
    },
    podSubnet: ctrd.podCidr,
    pullProgress: "spinner",
    shutdown: async () => {
      // stop() also stops and removes pods through the CRI first; the scenario removed them.
      await ctrd.stop();
      return ctrd.leftovers();
    },
    dispose: () => ctrd.stop(),
  };
});
