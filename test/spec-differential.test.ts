// Differential test of the OCI runtime specs: containerd 1.6.20 runs pods and creates containers
// through its CRI, and berth's sandboxSpec/containerSpec get the same configs (the same ids, pids,
// netns and image) and must produce the same spec, field for field. containerd's spec is the
// bundle's config.json for what was started, and its container record for what cannot start
// here. Only the paths of the pod's files (berth makes its own, and compares their content) and
// the random names of image volume directories are normalised.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createReadStream } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  type ContainerConfig,
  ContainerConfigSchema,
  MountPropagation,
  NamespaceMode,
  type PodSandboxConfig,
  PodSandboxConfigSchema,
  SecurityProfile_ProfileType,
} from "../src/cri/gen/runtime/v1/api_pb.js";
import { newRemoteImageService } from "../src/cri/remote-image.js";
import { newRemoteRuntimeService, type RuntimeServiceClient } from "../src/cri/remote-runtime.js";
import { type CriConnection, dialCri } from "../src/cri/transport.js";
import { kindOf, messageOf } from "../src/lib/errdefs.js";
import { newLogger } from "../src/lib/log.js";
import { isMountPoint, mountAll, unmountAll } from "../src/lib/mount/mount.js";
import type { BuiltImage } from "../src/local-images/oci-image-builder.js";
import type { Spec } from "../src/runc/oci-spec.js";
import { applyLayer } from "../src/runtime/archive/apply.js";
import { decompressStream } from "../src/runtime/archive/decompress.js";
import { containerSpec } from "../src/runtime/cri/container-spec.js";
import {
  type SandboxFiles,
  setupSandboxFiles,
  unmountSandboxFiles,
} from "../src/runtime/cri/sandbox-files.js";
import { sandboxSpec } from "../src/runtime/cri/sandbox-spec.js";
import type { ImageConfig } from "../src/runtime/images/oci.js";
import { removeCgroup } from "../src/testenv/cgroups.js";
import { type Containerd, startContainerd } from "../src/testenv/containerd/containerd.js";
import { buildLayeredImage } from "../src/testenv/images.js";
import { type RegistryWithTestImages, startRegistryWithTestImages } from "../src/testenv/registry.js";

// The plain-object forms of the configs (not the decoded messages), which spread.
type PodInit = Exclude<MessageInitShape<typeof PodSandboxConfigSchema>, PodSandboxConfig>;
type CtrConfig = Exclude<MessageInitShape<typeof ContainerConfigSchema>, ContainerConfig>;

interface TestImage {
  ref: string;
  config: ImageConfig["config"];
  rootfs: string;
}

let dir: string;
let shared: string;
let reg: RegistryWithTestImages;
let ctrd: Containerd;
let conn: CriConnection;
let rt: RuntimeServiceClient;
let busybox: TestImage;
let pause: TestImage;
let layered: TestImage;
const berthFiles: SandboxFiles[] = [];
const rootfsMounts: string[] = [];
const pods: string[] = [];

