// berth kubelet's garbage collection end to end, on containerd 1.6.20 and on `berth runtime`: image GC
// removes an unused image once the image filesystem is above the high threshold (thresholds picked
// below the disk's real usage), and keeps the images in use and the sandbox image; container GC keeps
// only the newest dead instance of a crash-looping container (its older logs go with the others), and
// removes a deleted pod's containers, sandbox and log directory. The collection periods are berth's
// --container-gc-period and --image-gc-period, shortened so that the test need not wait minutes.
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, statfs } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.js";
import { ContainerState } from "../src/cri/gen/runtime/v1/api_pb.js";
import { buildLayeredImage } from "../src/testenv/images.js";
import { type BerthKubelet, startBerthKubelet } from "../src/testenv/kubelet.js";
import { type RegistryWithTestImages, startRegistryWithTestImages } from "../src/testenv/registry.js";
import { type CriRuntime, criRuntimes, runtimeForSuite } from "./support/cri-runtimes.js";
import { takeDown, until, withKubelet, withKubeletLog } from "./support/kubelet-scenario.js";

const ns = "default";
/** Images younger than this are never collected: a pulled image waits this long for its container. */
const imageMinimumGCAge = "10s";

let reg: RegistryWithTestImages;
let dir: string;
/** An image no pod uses, in the registry. */
let unusedRef: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "berth-kubelet-gc-"));
  reg = await startRegistryWithTestImages();
  unusedRef = (await reg.registry.push(await buildLayeredImage(join(dir, "images")), "berth/unused", "1"))
    .ref;
});

after(async () => {
  await reg?.registry.stop();
  await rm(dir, { recursive: true, force: true });
});

for (const runtime of criRuntimes(() => reg)) gcScenarios(runtime.name, runtime.start);

