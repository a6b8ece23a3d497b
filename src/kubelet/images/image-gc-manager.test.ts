// The tests of upstream's image_gc_manager_test.go, against an in-memory runtime (its FakeRuntime)
// and a clock moved by hand instead of time.Now().
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { pino } from "pino";
import { ContainerState } from "../container/runtime.js";
import type { KubeEvent } from "../events/event-recorder.js";
import type { RuntimeContainer, RuntimePod } from "../kuberuntime/pod-status.js";
import {
  type FsStats,
  type Image,
  ImageGCEventReason,
  type ImageGCManager,
  type ImageGCPolicy,
  type ImageGCRuntime,
  newImageGCManager,
} from "./image-gc-manager.js";

const log = pino({ level: "silent" });
const sandboxImage = "registry.k8s.io/pause-amd64:latest";
const minute = 60_000;

/** container.FakeRuntime: images and pods as the test sets them; RemoveImage drops the first match. */
class FakeRuntime implements ImageGCRuntime {
  imageList: Image[] = [];
  allPodList: RuntimePod[] = [];

  async listImages(): Promise<Image[]> {
    return this.imageList.map((i) => ({ ...i }));
  }
  async getPods(): Promise<RuntimePod[]> {
    return this.allPodList;
  }
  async getImageRef(image: string): Promise<string> {
    return this.imageList.find((i) => i.id === image)?.id ?? "";
  }
  async removeImage(id: string): Promise<void> {
    const i = this.imageList.findIndex((x) => x.id === id);
    if (i >= 0) this.imageList.splice(i, 1);
  }
}

const imageID = (id: number) => `image-${id}`;
const imageName = (id: number) => `${imageID(id)}-name`;
const makeImage = (id: number, size: number): Image => ({ id: imageID(id), size, pinned: false });
const makeContainer = (id: number): RuntimeContainer => ({
  id: { type: "test", id: `container-${id}` },
  name: "",
  image: imageName(id),
  imageID: imageID(id),
  hash: "",
  state: ContainerState.Running,
});
const pod = (containers: RuntimeContainer[]): RuntimePod => ({
  id: "",
  name: "",
  namespace: "",
  createdAt: 0n,
  containers,
  sandboxes: [],
});

interface Harness {
  manager: ImageGCManager;
  runtime: FakeRuntime;
  events: Omit<KubeEvent, "object">[];
  /** The manager's clock, in ms; starts well after the epoch (0 is "long ago"). */
  clock: { now: number };
  stats: { result: FsStats | Error };
}

function newRealImageGCManager(policy: Partial<ImageGCPolicy> = {}): Harness {
  const runtime = new FakeRuntime();
  const events: Omit<KubeEvent, "object">[] = [];
  const clock = { now: 1_700_000_000_000 };
  const stats: { result: FsStats | Error } = { result: new Error("no stats expected") };
  const manager = newImageGCManager({
    runtime,
    statsProvider: {
      imageFsStats: async () => {
        if (stats.result instanceof Error) throw stats.result;
        return stats.result;
      },
    },
    recorder: (e) => events.push(e),
    policy: { highThresholdPercent: 0, lowThresholdPercent: 0, minAgeMs: 0, ...policy },
    sandboxImage,
    log,
    now: () => clock.now,
  });
  return { manager, runtime, events, clock, stats };
}

/** The manager's record of an image, read through what DeleteUnusedImages and freeSpace would do. */
function record(m: ImageGCManager, id: string): { firstDetected: number; lastUsed: number } | undefined {
  const r = (m as unknown as { imageRecords: Map<string, { firstDetected: number; lastUsed: number }> })
    .imageRecords;
  return r.get(id);
}
function recordCount(m: ImageGCManager): number {
  return (m as unknown as { imageRecords: Map<string, unknown> }).imageRecords.size;
}