/** The image's layers, each in its own directory as the overlay snapshotter keeps them, stacked read-only. */
async function unpack(image: BuiltImage, ref: string): Promise<TestImage> {
  const blob = (digest: string) => join(image.layoutDir, "blobs", "sha256", digest.replace(/^sha256:/, ""));
  const config = JSON.parse(await readFile(blob(image.configDigest), "utf8")) as ImageConfig;
  const layers: string[] = [];
  for (const [i, digest] of image.layerDigests.entries()) {
    const layer = join(dir, "layers", image.name, String(i));
    await mkdir(layer, { recursive: true });
    const { stream } = await decompressStream(createReadStream(blob(digest)));
    await applyLayer(layer, stream, { log: newLogger("error"), parents: [...layers].reverse() });
    layers.push(layer);
  }
  if (layers.length === 1) return { ref, config: config.config, rootfs: layers[0] as string };
  const rootfs = join(dir, "rootfs", image.name);
  await mkdir(rootfs, { recursive: true });
  const lowerdir = [...layers].reverse().join(":");
  await mountAll(
    [{ type: "overlay", source: "berth-spec-diff", options: ["ro", `lowerdir=${lowerdir}`] }],
    rootfs,
  );
  rootfsMounts.push(rootfs);
  return { ref, config: config.config, rootfs };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "berth-spec-diff-"));
  // A shared mount, for bidirectional and host-to-container propagation.
  shared = join(dir, "shared");
  await mkdir(shared);
  execFileSync("mount", ["-t", "tmpfs", "berth-spec-diff", shared]);
  execFileSync("mount", ["--make-shared", shared]);
  await mkdir(join(shared, "a"));
  await mkdir(join(shared, "b"));
  await writeFile(
    join(dir, "profile.json"),
    JSON.stringify({
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [{ names: ["acct"], action: "SCMP_ACT_ERRNO" }],
    }),
  );
  reg = await startRegistryWithTestImages();
  const layeredImage = await buildLayeredImage(join(dir, "images"));
  const layeredRef = (await reg.registry.push(layeredImage, "berth/layered", "v1")).ref;
  ctrd = await startContainerd({ sandboxImage: reg.pause.ref, registryHosts: [reg.registry.host] });
  conn = dialCri(ctrd.endpoint);
  rt = newRemoteRuntimeService(conn);
  const images = newRemoteImageService(conn);
  for (const image of [reg.busybox.ref, layeredRef]) await images.pullImage({ image: { image } });
  busybox = await unpack(reg.busybox.image, reg.busybox.ref);
  pause = await unpack(reg.pause.image, reg.pause.ref);
  layered = await unpack(layeredImage, layeredRef);
});

after(async () => {
  for (const podSandboxId of pods) {
    await rt?.stopPodSandbox({ podSandboxId });
    await rt?.removePodSandbox({ podSandboxId });
  }
  for (const f of berthFiles) await unmountSandboxFiles(f);
  for (const m of rootfsMounts) await unmountAll(m);
  conn?.close();
  await ctrd?.stop();
  if (ctrd) assert.deepEqual(await ctrd.leftovers(), []);
  // The cgroup parents the pods named: containerd makes them and leaves them.
  await removeCgroup("/berth-spec-diff/podres");
  await removeCgroup("/berth-spec-diff");
  await reg?.registry.stop();
  if (shared) execFileSync("umount", [shared]);
  if (dir) {
    assert.ok(!(await readFile("/proc/mounts", "utf8")).includes(dir), "a mount is left under the test dir");
    await rm(dir, { recursive: true, force: true });
  }
});

const criDir = "io.containerd.grpc.v1.cri";
const ctrdSandboxRoot = (id: string) => join(ctrd.root, criDir, "sandboxes", id);
const ctrdSandboxState = (id: string) => join(ctrd.state, criDir, "sandboxes", id);
const bundleSpec = async (id: string) =>
  JSON.parse(
    await readFile(join(ctrd.state, "io.containerd.runtime.v2.task", "k8s.io", id, "config.json"), "utf8"),
  );

/** A spec as containerd stores it: JSON, with berth's paths swapped for containerd's. */
function normalise(spec: Spec | unknown, paths: [string, string][]): unknown {
  let text = JSON.stringify(spec);
  for (const [from, to] of paths) text = text.split(from).join(to);
  return JSON.parse(text.replace(/\/volumes\/[0-9a-f]{64}/g, "/volumes/<id>"));
}

interface Pod {
  id: string;
  config: PodSandboxConfig;
  pid: number;
  files: SandboxFiles;
  paths: [string, string][];
}

