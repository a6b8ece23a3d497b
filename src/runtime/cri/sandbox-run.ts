// criService.RunPodSandbox, after containerd's pkg/cri/server/sandbox_run.go: reserve the
// name, make sure the sandbox image is here, create the network namespace and attach it
// to the pod network (CNI), write the pod's hostname/hosts/resolv.conf and mount its
// /dev/shm, create the infra ("pause") container from the sandbox image and start its
// task. Every step made is undone if a later one fails.
import { randomBytes } from "node:crypto";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  type PortMapping as CriPortMapping,
  type DNSConfig,
  NamespaceMode,
  type PodSandboxMetadata,
  type RunPodSandboxRequest,
  type RunPodSandboxResponseSchema,
} from "../../cri/gen/runtime/v1/api_pb.js";
import { nowNs } from "../../lib/clock.js";
import { BerthError, wrap } from "../../lib/errdefs.js";
import { Undo } from "../../lib/undo.js";
import type { CapabilityArgs, PortMapping, SetupResult } from "../cni/cni.js";
import { toCniLabels } from "../cni/labels.js";
import { newNetNS, removeNetNS } from "../netns/netns.js";
import { ensureImage } from "./image-ensure.js";
import { CriNamespace } from "./image-store.js";
import { setupSandboxFiles, unmountSandboxFiles } from "./sandbox-files.js";
import { sandboxSpec } from "./sandbox-spec.js";
import type { CriService } from "./service.js";
import {
  encodeSandboxMetadata,
  type Sandbox,
  type SandboxMetadata,
  SandboxMetadataExtension,
} from "./store/sandbox.js";

/** containerd's labels on the records it makes for CRI: what kind of container this is. */
export const ContainerKindLabel = "io.cri-containerd.kind";
export const ContainerKindSandbox = "sandbox";
export const ContainerKindContainer = "container";
/** The runtime handlers berth serves: the default, and runc by its name. */
const RuntimeHandlers = ["", "runc"];

