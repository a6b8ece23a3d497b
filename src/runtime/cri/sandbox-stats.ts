// criService.PodSandboxStats and ListPodSandboxStats, after containerd's
// pkg/cri/server/sandbox_stats_linux.go and sandbox_stats_list.go: the pod's cgroup parent,
// eth0 of its network namespace (read through the infra process), and its containers.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  ListPodSandboxStatsRequest,
  ListPodSandboxStatsResponseSchema,
  PodSandboxStatsRequest,
  PodSandboxStatsResponseSchema,
  PodSandboxStatsSchema,
} from "../../cri/gen/runtime/v1/api_pb.js";
import { BerthError } from "../../lib/errdefs.js";
import { readCgroupStats } from "./cgroup-stats.js";
import { containerStatsInput } from "./container-stats.js";
import { matchesLabels } from "./filters.js";
import { readNetworkStats } from "./network-stats.js";
import type { CriService } from "./service.js";
import { podSandboxStatsOf } from "./stats.js";
import type { Sandbox } from "./store/sandbox.js";

export async function podSandboxStats(
  c: CriService,
  req: PodSandboxStatsRequest,
): Promise<MessageInitShape<typeof PodSandboxStatsResponseSchema>> {
  const { podSandboxId: id } = req;
  const sandbox = c.getSandbox(id, `an error occurred when trying to find sandbox ${id}`);
  return { stats: await sandboxStats(c, sandbox) };
}

/**
 * Every ready pod matching the filter. containerd fails the whole unfiltered call when one
 * pod is not ready; berth skips such pods as containerd's filtered path does, since a pod
 * that is stopping must not hide the stats of all the others.
 */
export async function listPodSandboxStats(
  c: CriService,
  req: ListPodSandboxStatsRequest,
): Promise<MessageInitShape<typeof ListPodSandboxStatsResponseSchema>> {
  const f = req.filter;
  let sandboxes = f?.id ? c.sandboxStore.filterById(f.id) : c.sandboxStore.list();
  if (f?.labelSelector)
    sandboxes = sandboxes.filter((s) => matchesLabels(s.metadata.config.labels, f.labelSelector));
  sandboxes = sandboxes.filter((s) => s.state === "ready");
  return { stats: await Promise.all(sandboxes.map((s) => sandboxStats(c, s))) };
}

async function sandboxStats(
  c: CriService,
  s: Sandbox,
): Promise<MessageInitShape<typeof PodSandboxStatsSchema>> {
  if (s.state !== "ready") {
    throw new BerthError(
      "Unknown",
      `failed to decode sandbox container metrics for sandbox "${s.id}": sandbox is not in ready state`,
    );
  }
  const { cgroupsPath, netnsPath, config } = s.metadata;
  const cgroupParent = config.linux?.cgroupParent ?? "";
  if (!cgroupParent)
    throw new BerthError("Unknown", `failed to get cgroup metrics for sandbox "${s.id}": no cgroup parent`);
  const cgroup = await readCgroupStats(cgroupParent);
  if (!cgroup)
    throw new BerthError(
      "Unknown",
      `failed to get cgroup metrics for sandbox "${s.id}": cgroup ${cgroupsPath} is gone`,
    );
  const network = netnsPath ? ((await readNetworkStats(netnsPath, s.pid)) ?? []) : undefined;
  const containers = await Promise.all(c.containersOf(s.id).map((ctr) => containerStatsInput(c, ctr, true)));
  return podSandboxStatsOf(
    {
      attributes: {
        id: s.id,
        ...(config.metadata ? { metadata: config.metadata } : {}),
        labels: config.labels,
        annotations: config.annotations,
      },
      cgroup,
      ...(network ? { network } : {}),
      containers,
    },
    c.imageFsPath,
    c.usageNanoCores,
  );
}