/** Runs the pod on containerd and builds berth's sandbox spec for it; both specs must match. */
async function runPod(name: string, config: Omit<PodInit, "metadata">): Promise<Pod> {
  const full = create(PodSandboxConfigSchema, {
    metadata: { name, uid: `uid-${name}`, namespace: "spec-diff", attempt: 0 },
    logDirectory: join(dir, "logs", name),
    ...config,
  });
  const { podSandboxId: id } = await rt.runPodSandbox({ config: full });
  pods.push(id);
  const status = await rt.podSandboxStatus({ podSandboxId: id, verbose: true });
  const info = JSON.parse(status.info.info ?? "{}") as { pid: number; runtimeSpec: Spec };
  const expected = await bundleSpec(id);
  const netns = (expected as Spec).linux?.namespaces?.find((n) => n.type === "network")?.path ?? "";

  const rootDir = join(dir, "sandboxes", id, "root");
  const stateDir = join(dir, "sandboxes", id, "state");
  await mkdir(rootDir, { recursive: true });
  await mkdir(stateDir, { recursive: true });
  const files = await setupSandboxFiles(id, full, { rootDir, stateDir });
  berthFiles.push(files);
  for (const f of ["hostname", "hosts", "resolv.conf"]) {
    assert.equal(
      await readFile(join(rootDir, f), "utf8"),
      await readFile(join(ctrdSandboxRoot(id), f), "utf8"),
      `${name}: ${f}`,
    );
  }
  if (files.shm !== "") {
    assert.equal(await isMountPoint(files.shm), true);
    assert.equal(mountOptions(files.shm), mountOptions(join(ctrdSandboxState(id), "shm")));
  }
  const paths: [string, string][] = [
    [rootDir, ctrdSandboxRoot(id)],
    [stateDir, ctrdSandboxState(id)],
  ];
  const parent = full.linux?.cgroupParent ?? "";
  const spec = await sandboxSpec({
    id,
    config: full,
    imageConfig: pause.config,
    netnsPath: netns,
    files,
    cgroupsPath: parent ? join(parent, id) : "",
    restrictOomScoreAdj: true,
    withRootfs: (fn) => fn(pause.rootfs),
  });
  assert.deepEqual(normalise(spec, paths), expected, `${name}: sandbox spec`);
  assert.deepEqual(info.runtimeSpec, expected);
  return { id, config: full, pid: info.pid, files, paths };
}

/** The mount options of what is mounted on `path`, as mountinfo shows them. */
function mountOptions(path: string): string {
  const line = execFileSync("findmnt", ["-n", "-o", "FSTYPE,OPTIONS", "--mountpoint", path], {
    encoding: "utf8",
  });
  return line.trim();
}

interface CtrCase {
  config: CtrConfig;
  image?: TestImage;
  /** Start it (running `sleep` unless the config has a command), and compare with the bundle's config.json (otherwise containerd's record). */
  start?: boolean;
  /** Index of the earlier container whose pid namespace this one targets. */
  target?: number;
}

/** Creates each container on containerd and through containerSpec; specs (or errors) must match. */
async function checkContainers(pod: Pod, cases: CtrCase[]): Promise<void> {
  const pids: number[] = [];
  const ids: string[] = [];
  for (const [n, c] of cases.entries()) {
    const image = c.image ?? busybox;
    const target =
      c.target === undefined ? undefined : { id: ids[c.target] as string, pid: pids[c.target] as number };
    // A started container must outlive the reading of its bundle: containerd deletes an exited task's.
    const command = c.start && !c.config.command ? { command: ["sleep", "600"] } : {};
    const config = create(ContainerConfigSchema, {
      metadata: { name: `c${n}` },
      image: { image: image.ref },
      ...command,
      ...c.config,
    });
    const ns = config.linux?.securityContext?.namespaceOptions;
    if (target && ns) ns.targetId = target.id;
    const id = `spec-diff-${pod.config.metadata?.name}-${n}`;
    const created = await rt
      .createContainer({ podSandboxId: pod.id, config, sandboxConfig: pod.config })
      .then(
        (r) => r.containerId,
        (err: unknown) => err as Error,
      );
    if (created instanceof Error) {
      ids.push("");
      pids.push(0);
      const berthErr = await containerSpec(input(pod, id, config, image, join(dir, "containers", id))).then(
        () => assert.fail(`${id}: berth accepted what containerd refused: ${messageOf(created)}`),
        (e: unknown) => e,
      );
      // containerd's message nests the same cause under other steps: compare the innermost.
      const cause = messageOf(created).split(": ").at(-1) as string;
      assert.ok(
        messageOf(berthErr).endsWith(cause),
        `${id}: "${messageOf(berthErr)}" vs containerd's "${cause}"`,
      );
      assert.equal(kindOf(berthErr), kindOf(created));
      continue;
    }
    ids.push(created);
    let expected: unknown;
    if (c.start) {
      await rt.startContainer({ containerId: created });
      const st = await rt.containerStatus({ containerId: created, verbose: true });
      pids.push((JSON.parse(st.info.info ?? "{}") as { pid: number }).pid);
      expected = await bundleSpec(created);
    } else {
      pids.push(0);
      expected = JSON.parse(await ctrd.ctr(["-n", "k8s.io", "containers", "info", created])).Spec;
    }
    // berth builds the spec for containerd's id, so that every path and annotation matches.
    const rootDir = join(dir, "containers", created);
    await mkdir(rootDir, { recursive: true });
    const spec = await containerSpec(input(pod, created, config, image, rootDir, target?.pid));
    const paths: [string, string][] = [
      ...pod.paths,
      [rootDir, join(ctrd.root, criDir, "containers", created)],
    ];
    assert.deepEqual(normalise(spec, paths), normalise(expected, []), `${id}: container spec`);
  }
}