function gcScenarios(name: string, start: () => Promise<CriRuntime>): void {
  describe(`berth kubelet garbage collection on ${name}`, () => {
    let k: BerthKubelet | undefined;
    let thresholds: { high: number; low: number; usage: number };
    const rt = runtimeForSuite(name, start, {
      // Everything goes through the kubelet: deleted, then collected until the runtime has nothing.
      beforeStop: async () => {
        if (!k) return;
        await withKubelet(rt.cri, k, async (k) => {
          await takeDown(k, rt.cri);
          await until("the runtime still has pods", 30_000, async () => {
            const sandboxes = (await rt.cri.listPodSandbox({})).items.length;
            return sandboxes === 0 && (await rt.cri.listContainers({})).containers.length === 0;
          });
        });
      },
    });

    before(async () => {
      // The usage image GC computes: 100 - available/capacity of the filesystem holding the
      // runtime's image filesystem, in whole percent. The high threshold sits below it, so every
      // collection finds the node over it.
      const mountpoint = (await rt.images.imageFsInfo({})).imageFilesystems[0]?.fsId?.mountpoint ?? "";
      const fs = await statfs(mountpoint);
      const usage = 100 - Math.trunc((fs.bavail * 100) / fs.blocks);
      const high = Math.max(usage - 5, 1);
      thresholds = { high, low: high - 1, usage };
      k = await startBerthKubelet({
        runtimeEndpoint: rt.target.endpoint,
        configOverrides: {
          imageGCHighThresholdPercent: thresholds.high,
          imageGCLowThresholdPercent: thresholds.low,
          imageMinimumGCAge,
        },
        extraArgs: [
          "--container-gc-period",
          "2s",
          "--image-gc-period",
          "2s",
          "--pod-infra-container-image",
          reg.pause.ref,
        ],
      });
    });

    const kubelet = (): BerthKubelet => {
      assert.ok(k, "the kubelet is running");
      return k;
    };

    const imageID = async (ref: string) => (await rt.images.imageStatus({ image: { image: ref } })).image?.id;

    // First in the file: the runtime has no image yet, so none is dated "seen long ago" at start.
    it("removes an unused image above the high threshold, never one in use or the sandbox image", {
      timeout: 60_000,
    }, async (t) => {
      await withKubeletLog(kubelet(), async (k) => {
        t.diagnostic(`image fs usage ${thresholds.usage}%: high ${thresholds.high}%, low ${thresholds.low}%`);
        await k.apply(podOf("user", "exec sleep 3600", "Always"));
        await k.waitFor(ns, "user", (p) => cstatus(p)?.state?.running !== undefined, 30_000);
        await rt.images.pullImage({ image: { image: unusedRef } });
        const unusedID = await imageID(unusedRef);
        assert.ok(unusedID, "the unused image was pulled");
        const pulled = Date.now();
        await until(
          `${unusedRef} was not removed`,
          30_000,
          async () => (await imageID(unusedRef)) === undefined,
        );
        const tookMs = Date.now() - pulled;
        t.diagnostic(`unused image removed ${tookMs} ms after its pull`);
        // Not before the minimum age: the first collection to see it dates it then.
        assert.ok(tookMs >= 9_000, `removed ${tookMs} ms after the pull, before imageMinimumGCAge`);
        assert.ok(
          !(await rt.images.listImages({})).images.some((i) => i.id === unusedID),
          "gone from ListImages",
        );
        // Collections kept running over the threshold: the images in use stayed through all of them.
        assert.equal(await imageID(reg.busybox.ref), reg.busybox.imageId, "the running pod's image stays");
        assert.equal(await imageID(reg.pause.ref), reg.pause.imageId, "the sandbox image stays");
        // Nothing else was left to free: every collection reports the disk still over the threshold.
        const events = (await readFile(k.logPath, "utf8"))
          .split("\n")
          .filter((l) => l.includes('"reason":"FreeDiskSpaceFailed"'));
        assert.ok(events.length > 0, "FreeDiskSpaceFailed recorded on the node");
        await k.delete(ns, "user", 1);
        await k.waitFor(ns, "user", (p) => p === undefined, 20_000);
      });
    });

    it("keeps the newest dead instance of a container; a deleted pod's containers, sandbox and logs go", {
      timeout: 90_000,
    }, async () => {
      await withKubeletLog(kubelet(), async (k) => {
        await k.apply(podOf("crash", "echo attempt; exit 1", "Always"));
        const created = await k.waitFor(ns, "crash", (p) => p?.metadata?.uid !== undefined, 10_000);
        const uid = created?.metadata?.uid ?? "";
        const logDir = join(k.dir, "logs", `${ns}_crash_${uid}`);
        const instances = async () => {
          const { containers } = await rt.cri.listContainers({
            filter: { labelSelector: { "io.kubernetes.pod.uid": uid } },
          });
          return containers.map((c) => ({ attempt: c.metadata?.attempt ?? 0, state: c.state }));
        };
        // Restarted twice (at once, then after 10 s of back-off) and then held back 20 s: the runtime
        // has only the newest dead instance once a collection has run; the older ones went.
        const kept = await until(
          async () => `instances of crash: ${JSON.stringify(await instances())}`,
          45_000,
          async () => {
            const p = await k.getPod(ns, "crash");
            if ((cstatus(p)?.restartCount ?? 0) < 2) return undefined;
            const list = await instances();
            return list.length === 1 &&
              list[0]?.state === ContainerState.CONTAINER_EXITED &&
              list[0].attempt >= 2
              ? list[0]
              : undefined;
          },
        );
        // Their logs went with them: only the kept instance's log file is left.
        assert.deepEqual(await readdir(join(logDir, "c")), [`${kept.attempt}.log`]);
        const sandboxes = await rt.cri.listPodSandbox({
          filter: { labelSelector: { "io.kubernetes.pod.uid": uid } },
        });
        assert.equal(sandboxes.items.length, 1, "the pod's one sandbox stays");

        // Deleted, the pod loses everything: its dead container, its sandbox and its log directory.
        await k.delete(ns, "crash", 1);
        await k.waitFor(ns, "crash", (p) => p === undefined, 20_000);
        await until(
          async () => `still in the runtime: ${JSON.stringify(await instances())}`,
          20_000,
          async () => {
            const left = await rt.cri.listPodSandbox({
              filter: { labelSelector: { "io.kubernetes.pod.uid": uid } },
            });
            return left.items.length === 0 && (await instances()).length === 0;
          },
        );
        await until(
          `${logDir} still there`,
          10_000,
          async () => (await readdir(logDir).catch(() => undefined)) === undefined,
        );
      });
    });
  });
}

function podOf(name: string, script: string, restartPolicy: "Always" | "Never"): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: ns },
    spec: {
      restartPolicy,
      terminationGracePeriodSeconds: 1,
      containers: [
        { name: "c", image: reg.busybox.ref, imagePullPolicy: "IfNotPresent", command: ["sh", "-c", script] },
      ],
    },
  };
}

function cstatus(pod: Pod | undefined) {
  return pod?.status?.containerStatuses?.[0];
}
