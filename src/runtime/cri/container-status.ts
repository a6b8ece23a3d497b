// criService.ContainerStatus, after containerd's pkg/cri/server/container_status.go: state
// and times from the store, the image by its first repo tag and repo digest, the reason of
// an exited container; with verbose, containerd's containerInfo as JSON under "info".
import { type MessageInitShape, toJson } from "@bufbuild/protobuf";
import {
  ContainerConfigSchema,
  ContainerState,
  type ContainerStatusRequest,
  type ContainerStatusResponseSchema,
  type ContainerStatusSchema,
  type LinuxContainerResourcesSchema,
} from "../../cri/gen/runtime/v1/api_pb.js";
import type { Spec } from "../../runc/oci-spec.js";
import { parseImageReferences } from "./image-list.js";
import { CriNamespace } from "./image-store.js";
import type { CriService } from "./service.js";
import type { ContainerStatus, CriContainer } from "./store/container.js";

/** containerd's completeExitReason and errorExitReason. */
const completeExitReason = "Completed";
const errorExitReason = "Error";

export async function containerStatus(
  c: CriService,
  req: ContainerStatusRequest,
): Promise<MessageInitShape<typeof ContainerStatusResponseSchema>> {
  const ctr = c.getContainer(req.containerId);
  const status = await toCriContainerStatus(c, ctr);
  if (!req.verbose) return { status };
  return { status, info: { info: JSON.stringify(await containerInfo(c, ctr)) } };
}

/** containerd's Status.State(). */
export function criContainerState(s: ContainerStatus): keyof typeof ContainerState {
  if (s.unknown) return "CONTAINER_UNKNOWN";
  if (s.finishedAt !== 0n) return "CONTAINER_EXITED";
  if (s.startedAt !== 0n) return "CONTAINER_RUNNING";
  if (s.createdAt !== 0n) return "CONTAINER_CREATED";
  return "CONTAINER_UNKNOWN";
}

async function toCriContainerStatus(
  c: CriService,
  ctr: CriContainer,
): Promise<MessageInitShape<typeof ContainerStatusSchema>> {
  const { config, imageRef: id } = ctr.metadata;
  let image = config.image?.image ?? "";
  let imageRef = id;
  const known = await c.images.get(id);
  if (known) {
    const [tags, digests] = parseImageReferences(known.references);
    image = tags[0] ?? image;
    imageRef = digests[0] ?? imageRef;
  }
  const s = ctr.status;
  const state = criContainerState(s);
  let reason = s.reason;
  if (state === "CONTAINER_EXITED" && reason === "") {
    reason = s.exitCode === 0 ? completeExitReason : errorExitReason;
  }
  return {
    id: ctr.id,
    ...(config.metadata ? { metadata: config.metadata } : {}),
    state: ContainerState[state],
    createdAt: s.createdAt,
    startedAt: s.startedAt,
    finishedAt: s.finishedAt,
    exitCode: s.exitCode,
    image: { image },
    imageRef,
    reason,
    message: s.message,
    labels: config.labels,
    annotations: config.annotations,
    mounts: config.mounts,
    logPath: ctr.metadata.logPath,
    resources: { linux: criResources(ctr.spec) },
  };
}

/** The resources in effect, from the spec (containerd 1.6.20 reports them this way). */
function criResources(spec: Spec): MessageInitShape<typeof LinuxContainerResourcesSchema> {
  const r = spec.linux?.resources;
  return {
    cpuPeriod: BigInt(r?.cpu?.period ?? 0),
    cpuQuota: BigInt(r?.cpu?.quota ?? 0),
    cpuShares: BigInt(r?.cpu?.shares ?? 0),
    memoryLimitInBytes: BigInt(r?.memory?.limit ?? 0),
    oomScoreAdj: BigInt(spec.process?.oomScoreAdj ?? 0),
    cpusetCpus: r?.cpu?.cpus ?? "",
    cpusetMems: r?.cpu?.mems ?? "",
    hugepageLimits: (r?.hugepageLimits ?? []).map((h) => ({ pageSize: h.pageSize, limit: BigInt(h.limit) })),
    unified: r?.unified ?? {},
    memorySwapLimitInBytes: BigInt(r?.memory?.swap ?? 0),
  };
}

async function containerInfo(c: CriService, ctr: CriContainer): Promise<Record<string, unknown>> {
  const record = await c.containers.get(CriNamespace, ctr.id).catch(() => undefined);
  return {
    sandboxID: ctr.metadata.sandboxId,
    pid: ctr.status.pid,
    removing: ctr.status.removing,
    snapshotKey: record?.snapshotKey ?? "",
    snapshotter: record?.snapshotter ?? "",
    runtimeType: "io.containerd.runc.v2",
    runtimeOptions: null,
    config: toJson(ContainerConfigSchema, ctr.metadata.config, { useProtoFieldName: true }),
    runtimeSpec: ctr.spec,
  };
}
