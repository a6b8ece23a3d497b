import assert from "node:assert/strict";
import {
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  realpath,
  rm,
  stat,
  statfs,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, test } from "node:test";
import type { Container, Pod, Volume } from "kubernetes-types/core/v1.js";
import { pino } from "pino";
import { type MountInfo, mountAll, readMountInfo, unmountAll } from "../../lib/mount/mount.js";
import { EventRecorder } from "../events/event-recorder.js";
import type { LocalObjects } from "../kuberuntime/container.js";
import { VolumeManager, VolumeMountError } from "./volume-manager.js";

const log = pino({ level: "silent" });
const b64 = (s: string) => Buffer.from(s).toString("base64");

let root: string;
let objects: LocalObjects;
let recorder: EventRecorder;

function newManager(): VolumeManager {
  return new VolumeManager({
    rootDir: root,
    localObjects: (namespace) => (namespace === "default" ? objects : { configMaps: {}, secrets: {} }),
    nodeName: "node-1",
    nodeAllocatable: { cpu: "2", memory: "1Gi" },
    recorder,
    log,
  });
}

/** A pod whose one container mounts each volume at /mnt/<name>, except those listed as unused. */
function podWith(
  uid: string,
  volumes: Volume[],
  opts: { unused?: string[]; container?: Partial<Container> } = {},
): Pod {
  const mounted = volumes.filter((v) => !opts.unused?.includes(v.name));
  return {
    metadata: { name: `pod-${uid}`, namespace: "default", uid, labels: { app: "web" } },
    spec: {
      volumes,
      containers: [
        {
          name: "c",
          image: "busybox",
          volumeMounts: mounted.map((v) => ({ name: v.name, mountPath: `/mnt/${v.name}` })),
          ...opts.container,
        },
      ],
    },
  };
}

async function mountsUnder(dir: string): Promise<MountInfo[]> {
  const real = await realpath(dir);
  return (await readMountInfo()).filter((m) => m.mountPoint.startsWith(`${real}/`));
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "berth-volumes-"));
  objects = { configMaps: {}, secrets: {} };
  recorder = new EventRecorder(log);
});
afterEach(async () => {
  // A failed test may leave mounts behind: undo them before the directory goes.
  const left = await mountsUnder(root);
  for (const m of left.reverse()) await unmountAll(m.mountPoint);
  await rm(root, { recursive: true, force: true });
  assert.deepEqual(left, [], "the test left mounts behind");
});

test("emptyDir: a 0777 directory, or a tmpfs sized by the pod's memory limit or sizeLimit; set up once, torn down whole", async () => {
  const vm = newManager();
  const pod = podWith(
    "pod-e",
    [
      { name: "scratch", emptyDir: {} },
      { name: "mem", emptyDir: { medium: "Memory" } },
      { name: "small", emptyDir: { medium: "Memory", sizeLimit: "1Mi" } },
      { name: "unused", emptyDir: {} },
    ],
    { unused: ["unused"], container: { resources: { limits: { memory: "64Mi" } } } },
  );
  const volumes = await vm.setUpPodVolumes(pod);
  const dirOf = (name: string) => join(root, "pods", "pod-e", "volumes", "kubernetes.io~empty-dir", name);
  assert.deepEqual(volumes, {
    scratch: { hostPath: dirOf("scratch") },
    mem: { hostPath: dirOf("mem") },
    small: { hostPath: dirOf("small") },
  });
  assert.equal((await stat(dirOf("scratch"))).mode & 0o777, 0o777);
  await assert.rejects(lstat(dirOf("unused")), { code: "ENOENT" });
  assert.deepEqual((await mountsUnder(root)).map((m) => [m.mountPoint, m.fsType]).sort(), [
    [await realpath(dirOf("mem")), "tmpfs"],
    [await realpath(dirOf("small")), "tmpfs"],
  ]);
  const size = async (dir: string) => {
    const s = await statfs(dir);
    return s.blocks * s.bsize;
  };
  assert.equal(await size(dirOf("mem")), 64 * 1024 * 1024);
  assert.equal(await size(dirOf("small")), 1024 * 1024);
  assert.ok(
    (await stat(join(root, "pods", "pod-e", "plugins", "kubernetes.io~empty-dir", "mem", "ready"))).isFile(),
  );

  // Another sync changes nothing: the data stays, nothing is mounted twice.
  await writeFile(join(dirOf("scratch"), "kept"), "data");
  await writeFile(join(dirOf("mem"), "kept"), "data");
  await vm.setUpPodVolumes(pod);
  assert.equal(await readFile(join(dirOf("scratch"), "kept"), "utf8"), "data");
  assert.equal(await readFile(join(dirOf("mem"), "kept"), "utf8"), "data");
  assert.equal((await mountsUnder(root)).length, 2);

  await vm.tearDownPodVolumes("pod-e");
  assert.deepEqual(await mountsUnder(root), []);
  assert.deepEqual(await readdir(join(root, "pods", "pod-e", "volumes", "kubernetes.io~empty-dir")), []);
  assert.deepEqual(await readdir(join(root, "pods", "pod-e", "plugins", "kubernetes.io~empty-dir")), []);
});

