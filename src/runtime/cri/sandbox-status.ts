// criService.PodSandboxStatus, after containerd's pkg/cri/server/sandbox_status.go: state,
// IPs and namespace options from the store; with verbose, what containerd's sandboxInfo
// carries, as JSON under "info".
import { type MessageInitShape, toJson } from "@bufbuild/protobuf";
import {
  PodSandboxConfigSchema,
  PodSandboxState,
  type PodSandboxStatusRequest,
  type PodSandboxStatusResponseSchema,
  type PodSandboxStatusSchema,
} from "../../cri/gen/runtime/v1/api_pb.js";
import type { SetupResult } from "../cni/cni.js";
import { netNSExists } from "../netns/netns.js";
import type { CriService } from "./service.js";
import type { Sandbox } from "./store/sandbox.js";

export async function podSandboxStatus(
  c: CriService,
  req: PodSandboxStatusRequest,
): Promise<MessageInitShape<typeof PodSandboxStatusResponseSchema>> {
  const sandbox = c.getSandbox(req.podSandboxId, "an error occurred when try to find sandbox");
  const status = toCriSandboxStatus(sandbox);
  if (!req.verbose) return { status };
  return { status, info: { info: JSON.stringify(await sandboxInfo(c, sandbox)) } };
}

export function criSandboxState(s: Sandbox): PodSandboxState {
  return s.state === "ready" ? PodSandboxState.SANDBOX_READY : PodSandboxState.SANDBOX_NOTREADY;
}

export function toCriSandboxStatus(s: Sandbox): MessageInitShape<typeof PodSandboxStatusSchema> {
  const { config } = s.metadata;
  return {
    id: s.id,
    ...(config.metadata ? { metadata: config.metadata } : {}),
    state: criSandboxState(s),
    createdAt: s.metadata.createdAt,
    // A stopped pod's addresses are released, so containerd reports none.
    network:
      s.state === "ready"
        ? { ip: s.metadata.ip, additionalIps: s.metadata.additionalIps.map((ip) => ({ ip })) }
        : { ip: "" },
    linux: { namespaces: { options: config.linux?.securityContext?.namespaceOptions ?? {} } },
    labels: config.labels,
    annotations: config.annotations,
    runtimeHandler: s.metadata.runtimeHandler,
  };
}

/** The result as containerd prints go-cni's Result: Go's field names. */
function goCniResult(r: SetupResult): Record<string, unknown> {
  const interfaces = Object.fromEntries(
    Object.entries(r.interfaces).map(([name, i]) => [
      name,
      {
        IPConfigs: i.ipConfigs.map((a) => ({ IP: a.ip, Gateway: a.gateway ?? "" })),
        Mac: i.mac ?? "",
        Sandbox: i.sandbox ?? "",
      },
    ]),
  );
  return { Interfaces: interfaces, DNS: r.dns, Routes: r.routes };
}

async function sandboxInfo(c: CriService, s: Sandbox): Promise<Record<string, unknown>> {
  const { netnsPath } = s.metadata;
  const container = await c.containers.get("k8s.io", s.id).catch(() => undefined);
  return {
    pid: s.pid,
    // A stopped sandbox's task is deleted, which containerd reports as "deleted".
    processStatus: s.state === "ready" ? "running" : "deleted",
    netNamespaceClosed: netnsPath === "" || !(await netNSExists(netnsPath)),
    image: container?.image ?? "",
    snapshotKey: container?.snapshotKey ?? "",
    snapshotter: container?.snapshotter ?? "",
    runtimeHandler: s.metadata.runtimeHandler,
    runtimeType: "io.containerd.runc.v2",
    runtimeOptions: null,
    config: toJson(PodSandboxConfigSchema, s.metadata.config, { useProtoFieldName: true }),
    runtimeSpec: container?.spec ?? null,
    cniResult: s.metadata.cniResult ? goCniResult(s.metadata.cniResult) : null,
  };
}
