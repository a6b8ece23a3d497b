// criService.ContainerStats and ListContainerStats, after containerd's
// pkg/cri/server/container_stats.go and container_stats_list.go: cpu and memory from the
// cgroup of each container whose task runs, the writable layer as the snapshot syncer last
// measured it (stats.ts builds the messages).
import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  ContainerStatsRequest,
  ContainerStatsResponseSchema,
  ListContainerStatsRequest,
  ListContainerStatsResponseSchema,
} from "../../cri/gen/runtime/v1/api_pb.js";
import { BerthError } from "../../lib/errdefs.js";
import { readCgroupStats } from "./cgroup-stats.js";
import { criContainerState } from "./container-status.js";
import { matchesLabels } from "./filters.js";
import type { CriService } from "./service.js";
import { type ContainerStatsInput, containerStatsOf } from "./stats.js";
import type { CriContainer } from "./store/container.js";

export async function containerStats(
  c: CriService,
  req: ContainerStatsRequest,
): Promise<MessageInitShape<typeof ContainerStatsResponseSchema>> {
  const ctr = c.getContainer(req.containerId, "failed to find container");
  const input = await containerStatsInput(c, ctr);
  if (!input.cgroup) throw new BerthError("Unknown", "unexpected metrics response: []");
  return { stats: containerStatsOf(input, c.imageFsPath, c.usageNanoCores) };
}

export async function listContainerStats(
  c: CriService,
  req: ListContainerStatsRequest,
): Promise<MessageInitShape<typeof ListContainerStatsResponseSchema>> {
  const f = req.filter;
  let containers = f?.id ? c.containerStore.filterById(f.id) : c.containerStore.list();
  if (f?.podSandboxId) {
    const ids = new Set(c.sandboxStore.filterById(f.podSandboxId).map((s) => s.id));
    containers = containers.filter((x) => ids.has(x.metadata.sandboxId));
  }
  if (f?.labelSelector)
    containers = containers.filter((x) => matchesLabels(x.metadata.config.labels, f.labelSelector));
  const inputs = await Promise.all(containers.map((ctr) => containerStatsInput(c, ctr)));
  return { stats: inputs.map((i) => containerStatsOf(i, c.imageFsPath, c.usageNanoCores)) };
}

/** What stats.ts needs of one container; `processes` counts its processes too (for pod stats). */
export async function containerStatsInput(
  c: CriService,
  ctr: CriContainer,
  processes = false,
): Promise<ContainerStatsInput> {
  const { config } = ctr.metadata;
  const running = criContainerState(ctr.status) === "CONTAINER_RUNNING";
  const cgroupsPath = ctr.spec.linux?.cgroupsPath ?? "";
  const cgroup = running && cgroupsPath ? await readCgroupStats(cgroupsPath, { processes }) : undefined;
  const writableLayer = c.layerUsage.get(ctr.id);
  return {
    attributes: {
      id: ctr.id,
      ...(config.metadata ? { metadata: config.metadata } : {}),
      labels: config.labels,
      annotations: config.annotations,
    },
    ...(cgroup ? { cgroup } : {}),
    ...(writableLayer ? { writableLayer } : {}),
  };
}