function input(
  pod: Pod,
  id: string,
  config: ContainerConfig,
  image: TestImage,
  rootDir: string,
  targetPid?: number,
) {
  return {
    id,
    sandboxId: pod.id,
    sandboxPid: pod.pid,
    ...(targetPid ? { targetPid } : {}),
    config,
    sandboxConfig: pod.config,
    imageName: image.ref,
    imageConfig: image.config,
    netnsPath: "",
    files: pod.files,
    cgroupsPath: pod.config.linux?.cgroupParent ? join(pod.config.linux.cgroupParent, id) : "",
    rootDir,
    restrictOomScoreAdj: true,
    withRootfs: <T>(fn: (root: string) => Promise<T>) => fn(image.rootfs),
  };
}

const { RuntimeDefault, Unconfined, Localhost } = SecurityProfile_ProfileType;

describe("sandbox and container specs equal containerd 1.6.20's", () => {
  test("plain busybox", async () => {
    const pod = await runPod("plain", {});
    await checkContainers(pod, [{ config: {} }, { config: {}, start: true }]);
  });

  test("resources, user, read-only rootfs, capabilities, mounts with propagation, devices, tty", async () => {
    const pod = await runPod("res", {
      hostname: "spec-diff-host",
      dnsConfig: { servers: ["10.0.0.10", "10.0.0.11"], searches: ["a.svc", "svc"], options: ["ndots:5"] },
      annotations: { "pod.example/a": "x" },
      linux: {
        cgroupParent: "/berth-spec-diff/podres",
        sysctls: { "kernel.shm_rmid_forced": "1", "net.ipv4.ip_local_port_range": "1024 65000" },
        resources: { cpuPeriod: 100000n, cpuQuota: 20000n, cpuShares: 256n, memoryLimitInBytes: 33554432n },
        securityContext: {
          runAsUser: { value: 1234n },
          runAsGroup: { value: 99n },
          supplementalGroups: [7n, 8n],
          seccompProfilePath: "unconfined",
        },
      },
    });
    await checkContainers(pod, [
      {
        config: {
          command: ["/bin/sh"],
          args: ["-c", "sleep 1"],
          workingDir: "/tmp",
          tty: true,
          envs: [
            { key: "A", value: "1" },
            { key: "PATH", value: "/bin" },
            { key: "A", value: "2" },
          ],
          annotations: { "ctr.example/b": "y" },
          mounts: [
            { containerPath: "/mnt/priv", hostPath: join(dir, "privdir"), readonly: true },
            {
              containerPath: "/mnt/b",
              hostPath: join(shared, "b"),
              propagation: MountPropagation.PROPAGATION_BIDIRECTIONAL,
            },
            {
              containerPath: "/mnt/a/x",
              hostPath: join(shared, "a"),
              propagation: MountPropagation.PROPAGATION_HOST_TO_CONTAINER,
            },
            { containerPath: "/etc/hosts", hostPath: "/etc/hosts", readonly: true },
          ],
          devices: [{ containerPath: "/dev/xnull", hostPath: "/dev/null", permissions: "rw" }],
          linux: {
            resources: {
              cpuPeriod: 100000n,
              cpuQuota: 50000n,
              cpuShares: 512n,
              memoryLimitInBytes: 67108864n,
              oomScoreAdj: 500n,
              cpusetCpus: "0",
              cpusetMems: "0",
              hugepageLimits: [{ pageSize: "2MB", limit: 0n }],
              unified: { "memory.high": "60000000" },
            },
            securityContext: {
              runAsUser: { value: 1000n },
              runAsGroup: { value: 100n },
              supplementalGroups: [4242n, 1n],
              readonlyRootfs: true,
              noNewPrivs: true,
              maskedPaths: ["/proc/kcore", "/x"],
              readonlyPaths: ["/proc/sys"],
              capabilities: {
                addCapabilities: ["NET_ADMIN", "sys_time"],
                dropCapabilities: ["chown", "KILL"],
              },
              seccomp: { profileType: RuntimeDefault },
            },
          },
        },
      },
    ]);
  });

  test("privileged container in a privileged sandbox", async () => {
    const pod = await runPod("priv", { linux: { securityContext: { privileged: true } } });
    await checkContainers(pod, [
      { config: { linux: { securityContext: { privileged: true } } }, start: true },
    ]);
  });

  test("seccomp RuntimeDefault, Unconfined, Localhost and the deprecated strings", async () => {
    const profile = join(dir, "profile.json");
    const pod = await runPod("seccomp", {
      linux: { securityContext: { seccomp: { profileType: RuntimeDefault } } },
    });
    const sc = (securityContext: NonNullable<NonNullable<CtrConfig["linux"]>["securityContext"]>) => ({
      config: { linux: { securityContext } },
      start: true,
    });
    await checkContainers(pod, [
      sc({ seccomp: { profileType: RuntimeDefault } }),
      sc({ seccomp: { profileType: Unconfined } }),
      sc({ seccomp: { profileType: Localhost, localhostRef: profile } }),
      sc({
        seccompProfilePath: "docker/default",
        capabilities: { addCapabilities: ["ALL"], dropCapabilities: ["NET_RAW"] },
      }),
      sc({ seccompProfilePath: `localhost/${profile}` }),
      sc({
        seccompProfilePath: "runtime/default",
        capabilities: { dropCapabilities: ["ALL"], addCapabilities: ["CHOWN"] },
      }),
    ]);
  });

  test("run_as_username and run_as_user resolved in the image", async () => {
    const pod = await runPod("user", { linux: { securityContext: { runAsUser: { value: 0n } } } });
    const sc = (securityContext: NonNullable<NonNullable<CtrConfig["linux"]>["securityContext"]>) => ({
      config: { linux: { resources: { oomScoreAdj: -5n }, securityContext } },
      start: true,
    });
    await checkContainers(pod, [
      sc({ runAsUsername: "berth" }),
      sc({ runAsUsername: "berth", runAsGroup: { value: 5n }, supplementalGroups: [77n] }),
      sc({ runAsUser: { value: 1000n } }),
      sc({ runAsUser: { value: 4321n } }),
      sc({ supplementalGroups: [77n, 3n] }),
    ]);
  });

  test("host namespaces", async () => {
    const nodeNs = { network: NamespaceMode.NODE, pid: NamespaceMode.NODE, ipc: NamespaceMode.NODE };
    const pod = await runPod("hostns", { linux: { securityContext: { namespaceOptions: nodeNs } } });
    await checkContainers(pod, [
      { config: { linux: { securityContext: { namespaceOptions: nodeNs } } }, start: true },
    ]);
  });

  test("pid namespace per container and shared with a target", async () => {
    const pod = await runPod("pidns", {});
    await checkContainers(pod, [
      {
        config: {
          command: ["sleep", "600"],
          linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.CONTAINER } } },
        },
        start: true,
      },
      {
        config: { linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.TARGET } } } },
        target: 0,
      },
    ]);
  });

  test("image volumes, working dir and env of another image", async () => {
    const pod = await runPod("layered", {});
    await checkContainers(pod, [
      { config: { linux: { securityContext: { runAsUser: { value: 0n } } } }, image: layered },
      {
        config: {
          mounts: [{ containerPath: "/srv/data", hostPath: join(dir, "srv-data") }],
          linux: { securityContext: { runAsUser: { value: 0n } } },
        },
        image: layered,
      },
    ]);
  });

  test("the same errors", async () => {
    const pod = await runPod("errors", {});
    const sc = (securityContext: NonNullable<NonNullable<CtrConfig["linux"]>["securityContext"]>) => ({
      config: { linux: { securityContext } },
    });
    await checkContainers(pod, [
      sc({ privileged: true }),
      sc({ apparmor: { profileType: RuntimeDefault } }),
      sc({ apparmorProfile: "runtime/default" }),
      sc({ seccompProfilePath: "bogus" }),
      sc({ runAsUsername: "nosuch" }),
      sc({ runAsGroup: { value: 5n } }),
      { config: { linux: { securityContext: { runAsUsername: "berth" } } }, image: layered },
    ]);
  });
});
