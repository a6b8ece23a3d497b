// The two CRI runtimes the kubelet's end-to-end tests run against, started the same way for
// every test file: Debian's containerd 1.6.20 and berth runtime, both pulling from the given
// registry with its pause image as the sandbox image.
import assert from "node:assert/strict";
import { after, before } from "node:test";
import { type ImageServiceClient, newRemoteImageService } from "../../src/cri/remote-image.js";
import { newRemoteRuntimeService, type RuntimeServiceClient } from "../../src/cri/remote-runtime.js";
import { type CriConnection, dialCri } from "../../src/cri/transport.js";
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

/** A suite's runtime and its CRI clients, there once the suite's first before hook has run. */
export interface SuiteRuntime {
  readonly target: CriRuntime;
  readonly cri: RuntimeServiceClient;
  readonly images: ImageServiceClient;
}

/**
 * Starts the runtime in a before hook of the calling suite (hooks the suite registers later run
 * after it) and, after the suite's tests, runs `beforeStop` (what the suite ran on it is taken
 * down there), closes the connection, stops the runtime and asserts it left nothing.
 */
export function runtimeForSuite(
  name: string,
  start: () => Promise<CriRuntime>,
  hooks: { beforeStop?: () => Promise<void> } = {},
): SuiteRuntime {
  let started: {
    target: CriRuntime;
    conn: CriConnection;
    cri: RuntimeServiceClient;
    images: ImageServiceClient;
  };
  let target: CriRuntime | undefined;
  let conn: CriConnection | undefined;
  before(async () => {
    target = await start();
    conn = dialCri(target.endpoint);
    started = {
      target,
      conn,
      cri: newRemoteRuntimeService(conn),
      images: newRemoteImageService(conn),
    };
  });
  after(async () => {
    try {
      if (started) await hooks.beforeStop?.();
    } finally {
      conn?.close();
      const left = await target?.shutdown();
      await target?.dispose();
      assert.deepEqual(left, [], `${name} left things behind`);
    }
  });
  return {
    get target() {
      return started.target;
    },
    get cri() {
      return started.cri;
    },
    get images() {
      return started.images;
    },
  };
}
