// The two CRI runtimes the kubelet's end-to-end tests run against, started the same way for
// every test file: Debian's containerd 1.6.20 and berth runtime, both pulling from the given
// registry with its pause image as the sandbox image.
import assert from "node:assert/strict";
import { berthLeftovers, startBerthRuntime } from "../../src/testenv/berth-runtime.js";
import { startContainerd } from "../../src/testenv/containerd/containerd.js";
import type { Leftover } from "../../src/testenv/containerd/leftovers.js";
import type { RegistryWithTestImages } from "../../src/testenv/registry.js";

/** A started runtime: its endpoint, and how to stop it and learn what it left on the machine. */
export interface CriRuntime {
  kind: "containerd" | "berth";
  endpoint: string;
  /** The daemon's pid. */
  pid: number;
  /** Stops the runtime; what of it (and its pods) is still on the machine. */
  shutdown(): Promise<Leftover[]>;
  /** Removes whatever is left, for after(); idempotent. */
  dispose(): Promise<void>;
}

export interface CriRuntimeStarter {
  name: string;
  start(): Promise<CriRuntime>;
}

export function criRuntimes(reg: () => RegistryWithTestImages): CriRuntimeStarter[] {
  return [
    {
      name: "containerd 1.6.20",
      start: async () => {
        const { pause, registry } = reg();
        const cd = await startContainerd({ sandboxImage: pause.ref, registryHosts: [registry.host] });
        return {
          kind: "containerd",
          endpoint: cd.endpoint,
          pid: cd.pid,
          shutdown: async () => {
            await cd.stop();
            return cd.leftovers();
          },
          dispose: () => cd.stop(),
        };
      },
    },
    {
      name: "berth runtime",
      start: async () => {
        const rt = await startBerthRuntime({
          configToml: `[plugins.cri]\nsandbox_image = "${reg().pause.ref}"\n`,
        });
        return {
          kind: "berth",
          endpoint: rt.endpoint,
          pid: rt.pid,
          shutdown: async () => {
            // Looked for while it runs (its own pid is skipped): with the pods removed, nothing may remain.
            const left = await berthLeftovers(rt);
            const exit = await rt.terminate();
            assert.equal(exit.code, 0, `berth runtime exited with ${exit.signal ?? exit.code}`);
            return left;
          },
          dispose: async () => {
            await rt.stop();
          },
        };
      },
    },
  ];
}
