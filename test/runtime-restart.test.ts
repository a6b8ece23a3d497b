// Restart recovery of `berth runtime` (issue 4): kill -9 of the daemon with 20 running pods,
// then a restart on the same root, finds all 20 running and reported RUNNING, and a
// container that exited while the daemon was down reports its real exit code. kill -9 in
// the middle of pod starts leaves nothing after a restart and a removal of what is listed:
// no mounts, network namespaces, CNI allocations, runc containers, monitors or records.
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { ContainerState, PodSandboxState } from "../src/cri/gen/runtime/v1/api_pb.js";
import { newRemoteImageService } from "../src/cri/remote-image.js";
import { newRemoteRuntimeService, type RuntimeServiceClient } from "../src/cri/remote-runtime.js";
import { dialCri } from "../src/cri/transport.js";
import { type BerthRuntime, berthLeftovers, startBerthRuntime } from "../src/testenv/berth-runtime.js";
import { existingCgroups, removeCgroup } from "../src/testenv/cgroups.js";
import { type RegistryWithTestImages, startRegistryWithTestImages } from "../src/testenv/registry.js";

let reg: RegistryWithTestImages;
let rt: BerthRuntime;
const cgroupParent = `/berth-restart-${process.pid}`;

before(async () => {
  reg = await startRegistryWithTestImages();
  rt = await startBerthRuntime({
    logLevel: "info",
    configToml: ["[plugins.cri]", `sandbox_image = "${reg.pause.ref}"`, ""].join("\n"),
  });
  const images = newRemoteImageService(dialCri(rt.endpoint));
  await images.pullImage({ image: { image: reg.busybox.ref } });
});

after(async () => {
  await rt?.stop();
  await reg?.registry.stop();
  await removeCgroup(cgroupParent).catch(() => {});
});

function runtime(): RuntimeServiceClient {
  return newRemoteRuntimeService(dialCri(rt.endpoint, { timeoutMs: 60_000 }));
}

function podConfig(name: string) {
  return {
    metadata: { name, namespace: "restart", uid: `uid-${name}`, attempt: 0 },
    logDirectory: `${rt.dir}/logs/${name}`,
    linux: { cgroupParent },
  };
}

async function startPod(r: RuntimeServiceClient, name: string, cmd: string[]): Promise<[string, string]> {
  const config = podConfig(name);
  const { podSandboxId } = await r.runPodSandbox({ config });
  const { containerId } = await r.createContainer({
    podSandboxId,
    config: {
      metadata: { name: "main" },
      image: { image: reg.busybox.ref },
      command: cmd,
      logPath: "main/0.log",
    },
    sandboxConfig: config,
  });
  await r.startContainer({ containerId });
  return [podSandboxId, containerId];
}

async function removeAll(r: RuntimeServiceClient): Promise<void> {
  for (const p of (await r.listPodSandbox({})).items) {
    await r.stopPodSandbox({ podSandboxId: p.id });
    await r.removePodSandbox({ podSandboxId: p.id });
  }
}

async function pidOf(r: RuntimeServiceClient, containerId: string): Promise<number> {
  return JSON.parse((await r.containerStatus({ containerId, verbose: true })).info.info ?? "{}").pid;
}

test("kill -9 with 20 running pods: all still running after the restart, a downtime exit keeps its code", async () => {
  let r = runtime();
  const pods: [string, string][] = [];
  for (let i = 0; i < 20; i++) pods.push(await startPod(r, `p${i}`, ["sleep", "3600"]));
  const { containerId: exiting } = await r.createContainer({
    podSandboxId: pods[0]?.[0] ?? "",
    config: {
      metadata: { name: "exits" },
      image: { image: reg.busybox.ref },
      command: ["sh", "-c", "sleep 2; exit 3"],
    },
    sandboxConfig: podConfig("p0"),
  });
  await r.startContainer({ containerId: exiting });
  const pidsBefore = await Promise.all(pods.map(([, c]) => pidOf(r, c)));

  await rt.kill9();
  await sleep(3000);
  await rt.restart();
  r = runtime();

  const sandboxes = (await r.listPodSandbox({})).items;
  assert.equal(sandboxes.length, 20);
  assert.ok(sandboxes.every((s) => s.state === PodSandboxState.SANDBOX_READY));
  for (const [i, [, containerId]] of pods.entries()) {
    const s = await r.containerStatus({ containerId });
    assert.equal(s.status?.state, ContainerState.CONTAINER_RUNNING, `container of p${i}`);
    // The same process as before the kill.
    assert.equal(await pidOf(r, containerId), pidsBefore[i]);
  }
  const exited = (await r.containerStatus({ containerId: exiting })).status;
  assert.equal(exited?.state, ContainerState.CONTAINER_EXITED);
  assert.equal(exited?.exitCode, 3);
  assert.equal(exited?.reason, "Error");
  assert.ok((exited?.finishedAt ?? 0n) > (exited?.startedAt ?? 0n));

  // The recovered monitors still work: exec, stop with its exit code, removal.
  const out = await r.execSync({ containerId: pods[1]?.[1] ?? "", cmd: ["echo", "hello"], timeout: 10n });
  assert.equal(Buffer.from(out.stdout).toString(), "hello\n");
  await removeAll(r);
  assert.deepEqual(await berthLeftovers(rt), []);
  assert.deepEqual(await childCgroups(), []);
});

test("kill -9 during pod starts: after a restart, removing what is listed leaves nothing", async () => {
  const delaysMs = [0, 15, 40, 80, 130, 200, 300, 450];
  for (const delay of delaysMs) {
    const r = runtime();
    const started = startPod(r, `crash-${delay}`, ["sleep", "3600"]).catch(() => undefined);
    await sleep(delay);
    await rt.kill9();
    await started;
    await rt.restart();
    const after = runtime();
    await removeAll(after);
    assert.deepEqual(
      (await after.listContainers({})).containers,
      [],
      `containers after a kill at ${delay} ms`,
    );
    assert.deepEqual(await berthLeftovers(rt), [], `leftovers after a kill at ${delay} ms`);
  }
});

/** Cgroups runc made under the test's parent and did not remove. */
async function childCgroups(): Promise<string[]> {
  const found: string[] = [];
  for (const p of await existingCgroups(cgroupParent)) {
    for (const e of await readdir(p, { withFileTypes: true }))
      if (e.isDirectory()) found.push(`${p}/${e.name}`);
  }
  return found;
}
