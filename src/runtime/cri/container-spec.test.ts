import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  type ContainerConfig,
  ContainerConfigSchema,
  MountPropagation,
  NamespaceMode,
  PodSandboxConfigSchema,
} from "../../cri/gen/runtime/v1/api_pb.js";
import { kindOf } from "../../lib/errdefs.js";
import {
  type ContainerSpecInput,
  containerMounts,
  containerSpec,
  processArgs,
  volumeMounts,
} from "./container-spec.js";
import type { SandboxFiles } from "./sandbox-files.js";

let dir: string;
let rootfs: string;
const files: SandboxFiles = {
  hostname: "/sb/hostname",
  hosts: "/sb/hosts",
  resolvConf: "/sb/resolv.conf",
  shm: "/sb/shm",
};
type Init = Exclude<MessageInitShape<typeof ContainerConfigSchema>, ContainerConfig>;
const ctr = (init: Init) => create(ContainerConfigSchema, { metadata: { name: "c" }, ...init });

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "berth-container-spec-"));
  rootfs = join(dir, "rootfs");
  await mkdir(join(rootfs, "etc"), { recursive: true });
  await mkdir(join(rootfs, "data", "sub"), { recursive: true });
  await writeFile(join(rootfs, "data", "sub", "f"), "image content");
  await writeFile(join(rootfs, "etc", "passwd"), "root:x:0:0::/:/bin/sh\n");
  await writeFile(join(rootfs, "etc", "group"), "root:x:0:\nwheel:x:10:root\n");
});
after(() => rm(dir, { recursive: true, force: true }));

function input(config: Init, over: Partial<ContainerSpecInput> = {}): ContainerSpecInput {
  return {
    id: "c1",
    sandboxId: "sb1",
    sandboxPid: 1234,
    config: ctr(config),
    sandboxConfig: create(PodSandboxConfigSchema, { metadata: { name: "p", namespace: "ns", uid: "u" } }),
    imageName: "example/busybox:latest",
    imageConfig: { Cmd: ["sh"], Env: ["PATH=/img/bin", "IMG=1"] },
    netnsPath: "/run/netns/x",
    files,
    cgroupsPath: "",
    rootDir: join(dir, "containers", "c1"),
    restrictOomScoreAdj: false,
    withRootfs: (fn) => fn(rootfs),
    ...over,
  };
}

test("args: the CRI command replaces the entrypoint, args replace cmd, containerd's way", () => {
  const image = { Entrypoint: ["/ep"], Cmd: ["cmd"] };
  const cases: [string[], string[], string[]][] = [
    [[], [], ["/ep", "cmd"]],
    [[], ["a"], ["/ep", "a"]],
    [["/bin/x"], [], ["/bin/x"]],
    [["/bin/x"], ["a"], ["/bin/x", "a"]],
  ];
  for (const [command, args, want] of cases)
    assert.deepEqual(processArgs(ctr({ command, args }), image), want);
  assert.throws(
    () => processArgs(ctr({}), {}),
    (err: unknown) => /^no command specified$/.test((err as Error).message) && kindOf(err) === "Unknown",
  );
});

test("the pod's files are mounted unless the CRI mounts cover them; read-only with the rootfs", () => {
  const config = ctr({
    mounts: [{ containerPath: "/etc/hosts/", hostPath: "/mine" }],
    linux: { securityContext: { readonlyRootfs: true } },
  });
  assert.deepEqual(
    containerMounts(files, config).map((m) => [m.containerPath, m.hostPath, m.readonly]),
    [
      ["/etc/hostname", "/sb/hostname", true],
      ["/etc/resolv.conf", "/sb/resolv.conf", true],
      ["/dev/shm", "/sb/shm", false],
    ],
  );
  assert.equal(containerMounts({ ...files, shm: "" }, ctr({})).at(-1)?.hostPath, "/dev/shm");
});

test("each image volume not covered by a CRI mount gets its own directory", () => {
  const v = volumeMounts("/root/c1", ctr({ mounts: [{ containerPath: "/b", hostPath: "/x" }] }), {
    Volumes: { "/b": {}, "/a": {} },
  });
  assert.equal(v.length, 1);
  assert.equal(v[0]?.containerPath, "/a");
  assert.match(v[0]?.hostPath ?? "", /^\/root\/c1\/volumes\/[0-9a-f]{64}$/);
});