describe("detectImages (image_gc_manager_test.go)", () => {
  test("TestDetectImagesInitialDetect: images seen at start are dated long ago; used ones are used now", async () => {
    const { manager, runtime, clock } = newRealImageGCManager();
    runtime.imageList = [makeImage(0, 1024), makeImage(1, 2048), makeImage(2, 2048)];
    runtime.allPodList = [
      pod([
        // No image name: a container of an image that has none.
        { ...makeContainer(1), image: "" },
        makeContainer(2),
      ]),
    ];
    await manager.detectImages(0);
    assert.equal(recordCount(manager), 3);
    assert.deepEqual(record(manager, imageID(0)), {
      firstDetected: 0,
      lastUsed: 0,
      size: 1024,
      pinned: false,
    });
    assert.equal(record(manager, imageID(1))?.firstDetected, 0);
    assert.equal(record(manager, imageID(1))?.lastUsed, clock.now);
    assert.equal(record(manager, imageID(2))?.firstDetected, 0);
    assert.equal(record(manager, imageID(2))?.lastUsed, clock.now);
  });

  test("TestDetectImagesWithNewImage: a new image is dated when it is first seen", async () => {
    const { manager, runtime, clock } = newRealImageGCManager();
    runtime.imageList = [makeImage(0, 1024), makeImage(1, 2048)];
    runtime.allPodList = [pod([makeContainer(1)])];
    await manager.detectImages(0);
    assert.equal(recordCount(manager), 2);
    runtime.imageList = [makeImage(0, 1024), makeImage(1, 1024), makeImage(2, 1024)];
    const detectedTime = 1000;
    clock.now += 5;
    await manager.detectImages(detectedTime);
    assert.equal(recordCount(manager), 3);
    assert.deepEqual(record(manager, imageID(0))?.firstDetected, 0);
    assert.deepEqual(record(manager, imageID(0))?.lastUsed, 0);
    assert.equal(record(manager, imageID(1))?.firstDetected, 0);
    assert.equal(record(manager, imageID(1))?.lastUsed, clock.now);
    assert.equal(record(manager, imageID(2))?.firstDetected, detectedTime);
    assert.equal(record(manager, imageID(2))?.lastUsed, 0);
  });

  test("TestDetectImagesContainerStopped: an image keeps its last use after its container goes", async () => {
    const { manager, runtime, clock } = newRealImageGCManager();
    runtime.imageList = [makeImage(0, 1024), makeImage(1, 2048)];
    runtime.allPodList = [pod([makeContainer(1)])];
    await manager.detectImages(0);
    const lastUsed = record(manager, imageID(1))?.lastUsed;
    runtime.allPodList = [];
    clock.now += minute;
    await manager.detectImages(clock.now);
    assert.equal(recordCount(manager), 2);
    assert.deepEqual(record(manager, imageID(0))?.firstDetected, 0);
    assert.deepEqual(record(manager, imageID(0))?.lastUsed, 0);
    assert.equal(record(manager, imageID(1))?.firstDetected, 0);
    assert.equal(record(manager, imageID(1))?.lastUsed, lastUsed);
  });

  test("TestDetectImagesWithRemovedImages: images gone from the node are forgotten", async () => {
    const { manager, runtime, clock } = newRealImageGCManager();
    runtime.imageList = [makeImage(0, 1024), makeImage(1, 2048)];
    runtime.allPodList = [pod([makeContainer(1)])];
    await manager.detectImages(0);
    assert.equal(recordCount(manager), 2);
    runtime.imageList = [];
    await manager.detectImages(clock.now);
    assert.equal(recordCount(manager), 0);
  });
});

