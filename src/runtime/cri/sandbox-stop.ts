// criService.StopPodSandbox, after containerd's pkg/cri/server/sandbox_stop.go: stop every
// container of the pod, unmount its /dev/shm, kill the infra process and wait for its
// task to go, then detach the pod network (CNI DEL, before the namespace goes: see
// Cni.remove) and remove the network namespace. Stopping twice is fine.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { StopPodSandboxRequest, StopPodSandboxResponseSchema } from "../../cri/gen/runtime/v1/api_pb.js";
import { wrap } from "../../lib/errdefs.js";
import { toCniLabels } from "../cni/labels.js";
import { removeNetNS } from "../netns/netns.js";
import { stopContainer } from "./container-stop.js";
import { unmountSandboxFiles } from "./sandbox-files.js";
import type { CriService } from "./service.js";
import type { Sandbox } from "./store/sandbox.js";

export async function stopPodSandbox(
  c: CriService,
  req: StopPodSandboxRequest,
): Promise<MessageInitShape<typeof StopPodSandboxResponseSchema>> {
  const sandbox = c.getSandbox(req.podSandboxId);
  await stopSandbox(c, sandbox);
  return {};
}

/** Stops the sandbox; concurrent callers share one stop. */
export function stopSandbox(c: CriService, sandbox: Sandbox): Promise<void> {
  sandbox.stopping ??= doStop(c, sandbox).finally(() => {
    sandbox.stopping = undefined;
  });
  return sandbox.stopping;
}

async function doStop(c: CriService, sandbox: Sandbox): Promise<void> {
  const { id } = sandbox;
  for (const ctr of c.containersOf(id)) {
    await stopContainer(c, ctr, 0).catch((err) => {
      throw wrap(err, `failed to stop container "${ctr.id}"`);
    });
  }
  await unmountSandboxFiles(sandbox.metadata.files).catch((err) => {
    throw wrap(err, `failed to unmount sandbox files of "${id}"`);
  });
  if (sandbox.state !== "notready") {
    try {
      await c.tasks.kill(id, "SIGKILL");
    } catch (err) {
      // It may have exited meanwhile; only a process that is still there is an error.
      if (sandbox.state === "ready" && sandbox.exited === undefined) {
        throw wrap(err, `failed to stop sandbox container "${id}"`);
      }
    }
    await sandbox.exited;
  }
  const { netnsPath, config } = sandbox.metadata;
  if (netnsPath !== "") {
    const metadata = config.metadata ?? { name: "", namespace: "", uid: "" };
    try {
      await c.cni.remove(id, netnsPath, { labels: toCniLabels(id, metadata) });
      await removeNetNS(netnsPath);
    } catch (err) {
      throw wrap(err, `failed to destroy network for sandbox "${id}"`);
    }
  }
  c.log.info({ sandbox: id }, "sandbox stopped");
}