describe("containerSpec", () => {
  test("env: PATH default, TERM for a tty, HOSTNAME, then image and CRI env appended, not merged", async () => {
    const s = await containerSpec(
      input({
        tty: true,
        envs: [
          { key: "IMG", value: "2" },
          { key: "NEW", value: "x" },
        ],
      }),
    );
    // Only names already in the spec are replaced, so IMG appears twice; the later one wins in the process.
    assert.deepEqual(s.process?.env, [
      "PATH=/img/bin",
      "TERM=xterm",
      `HOSTNAME=${hostname()}`,
      "IMG=1",
      "IMG=2",
      "NEW=x",
    ]);
    assert.equal(s.process?.terminal, true);
    assert.equal(s.process?.noNewPrivileges, undefined);
    assert.deepEqual(s.process?.user, { uid: 0, gid: 0, additionalGids: [0, 10] });
  });

  test("mounts: sorted by depth, defaults they replace dropped, missing host dirs made", async () => {
    const host = join(dir, "made", "here");
    const s = await containerSpec(
      input({
        mounts: [
          { containerPath: "/a/b/c", hostPath: host, readonly: true },
          { containerPath: "/dev/mqueue", hostPath: host },
          { containerPath: "/z", hostPath: host },
        ],
      }),
    );
    assert.ok((await stat(host)).isDirectory());
    const dests = s.mounts?.map((m) => m.destination);
    assert.deepEqual(dests, [
      "/proc",
      "/dev",
      "/dev/pts",
      "/sys",
      "/sys/fs/cgroup",
      "/z",
      "/dev/mqueue",
      "/etc/hostname",
      "/etc/hosts",
      "/etc/resolv.conf",
      "/dev/shm",
      "/a/b/c",
    ]);
    assert.deepEqual(s.mounts?.at(-1), {
      destination: "/a/b/c",
      type: "bind",
      source: host,
      options: ["rbind", "rprivate", "ro"],
    });
    assert.equal(s.linux?.rootfsPropagation, undefined);
  });

  test("propagation needs a shared (or slave) host mount", async () => {
    for (const propagation of [
      MountPropagation.PROPAGATION_BIDIRECTIONAL,
      MountPropagation.PROPAGATION_HOST_TO_CONTAINER,
    ]) {
      await assert.rejects(
        containerSpec(input({ mounts: [{ containerPath: "/m", hostPath: dir, propagation }] })),
        /is mounted on "\/" but it is not a shared/,
      );
    }
  });

  test("namespaces are the sandbox's, pid per mode; oom, cgroup and annotations as containerd", async () => {
    const s = await containerSpec(
      input(
        {
          linux: {
            resources: { oomScoreAdj: 300n, cpuShares: 100n },
            securityContext: { namespaceOptions: { pid: NamespaceMode.TARGET } },
          },
        },
        { targetPid: 99, cgroupsPath: "/kubepods/c1" },
      ),
    );
    assert.deepEqual(s.linux?.namespaces, [
      { type: "pid", path: "/proc/99/ns/pid" },
      { type: "ipc", path: "/proc/1234/ns/ipc" },
      { type: "uts", path: "/proc/1234/ns/uts" },
      { type: "mount" },
      { type: "network", path: "/proc/1234/ns/net" },
    ]);
    assert.equal(s.process?.oomScoreAdj, 300);
    assert.equal(s.linux?.cgroupsPath, "/kubepods/c1");
    assert.deepEqual(s.linux?.resources?.cpu, { shares: 100 });
    assert.equal(s.annotations?.["io.kubernetes.cri.image-name"], "example/busybox:latest");
    const own = await containerSpec(
      input({ linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.CONTAINER } } } }),
    );
    assert.deepEqual(own.linux?.namespaces?.[0], { type: "pid" });
    await assert.rejects(
      containerSpec(
        input({
          linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.TARGET, targetId: "t" } } },
        }),
      ),
      /no running target container "t"/,
    );
  });

  test("a privileged container needs a privileged sandbox", async () => {
    const err = await containerSpec(input({ linux: { securityContext: { privileged: true } } })).catch(
      (e) => e,
    );
    assert.equal(
      err.message,
      'failed to generate container "c1" spec: no privileged container allowed in sandbox',
    );
    assert.equal(kindOf(err), "Unknown");
  });

  test("AppArmor other than unconfined is refused; masked and read-only paths come from the CRI only", async () => {
    await assert.rejects(
      containerSpec(input({ linux: { securityContext: { apparmorProfile: "runtime/default" } } })),
      /failed to generate apparmor spec opts: apparmor is not supported/,
    );
    const s = await containerSpec(
      input({ linux: { securityContext: { apparmorProfile: "unconfined", maskedPaths: ["/proc/kcore"] } } }),
    );
    assert.deepEqual(s.linux?.maskedPaths, ["/proc/kcore"]);
    assert.equal(s.linux?.readonlyPaths, undefined);
  });

  test("an image volume starts with the image's content at its path", async () => {
    const rootDir = join(dir, "containers", "vol");
    const s = await containerSpec(
      input({}, { rootDir, imageConfig: { Cmd: ["sh"], Volumes: { "/data": {}, "/none": {} } } }),
    );
    const vols = s.mounts?.filter((m) => m.source?.startsWith(join(rootDir, "volumes"))) ?? [];
    assert.deepEqual(
      vols.map((m) => m.destination),
      ["/data", "/none"],
    );
    const data = vols[0]?.source as string;
    assert.equal(await readFile(join(data, "sub", "f"), "utf8"), "image content");
    assert.deepEqual(await readdir(vols[1]?.source as string), []);
  });
});