describe("freeSpace and DeleteUnusedImages (image_gc_manager_test.go)", () => {
  test("TestDeleteUnusedImagesExemptSandboxImage: the sandbox image stays", async () => {
    const { manager, runtime } = newRealImageGCManager();
    runtime.imageList = [{ id: sandboxImage, size: 1024, pinned: false }];
    await manager.deleteUnusedImages();
    assert.equal(runtime.imageList.length, 1);
  });

  test("TestDeletePinnedImage: a pinned copy of the sandbox image stays with it", async () => {
    const { manager, runtime } = newRealImageGCManager();
    runtime.imageList = [
      { id: sandboxImage, size: 1024, pinned: true },
      { id: sandboxImage, size: 1024, pinned: false },
    ];
    await manager.deleteUnusedImages();
    assert.equal(runtime.imageList.length, 2);
  });

  test("TestDoNotDeletePinnedImage: a pinned image is never removed", async () => {
    const { manager, runtime, clock } = newRealImageGCManager();
    runtime.imageList = [
      { id: "1", size: 1024, pinned: true },
      { id: "2", size: 1024, pinned: false },
    ];
    assert.equal(await manager.freeSpace(4096, clock.now), 1024);
    assert.equal(runtime.imageList.length, 1);
  });

  test("TestDeleteUnPinnedImage: unpinned images are removed", async () => {
    const { manager, runtime, clock } = newRealImageGCManager();
    runtime.imageList = [
      { id: "1", size: 1024, pinned: false },
      { id: "2", size: 1024, pinned: false },
    ];
    assert.equal(await manager.freeSpace(2048, clock.now), 2048);
    assert.equal(runtime.imageList.length, 0);
  });

  test("TestAllPinnedImages: nothing is freed when every image is pinned", async () => {
    const { manager, runtime, clock } = newRealImageGCManager();
    runtime.imageList = [
      { id: "1", size: 1024, pinned: true },
      { id: "2", size: 1024, pinned: true },
    ];
    assert.equal(await manager.freeSpace(2048, clock.now), 0);
    assert.equal(runtime.imageList.length, 2);
  });

  test("TestFreeSpaceImagesInUseContainersAreIgnored: an image a container uses stays", async () => {
    const { manager, runtime, clock } = newRealImageGCManager();
    runtime.imageList = [makeImage(0, 1024), makeImage(1, 2048)];
    runtime.allPodList = [pod([makeContainer(1)])];
    assert.equal(await manager.freeSpace(2048, clock.now), 1024);
    assert.equal(runtime.imageList.length, 1);
  });

  test("TestDeleteUnusedImagesRemoveAllUnusedImages: every unused image goes", async () => {
    const { manager, runtime } = newRealImageGCManager();
    runtime.imageList = [makeImage(0, 1024), makeImage(1, 2048), makeImage(2, 2048)];
    runtime.allPodList = [pod([makeContainer(2)])];
    await manager.deleteUnusedImages();
    assert.deepEqual(
      runtime.imageList.map((i) => i.id),
      [imageID(2)],
    );
  });

  test("TestFreeSpaceRemoveByLeastRecentlyUsed: the least recently used image goes first", async () => {
    const { manager, runtime, clock } = newRealImageGCManager();
    runtime.imageList = [makeImage(0, 1024), makeImage(1, 2048)];
    runtime.allPodList = [pod([makeContainer(0), makeContainer(1)])];
    // Make 1 be more recently used than 0.
    await manager.detectImages(0);
    runtime.allPodList = [pod([makeContainer(1)])];
    clock.now += 1;
    await manager.detectImages(clock.now);
    runtime.allPodList = [pod([])];
    clock.now += 1;
    await manager.detectImages(clock.now);
    assert.equal(recordCount(manager), 2);
    // A minute later, so that the first detection and the deletion time differ.
    assert.equal(await manager.freeSpace(1024, clock.now + minute), 1024);
    assert.deepEqual(
      runtime.imageList.map((i) => i.id),
      [imageID(1)],
    );
  });

  test("TestFreeSpaceTiesBrokenByDetectedTime: of two used at once, the first detected goes first", async () => {
    const { manager, runtime, clock } = newRealImageGCManager();
    runtime.imageList = [makeImage(0, 1024)];
    runtime.allPodList = [pod([makeContainer(0)])];
    // Make 1 more recently detected but used at the same time as 0.
    await manager.detectImages(0);
    runtime.imageList = [makeImage(0, 1024), makeImage(1, 2048)];
    clock.now += 1;
    await manager.detectImages(clock.now);
    runtime.allPodList = [];
    clock.now += 1;
    await manager.detectImages(clock.now);
    assert.equal(recordCount(manager), 2);
    clock.now += 1;
    assert.equal(await manager.freeSpace(1024, clock.now), 2048);
    assert.deepEqual(
      runtime.imageList.map((i) => i.id),
      [imageID(0)],
    );
  });

  test("TestGarbageCollectImageNotOldEnough: an image younger than minAge stays until it is old enough", async () => {
    const { manager, runtime, clock } = newRealImageGCManager({
      highThresholdPercent: 90,
      lowThresholdPercent: 80,
      minAgeMs: minute,
    });
    runtime.imageList = [makeImage(0, 1024), makeImage(1, 2048)];
    // 1 image is in use, and another one is not old enough.
    runtime.allPodList = [pod([makeContainer(1)])];
    await manager.detectImages(clock.now);
    assert.equal(recordCount(manager), 2);
    assert.equal(await manager.freeSpace(1024, clock.now), 0);
    assert.equal(runtime.imageList.length, 2);
    clock.now += minute;
    assert.equal(await manager.freeSpace(1024, clock.now), 1024);
    assert.equal(runtime.imageList.length, 1);
  });

  test("a failed removal is reported after the others were tried", async () => {
    const { manager, runtime, clock } = newRealImageGCManager();
    runtime.imageList = [makeImage(0, 1024), makeImage(1, 2048)];
    const remove = runtime.removeImage.bind(runtime);
    runtime.removeImage = async (id) => {
      if (id === imageID(0)) throw new Error("image is busy");
      await remove(id);
    };
    await assert.rejects(
      manager.freeSpace(4096, clock.now),
      /wanted to free 4096 bytes, but freed 2048 bytes space with errors in image deletion: \[image is busy\]/,
    );
    assert.deepEqual(
      runtime.imageList.map((i) => i.id),
      [imageID(0)],
    );
  });
});

