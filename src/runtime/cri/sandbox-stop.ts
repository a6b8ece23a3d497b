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
  // The infra process, /dev/shm and the pod network are independent of each other: the
  // namespace stays pinned after the process is gone, so CNI DEL (the slowest part, the
  // bridge plugin's iptables work) runs while the process is killed and its task deleted.
  const results = await Promise.allSettled([
    unmountSandboxFiles(sandbox.metadata.files).catch((err) => {
      throw wrap(err, `failed to unmount sandbox files of "${id}"`);
    }),
    stopInfra(c, sandbox),
    teardownNetwork(c, sandbox),
  ]);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
  c.log.info({ sandbox: id }, "sandbox stopped");
}

async function stopInfra(c: CriService, sandbox: Sandbox): Promise<void> {
  if (sandbox.state === "notready") return;
  try {
    await c.tasks.kill(sandbox.id, "SIGKILL");
  } catch (err) {
    // It may have exited meanwhile; only a process that is still there is an error.
    if (sandbox.state === "ready" && sandbox.exited === undefined) {
      throw wrap(err, `failed to stop sandbox container "${sandbox.id}"`);
    }
  }
  await sandbox.exited;
}

async function teardownNetwork(c: CriService, sandbox: Sandbox): Promise<void> {
  const { id } = sandbox;
  const { netnsPath, config } = sandbox.metadata;
  if (netnsPath === "") return;
  const metadata = config.metadata ?? { name: "", namespace: "", uid: "" };
  try {
    await c.cni.remove(id, netnsPath, { labels: toCniLabels(id, metadata) });
    await removeNetNS(netnsPath);
  } catch (err) {
    throw wrap(err, `failed to destroy network for sandbox "${id}"`);
  }
}