test("configMap: read-only links into ..data, swapped to a new version when the ConfigMap changes", async () => {
  objects.configMaps["app-config"] = { data: { a: "1", b: "2" }, binaryData: { bin: b64("\u0000\u0001") } };
  const vm = newManager();
  const pod = podWith(
    "pod-c",
    [
      { name: "cfg", configMap: { name: "app-config" } },
      { name: "certs", emptyDir: {} },
    ],
    {
      container: {
        volumeMounts: [
          { name: "cfg", mountPath: "/etc/app" },
          { name: "certs", mountPath: "/etc/app/certs" },
        ],
      },
    },
  );
  const dir = join(root, "pods", "pod-c", "volumes", "kubernetes.io~configmap", "cfg");
  assert.deepEqual((await vm.setUpPodVolumes(pod)).cfg, { hostPath: dir, readOnly: true });
  assert.equal(await readlink(join(dir, "a")), "..data/a");
  assert.equal(await readFile(join(dir, "a"), "utf8"), "1");
  assert.deepEqual(await readFile(join(dir, "bin")), Buffer.from([0, 1]));
  assert.equal((await stat(join(dir, "b"))).mode & 0o777, 0o644);
  // The nested volume's mount point exists in the volume: the runtime cannot create it there.
  assert.ok((await lstat(join(dir, "certs"))).isDirectory());
  const before = await readlink(join(dir, "..data"));

  objects.configMaps["app-config"] = { data: { a: "10", c: "3" } };
  await vm.setUpPodVolumes(pod);
  const after = await readlink(join(dir, "..data"));
  assert.notEqual(after, before);
  assert.equal(await readFile(join(dir, "a"), "utf8"), "10");
  assert.equal(await readFile(join(dir, "c"), "utf8"), "3");
  await assert.rejects(lstat(join(dir, "b")), { code: "ENOENT" });
  await assert.rejects(lstat(join(dir, "bin")), { code: "ENOENT" });
  await assert.rejects(lstat(join(dir, before)), { code: "ENOENT" });
  assert.deepEqual((await readdir(dir)).sort(), ["..data", after, "a", "c", "certs"].sort());
  assert.deepEqual(await mountsUnder(root), [], "a configMap volume is a plain directory");

  await vm.tearDownPodVolumes("pod-c");
  await assert.rejects(lstat(dir), { code: "ENOENT" });
});