export async function runPodSandbox(
  c: CriService,
  req: RunPodSandboxRequest,
): Promise<MessageInitShape<typeof RunPodSandboxResponseSchema>> {
  const config = req.config;
  const metadata = config?.metadata;
  if (!config || !metadata) throw new BerthError("Unknown", "sandbox config must include metadata");
  if (!RuntimeHandlers.includes(req.runtimeHandler)) {
    throw new BerthError(
      "Unknown",
      `failed to get sandbox runtime: no runtime for "${req.runtimeHandler}" is configured`,
    );
  }
  const id = randomBytes(32).toString("hex");
  const name = makeSandboxName(metadata);
  const log = c.log.child({ sandbox: id, pod: name });
  try {
    c.sandboxNames.reserve(name, id);
  } catch (err) {
    throw wrap(err, `failed to reserve sandbox name "${name}"`);
  }
  const undo = new Undo(log, { sandbox: id });
  let network: Promise<SetupResult> | undefined;
  undo.push("release name", () => c.sandboxNames.releaseByName(name));
  try {
    const image = await ensureImage(c, c.config.sandboxImage).catch((err) => {
      throw wrap(err, `failed to get sandbox image "${c.config.sandboxImage}"`);
    });
    const hostNetwork = config.linux?.securityContext?.namespaceOptions?.network === NamespaceMode.NODE;
    const createNetwork = async (): Promise<string> => {
      if (hostNetwork) return "";
      const path = await newNetNS(c.netnsDir).catch((err) => {
        throw wrap(err, "failed to create network namespace for sandbox");
      });
      undo.push("remove netns", () => removeNetNS(path));
      const cniOpts = {
        labels: toCniLabels(id, metadata),
        capabilityArgs: capabilityArgs(config.portMappings, config.dnsConfig),
      };
      undo.push("teardown pod network", () => c.cni.remove(id, path, cniOpts));
      // The plugins need only the namespace: they run while the infra container is made,
      // which containerd does one after the other. The undo waits for them first.
      network = c.cni.setup(id, path, cniOpts);
      network.catch(() => {});
      return path;
    };
    const createFiles = async () => {
      const rootDir = c.sandboxRootDir(id);
      const stateDir = c.sandboxStateDir(id);
      await mkdir(rootDir, { recursive: true, mode: 0o755 });
      undo.push("remove sandbox root dir", () => rm(rootDir, { recursive: true, force: true }));
      await mkdir(stateDir, { recursive: true, mode: 0o755 });
      undo.push("remove sandbox state dir", () => rm(stateDir, { recursive: true, force: true }));
      const made = await setupSandboxFiles(id, config, { rootDir, stateDir });
      undo.push("unmount sandbox files", () => unmountSandboxFiles(made));
      return made;
    };
    const rootfs = { id, snapshotter: c.config.snapshotter, snapshotKey: id };
    const createRootfs = async () => {
      await c.snapshotter.prepare(CriNamespace, id, image.chainId);
      undo.push("remove snapshot", () => c.snapshotter.remove(CriNamespace, id));
      undo.push("unmount rootfs", () => c.tasks.delete(CriNamespace, id));
      await c.tasks.mountRootfs(CriNamespace, rootfs);
    };
    // The namespace, the pod's files and the rootfs do not depend on each other.
    const [netnsPath, files] = await settleAll([createNetwork(), createFiles(), createRootfs()] as const);
    const cgroupParent = config.linux?.cgroupParent ?? "";
    const cgroupsPath = cgroupParent ? join(cgroupParent, id) : "";
    const spec = await sandboxSpec({
      withRootfs: async (fn) => fn(await c.tasks.mountRootfs(CriNamespace, rootfs)),
      id,
      config,
      imageConfig: image.config.config,
      netnsPath,
      files,
      cgroupsPath,
      restrictOomScoreAdj: c.config.restrictOomScoreAdj,
    });
    const meta: SandboxMetadata = {
      id,
      name,
      config,
      netnsPath,
      ip: "",
      additionalIps: [],
      runtimeHandler: req.runtimeHandler,
      files,
      cgroupsPath,
      createdAt: nowNs(),
    };
    await c.containers.create(CriNamespace, {
      id,
      labels: { ...config.labels, [ContainerKindLabel]: ContainerKindSandbox },
      image: image.references[0] ?? image.id,
      spec,
      snapshotter: c.config.snapshotter,
      snapshotKey: id,
      extensions: { [SandboxMetadataExtension]: encodeSandboxMetadata(meta) },
    });
    undo.push("delete container record", () => c.containers.delete(CriNamespace, id));

    const created = await c.tasks.create(CriNamespace, await c.containers.get(CriNamespace, id), {
      logPath: "/dev/null",
      name,
      infra: true,
    });
    undo.push("delete task", () => c.tasks.delete(CriNamespace, id));
    await c.tasks.start(id);
    if (network) {
      const cniResult = await network.catch((err) => {
        throw wrap(err, `failed to setup network for sandbox "${id}"`);
      });
      [meta.ip = "", ...meta.additionalIps] = cniResult.ips.map((a) => a.ip);
      meta.cniResult = cniResult;
      await c.containers.update(CriNamespace, id, {
        extensions: { [SandboxMetadataExtension]: encodeSandboxMetadata(meta) },
      });
    }
    const sandbox: Sandbox = { id, metadata: meta, state: "ready", pid: created.pid };
    c.sandboxStore.add(sandbox);
    c.watchSandbox(sandbox);
    log.info({ ip: meta.ip }, "sandbox started");
    return { podSandboxId: id };
  } catch (err) {
    await network?.catch(() => {});
    await undo.run();
    throw wrap(err, `failed to run pod sandbox "${name}"`);
  }
}

/** Waits for every step, so that each has pushed its undo, then fails with the first failure. */
async function settleAll<T extends readonly unknown[]>(steps: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const results = await Promise.allSettled(steps);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/** containerd's makeSandboxName. */
export function makeSandboxName(m: PodSandboxMetadata): string {
  return [m.name, m.namespace, m.uid, String(m.attempt)].join("_");
}

/** go-cni's port mappings and DNS capability args from the pod's config. */
function capabilityArgs(ports: CriPortMapping[], dns: DNSConfig | undefined): CapabilityArgs {
  const portMappings: PortMapping[] = [];
  for (const p of ports) {
    // containerd drops mappings without a host port: CNI's portmap cannot express them.
    if (p.hostPort <= 0) continue;
    portMappings.push({
      hostPort: p.hostPort,
      containerPort: p.containerPort,
      protocol: (["tcp", "udp", "sctp"] as const)[p.protocol] ?? "tcp",
      ...(p.hostIp ? { hostIP: p.hostIp } : {}),
    });
  }
  return {
    portMappings,
    ...(dns ? { dns: { servers: dns.servers, searches: dns.searches, options: dns.options } } : {}),
  };
}
