// Every berth CLI command (test/support/cli-scenario.ts) against berth's own runtime,
// `berth runtime`, on its built-in pod network.
import { join } from "node:path";
import { DefaultSubnet } from "../src/runtime/cni/default-network.js";
import { berthVersion } from "../src/runtime/version.js";
import { berthLeftovers, startBerthRuntime } from "../src/testenv/berth-runtime.js";
import { cliScenario } from "./support/cli-scenario.js";

cliScenario("berth runtime", async (reg) => {
  // The test registry listens on 127.0.0.1, which berth pulls from over plain HTTP by default.
  const rt = await startBerthRuntime({ configToml: `[plugins.cri]\nsandbox_image = "${reg.pause.ref}"\n` });
  return {
    endpoint: rt.endpoint,
    runtimeName: "berth",
    runtimeVersion: new RegExp(`^${berthVersion().replaceAll(".", "\\.")}$`),
    // Each plugin has its dirs below the daemon's, named <type>.<id>.
    infoConfig: {
      sandboxImage: reg.pause.ref,
      rootDir: join(rt.root, "grpc.cri"),
      stateDir: join(rt.state, "grpc.cri"),
    },
    podSubnet: DefaultSubnet,
    pullProgress: "layers",
    shutdown: async () => {
      // Looked for while the daemon runs (berthLeftovers skips it by its pid): with every pod
      // removed, no monitor, mount or namespace may remain. The default bridge berth0 is
      // shared with any other berth runtime here, so pod networks are checked through their
      // pinned namespaces instead of the bridge's veths.
      const left = await berthLeftovers(rt);
      const exit = await rt.terminate();
      if (exit.code !== 0) throw new Error(`berth runtime exited with ${exit.signal ?? `code ${exit.code}`}`);
      return left;
    },
    dispose: async () => {
      await rt.stop();
    },
  };
});
