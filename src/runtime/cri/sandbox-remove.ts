// criService.RemovePodSandbox, after containerd's pkg/cri/server/sandbox_remove.go: a
// sandbox still running is stopped first, then its containers, its infra container and
// snapshot, its directories and its name go. An unknown id is no error.
import { rm } from "node:fs/promises";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  RemovePodSandboxRequest,
  RemovePodSandboxResponseSchema,
} from "../../cri/gen/runtime/v1/api_pb.js";
import { ignoreNotFound, wrap } from "../../lib/errdefs.js";
import { removeContainer } from "./container-remove.js";
import { CriNamespace } from "./image-store.js";
import { stopSandbox } from "./sandbox-stop.js";
import type { CriService } from "./service.js";

export async function removePodSandbox(
  c: CriService,
  req: RemovePodSandboxRequest,
): Promise<MessageInitShape<typeof RemovePodSandboxResponseSchema>> {
  const sandbox = c.sandboxStore.find(req.podSandboxId);
  if (!sandbox) {
    c.log.debug({ sandbox: req.podSandboxId }, "sandbox to remove not found");
    return {};
  }
  const { id } = sandbox;
  if (sandbox.state !== "notready" || sandbox.stopping) {
    c.log.info({ sandbox: id }, "forcibly stopping sandbox");
    await stopSandbox(c, sandbox).catch((err) => {
      throw wrap(err, `failed to forcibly stop sandbox "${id}"`);
    });
  }
  for (const ctr of c.containersOf(id)) {
    await removeContainer(c, ctr).catch((err) => {
      throw wrap(err, `failed to remove container "${ctr.id}"`);
    });
  }
  try {
    await c.tasks.delete(CriNamespace, id);
    await c.containers.delete(CriNamespace, id).catch(ignoreNotFound);
    await c.snapshotter.remove(CriNamespace, id).catch(ignoreNotFound);
    await rm(c.sandboxRootDir(id), { recursive: true, force: true });
    await rm(c.sandboxStateDir(id), { recursive: true, force: true });
  } catch (err) {
    throw wrap(err, `failed to remove sandbox "${id}"`);
  }
  c.sandboxStore.delete(id);
  c.forgetStats(id);
  c.sandboxNames.releaseByName(sandbox.metadata.name);
  c.log.info({ sandbox: id }, "sandbox removed");
  return {};
}
