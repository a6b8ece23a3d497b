// criService.CreateContainer, after containerd's pkg/cri/server/container_create.go: the
// seed's "创建容器实际上是在boltdb中保存一份容器的数据" — reserve the name, resolve the image,
// prepare the rootfs snapshot, generate the OCI spec (containerSpec) and save a container
// record (NewContainer). Nothing runs yet; StartContainer makes the task.
import { randomBytes } from "node:crypto";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  type ContainerConfig,
  ContainerEventType,
  type CreateContainerRequest,
  type CreateContainerResponseSchema,
  type ContainerMetadata as CriContainerMetadata,
  NamespaceMode,
  type PodSandboxMetadata,
} from "../../cri/gen/runtime/v1/api_pb.js";
import { nowNs } from "../../lib/clock.js";
import { BerthError, notFound, wrap } from "../../lib/errdefs.js";
import { Undo } from "../../lib/undo.js";
import { containerSpec } from "./container-spec.js";
import { CriNamespace } from "./image-store.js";
import { ContainerKindContainer, ContainerKindLabel } from "./sandbox-run.js";
import type { CriService } from "./service.js";
import {
  type ContainerMetadata,
  ContainerMetadataExtension,
  ContainerStatusExtension,
  type CriContainer,
  encodeContainerMetadata,
  encodeContainerStatus,
} from "./store/container.js";

export async function createContainer(
  c: CriService,
  req: CreateContainerRequest,
): Promise<MessageInitShape<typeof CreateContainerResponseSchema>> {
  const sandbox = c.getSandbox(req.podSandboxId, `failed to find sandbox id "${req.podSandboxId}"`);
  const config = req.config;
  const metadata = config?.metadata;
  if (!config || !metadata) throw new BerthError("Unknown", "container config must include metadata");
  const sandboxConfig = req.sandboxConfig ?? sandbox.metadata.config;
  const id = randomBytes(32).toString("hex");
  const name = makeContainerName(metadata, sandboxConfig.metadata ?? sandbox.metadata.config.metadata);
  const log = c.log.child({ container: id, name, sandbox: sandbox.id });
  try {
    c.containerNames.reserve(name, id);
  } catch (err) {
    throw wrap(err, `failed to reserve container name "${name}"`);
  }
  const undo = new Undo(log, { container: id });
  undo.push("release name", () => c.containerNames.releaseByName(name));
  try {
    if (sandbox.state !== "ready" || sandbox.pid === 0) {
      throw notFound(
        `failed to get sandbox container task: no running task found: task ${sandbox.id} not found`,
      );
    }
    const imageName = config.image?.image ?? "";
    const image = await c.images.resolve(imageName);
    if (!image) throw notFound(`failed to resolve image "${imageName}": not found`);

    const rootDir = c.containerRootDir(id);
    await mkdir(rootDir, { recursive: true, mode: 0o755 });
    undo.push("remove container root dir", () => rm(rootDir, { recursive: true, force: true }));

    await c.snapshotter.prepare(CriNamespace, id, image.chainId);
    undo.push("remove snapshot", () => c.snapshotter.remove(CriNamespace, id));
    const rootfs = { id, snapshotter: c.config.snapshotter, snapshotKey: id };
    undo.push("unmount rootfs", () => c.tasks.delete(CriNamespace, id));
    const cgroupParent = sandboxConfig.linux?.cgroupParent ?? "";
    const spec = await containerSpec({
      id,
      sandboxId: sandbox.id,
      sandboxPid: sandbox.pid,
      ...targetPid(c, config),
      config,
      sandboxConfig,
      imageName,
      imageConfig: image.config.config,
      netnsPath: sandbox.metadata.netnsPath,
      files: sandbox.metadata.files,
      cgroupsPath: cgroupParent ? join(cgroupParent, id) : "",
      restrictOomScoreAdj: c.config.restrictOomScoreAdj,
      rootDir,
      withRootfs: async (fn) => fn(await c.tasks.mountRootfs(CriNamespace, rootfs)),
    });
    const logDir = sandboxConfig.logDirectory;
    const meta: ContainerMetadata = {
      id,
      name,
      sandboxId: sandbox.id,
      config,
      imageRef: image.id,
      logPath: logDir && config.logPath ? join(logDir, config.logPath) : "",
      stopSignal: image.config.config?.StopSignal ?? "",
    };
    const status = {
      createdAt: nowNs(),
      startedAt: 0n,
      finishedAt: 0n,
      exitCode: 0,
      pid: 0,
      reason: "",
      message: "",
      removing: false,
      unknown: false,
    };
    await c.containers.create(CriNamespace, {
      id,
      labels: { ...config.labels, [ContainerKindLabel]: ContainerKindContainer },
      image: imageName,
      spec,
      snapshotter: c.config.snapshotter,
      snapshotKey: id,
      extensions: {
        [ContainerMetadataExtension]: encodeContainerMetadata(meta),
        [ContainerStatusExtension]: encodeContainerStatus(status),
      },
    });
    const container: CriContainer = { id, metadata: meta, status, spec };
    c.containerStore.add(container);
    c.events.publish(container, ContainerEventType.CONTAINER_CREATED_EVENT);
    log.info("container created");
    return { containerId: id };
  } catch (err) {
    await undo.run();
    throw wrap(err, `failed to create containerd container`);
  }
}

/** With pid mode TARGET, the process whose pid namespace the container joins. */
function targetPid(c: CriService, config: ContainerConfig): { targetPid?: number } {
  const ns = config.linux?.securityContext?.namespaceOptions;
  if (ns?.pid !== NamespaceMode.TARGET) return {};
  const target = c.containerStore.find(ns.targetId);
  return target && target.status.pid > 0 ? { targetPid: target.status.pid } : {};
}

/** containerd's makeContainerName. */
export function makeContainerName(c: CriContainerMetadata, s: PodSandboxMetadata | undefined): string {
  return [c.name, s?.name ?? "", s?.namespace ?? "", s?.uid ?? "", String(c.attempt)].join("_");
}