describe("GarbageCollect (image_gc_manager_test.go)", () => {
  const policy = { highThresholdPercent: 90, lowThresholdPercent: 80 };

  test("TestGarbageCollectBelowLowThreshold: at 40% usage nothing happens", async () => {
    const h = newRealImageGCManager(policy);
    h.stats.result = { availableBytes: 600, capacityBytes: 1000 };
    h.runtime.imageList = [makeImage(0, 450)];
    await h.manager.garbageCollect();
    assert.equal(h.runtime.imageList.length, 1);
    assert.deepEqual(h.events, []);
  });

  test("TestGarbageCollectCadvisorFailure: an error reading the stats is the collection's error", async () => {
    const h = newRealImageGCManager(policy);
    h.stats.result = new Error("error");
    await assert.rejects(h.manager.garbageCollect(), /error/);
  });

  test("TestGarbageCollectBelowSuccess: at 95% usage enough is freed", async () => {
    const h = newRealImageGCManager(policy);
    h.stats.result = { availableBytes: 50, capacityBytes: 1000 };
    h.runtime.imageList = [makeImage(0, 450)];
    await h.manager.garbageCollect();
    assert.equal(h.runtime.imageList.length, 0);
    assert.deepEqual(h.events, []);
  });

  test("TestGarbageCollectNotEnoughFreed: freeing too little is an error and a FreeDiskSpaceFailed event", async () => {
    const h = newRealImageGCManager(policy);
    h.stats.result = { availableBytes: 50, capacityBytes: 1000 };
    h.runtime.imageList = [makeImage(0, 50)];
    const message =
      "Failed to garbage collect required amount of images. Attempted to free 150 bytes, but only found 50 bytes eligible to free.";
    await assert.rejects(h.manager.garbageCollect(), { message });
    assert.deepEqual(h.events, [
      { type: "Warning", reason: ImageGCEventReason.FreeDiskSpaceFailed, message },
    ]);
  });

  test("a filesystem of capacity 0 is an error and an InvalidDiskCapacity event", async () => {
    const h = newRealImageGCManager(policy);
    h.stats.result = { usedBytes: 10 };
    const message = "invalid capacity 0 on image filesystem";
    await assert.rejects(h.manager.garbageCollect(), { message });
    assert.deepEqual(h.events, [
      { type: "Warning", reason: ImageGCEventReason.InvalidDiskCapacity, message },
    ]);
  });
});

describe("newImageGCManager (image_gc_manager_test.go TestValidateImageGCPolicy)", () => {
  const cases: [string, Partial<ImageGCPolicy>, string | undefined][] = [
    [
      "Test for LowThresholdPercent < HighThresholdPercent",
      { highThresholdPercent: 2, lowThresholdPercent: 1 },
      undefined,
    ],
    [
      "Test for HighThresholdPercent < 0,",
      { highThresholdPercent: -1 },
      "invalid HighThresholdPercent -1, must be in range [0-100]",
    ],
    [
      "Test for HighThresholdPercent > 100",
      { highThresholdPercent: 101 },
      "invalid HighThresholdPercent 101, must be in range [0-100]",
    ],
    [
      "Test for LowThresholdPercent < 0",
      { lowThresholdPercent: -1 },
      "invalid LowThresholdPercent -1, must be in range [0-100]",
    ],
    [
      "Test for LowThresholdPercent > 100",
      { lowThresholdPercent: 101 },
      "invalid LowThresholdPercent 101, must be in range [0-100]",
    ],
    [
      "Test for LowThresholdPercent > HighThresholdPercent",
      { highThresholdPercent: 1, lowThresholdPercent: 2 },
      "LowThresholdPercent 2 can not be higher than HighThresholdPercent 1",
    ],
  ];
  for (const [name, policy, expectErr] of cases) {
    test(name, () => {
      if (expectErr === undefined) newRealImageGCManager(policy);
      else assert.throws(() => newRealImageGCManager(policy), { message: expectErr });
    });
  }
});