test("secret and projected volumes: decoded data on a tmpfs, items, paths and modes as asked", async () => {
  objects.configMaps["app-config"] = { data: { a: "1" } };
  objects.secrets.creds = {
    data: { user: b64("admin"), pass: b64("s3cret") },
    stringData: { extra: "plain" },
  };
  const vm = newManager();
  const pod = podWith("pod-s", [
    {
      name: "sec",
      secret: {
        secretName: "creds",
        defaultMode: 0o400,
        items: [
          { key: "pass", path: "p/pass", mode: 0o600 },
          { key: "user", path: "user" },
        ],
      },
    },
    {
      name: "proj",
      projected: {
        defaultMode: 0o440,
        sources: [
          { configMap: { name: "app-config", items: [{ key: "a", path: "cfg/a" }] } },
          { secret: { name: "creds", items: [{ key: "extra", path: "extra" }] } },
          { secret: { name: "absent", optional: true } },
          { downwardAPI: { items: [{ path: "labels", fieldRef: { fieldPath: "metadata.labels" } }] } },
        ],
      },
    },
  ]);
  const volumes = await vm.setUpPodVolumes(pod);
  const sec = volumes.sec?.hostPath as string;
  const proj = volumes.proj?.hostPath as string;
  assert.equal(sec, join(root, "pods", "pod-s", "volumes", "kubernetes.io~secret", "sec"));
  assert.equal(proj, join(root, "pods", "pod-s", "volumes", "kubernetes.io~projected", "proj"));
  assert.deepEqual(
    (await mountsUnder(root)).map((m) => m.fsType),
    ["tmpfs", "tmpfs"],
  );
  // No memory limit on the pod: the tmpfs may grow to the node's allocatable memory.
  const s = await statfs(sec);
  assert.equal(s.blocks * s.bsize, 1024 ** 3);
  assert.equal(await readFile(join(sec, "p", "pass"), "utf8"), "s3cret");
  assert.equal((await stat(join(sec, "p", "pass"))).mode & 0o777, 0o600);
  assert.equal(await readFile(join(sec, "user"), "utf8"), "admin");
  assert.equal((await stat(join(sec, "user"))).mode & 0o777, 0o400);
  assert.equal(await readFile(join(proj, "cfg", "a"), "utf8"), "1");
  assert.equal(await readFile(join(proj, "extra"), "utf8"), "plain");
  assert.equal(await readFile(join(proj, "labels"), "utf8"), 'app="web"');
  assert.equal((await stat(join(proj, "labels"))).mode & 0o777, 0o440);

  await vm.tearDownPodVolumes("pod-s");
  assert.deepEqual(await mountsUnder(root), []);
  await assert.rejects(lstat(sec), { code: "ENOENT" });
  await assert.rejects(lstat(proj), { code: "ENOENT" });
});

test("downwardAPI: metadata as files, rewritten when the pod's labels change", async () => {
  const vm = newManager();
  const pod = podWith("pod-d", [
    {
      name: "info",
      downwardAPI: {
        items: [
          { path: "labels", fieldRef: { fieldPath: "metadata.labels" } },
          { path: "name", fieldRef: { fieldPath: "metadata.name" } },
          {
            path: "mem",
            resourceFieldRef: { containerName: "c", resource: "limits.memory", divisor: "1Mi" },
          },
        ],
      },
    },
  ]);
  const dir = (await vm.setUpPodVolumes(pod)).info?.hostPath as string;
  assert.equal(await readFile(join(dir, "labels"), "utf8"), 'app="web"');
  assert.equal(await readFile(join(dir, "name"), "utf8"), "pod-pod-d");
  assert.equal(await readFile(join(dir, "mem"), "utf8"), "1024");

  const relabeled: Pod = { ...pod, metadata: { ...pod.metadata, labels: { tier: "front", app: "web" } } };
  await vm.setUpPodVolumes(relabeled);
  assert.equal(await readFile(join(dir, "labels"), "utf8"), 'app="web"\ntier="front"');
  await vm.tearDownPodVolumes("pod-d");
  assert.deepEqual(await mountsUnder(root), []);
});

test("failures are FailedMount events with upstream's text; volumes never set up fail the call", async () => {
  const vm = newManager();
  const file = join(root, "a-file");
  await writeFile(file, "");
  const pod = podWith("pod-f", [
    { name: "cfg", configMap: { name: "missing" } },
    { name: "keys", configMap: { name: "present", items: [{ key: "nope", path: "x" }] } },
    { name: "opt", configMap: { name: "missing", optional: true } },
    { name: "host", hostPath: { path: file, type: "Directory" } },
    { name: "claim", persistentVolumeClaim: { claimName: "data" } },
  ]);
  objects.configMaps.present = { data: { yes: "1" } };
  const err = await vm.setUpPodVolumes(pod).then(
    () => assert.fail("set up"),
    (e: unknown) => e,
  );
  assert.ok(err instanceof VolumeMountError);
  const messages = {
    cfg: 'MountVolume.SetUp failed for volume "cfg" : configmap "missing" not found',
    keys: 'MountVolume.SetUp failed for volume "keys" : configmap references non-existent config key: nope',
    host: `MountVolume.SetUp failed for volume "host" : hostPath type check failed: ${file} is not a directory`,
    claim:
      'MountVolume.SetUp failed for volume "claim" : unsupported volume type persistentVolumeClaim: berth\'s kubelet runs without an API server and serves emptyDir, hostPath, configMap, secret, downwardAPI, projected volumes only',
  };
  assert.deepEqual(Object.fromEntries(err.failures.map((f) => [f.volume, f.message])), messages);
  assert.equal(
    err.message,
    `unmounted volumes=[cfg host keys], unattached volumes=[], failed to process volumes=[claim]: ${messages.cfg}`,
  );
  assert.equal(err.kind, "NotFound");
  const events = recorder.eventsFor("pod-f").map((e) => [e.type, e.reason, e.message]);
  assert.deepEqual(
    events.sort(),
    Object.values(messages)
      .map((m) => ["Warning", "FailedMount", m])
      .sort(),
  );
  // The optional ConfigMap that does not exist is an empty volume.
  const opt = join(root, "pods", "pod-f", "volumes", "kubernetes.io~configmap", "opt");
  assert.deepEqual(
    (await readdir(opt)).filter((n) => !n.startsWith("..")),
    [],
  );
  await vm.tearDownPodVolumes("pod-f");
});

test("a refresh that fails keeps the volume serving its last contents and records the event", async () => {
  objects.configMaps.live = { data: { k: "v1" } };
  const vm = newManager();
  const pod = podWith("pod-r", [{ name: "cfg", configMap: { name: "live" } }]);
  const dir = (await vm.setUpPodVolumes(pod)).cfg?.hostPath as string;
  delete objects.configMaps.live;
  assert.deepEqual(await vm.setUpPodVolumes(pod), { cfg: { hostPath: dir, readOnly: true } });
  assert.equal(await readFile(join(dir, "k"), "utf8"), "v1");
  assert.deepEqual(
    recorder.eventsFor("pod-r").map((e) => e.message),
    ['MountVolume.SetUp failed for volume "cfg" : configmap "live" not found'],
  );
  await vm.tearDownPodVolumes("pod-r");
});

test("cleanupOrphanedPodDirs keeps pod directories with mounted or unremoved volumes and removes the rest", async () => {
  const first = newManager();
  await first.setUpPodVolumes(podWith("orphan", [{ name: "mem", emptyDir: { medium: "Memory" } }]));
  const orphanDir = join(root, "pods", "orphan");
  await writeFile(join(orphanDir, "etc-hosts"), "127.0.0.1 localhost\n");
  await mkdir(join(orphanDir, "containers", "c"), { recursive: true });
  await writeFile(join(orphanDir, "containers", "c", "abc"), "terminated");
  await mkdir(join(root, "pods", "known"), { recursive: true });
  // A pod whose emptyDir was never torn down: its data must survive cleanup.
  await newManager().setUpPodVolumes(podWith("leftover", [{ name: "data", emptyDir: {} }]));
  const leftoverData = join(
    root,
    "pods",
    "leftover",
    "volumes",
    "kubernetes.io~empty-dir",
    "data",
    "precious",
  );
  await writeFile(leftoverData, "keep me");

  // A kubelet restarted knows nothing of these pods: what is mounted on disk is what counts.
  const restarted = newManager();
  assert.deepEqual(await restarted.cleanupOrphanedPodDirs(new Set(["known"])), []);
  assert.equal((await mountsUnder(orphanDir)).length, 1);
  assert.equal(await readFile(join(orphanDir, "etc-hosts"), "utf8"), "127.0.0.1 localhost\n");
  assert.equal(await readFile(leftoverData, "utf8"), "keep me");

  await restarted.tearDownPodVolumes("orphan");
  assert.deepEqual(await restarted.cleanupOrphanedPodDirs(new Set(["known"])), ["orphan"]);
  await assert.rejects(lstat(orphanDir), { code: "ENOENT" });
  assert.ok((await stat(join(root, "pods", "known"))).isDirectory());
  assert.equal(await readFile(leftoverData, "utf8"), "keep me");

  // Something mounted elsewhere in the pod directory stops the removal there, and nothing is lost.
  await restarted.tearDownPodVolumes("leftover");
  const busy = join(root, "pods", "leftover", "containers", "busy");
  await mkdir(busy, { recursive: true });
  await mountAll([{ type: "tmpfs", source: "tmpfs", options: ["size=1m"] }], busy);
  await writeFile(join(busy, "f"), "in use");
  try {
    assert.deepEqual(await restarted.cleanupOrphanedPodDirs(new Set(["known"])), []);
    assert.equal(await readFile(join(busy, "f"), "utf8"), "in use");
  } finally {
    await unmountAll(busy);
  }
  assert.deepEqual(await restarted.cleanupOrphanedPodDirs(new Set(["known"])), ["leftover"]);
  assert.deepEqual(await readdir(join(root, "pods")), ["known"]);
});
