// The kubelet's image manager (src/kubelet/images/image-manager.ts) against a real berth runtime and a
// real registry, ported from image_manager_test.go (kubelet 1.28). Where upstream's fake runtime injects
// errors, real causes stand in: an image the registry does not have, a registry port nothing listens on,
// a runtime socket that does not exist. An interceptor on the client records which CRI calls were made.

import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { after, before, describe, test } from "node:test";
import type { Interceptor } from "@connectrpc/connect";
import type { Container, Pod } from "kubernetes-types/core/v1.js";
import type { PullImageRequest } from "../src/cri/gen/runtime/v1/api_pb.js";
import { type ImageServiceClient, newRemoteImageService } from "../src/cri/remote-image.js";
import { type CriConnection, dialCri } from "../src/cri/transport.js";
import {
  ErrImageInspect,
  ErrImageNeverPull,
  ErrImagePull,
  ErrImagePullBackOff,
  ErrInvalidImageName,
} from "../src/kubelet/container/sync-result.js";
import {
  type ImageErrorReason,
  type ImageEvent,
  type ImageManagerOptions,
  newImageManager,
} from "../src/kubelet/images/image-manager.js";
import { parseDuration } from "../src/lib/duration.js";
import { freePort } from "../src/lib/free-port.js";
import { type BerthRuntime, startBerthRuntime } from "../src/testenv/berth-runtime.js";
import { type RegistryWithTestImages, startRegistryWithTestImages } from "../src/testenv/registry.js";

let reg: RegistryWithTestImages;
let daemon: BerthRuntime;
let setupConn: CriConnection;
let images: ImageServiceClient;

before(async () => {
  reg = await startRegistryWithTestImages();
  daemon = await startBerthRuntime({ logLevel: "info" });
  setupConn = dialCri(daemon.endpoint);
  images = newRemoteImageService(setupConn);
  // "present_image" of upstream's tables.
  await images.pullImage({ image: { image: reg.busybox.ref } });
});

after(async () => {
  setupConn?.close();
  await daemon?.stop();
  await reg?.registry.stop();
});

const pod: Pod = { metadata: { name: "test_pod", namespace: "test-ns", uid: "bar", resourceVersion: "42" } };

class FakeClock {
  private t = Date.now();
  now() {
    return this.t;
  }
  step(ms: number) {
    this.t += ms;
  }
}

/** An image manager on its own connection, with the CRI calls and events it made. */
function pullerTestEnv(opts: ImageManagerOptions & { endpoint?: string }) {
  const calls: string[] = [];
  const requests: unknown[] = [];
  const recording: Interceptor = (next) => (req) => {
    calls.push(req.method.name);
    requests.push(req.message);
    return next(req);
  };
  const conn = dialCri(opts.endpoint ?? daemon.endpoint, { interceptors: [recording] });
  const events: ImageEvent[] = [];
  const clock = new FakeClock();
  const manager = newImageManager(newRemoteImageService(conn), {
    clock,
    recorder: (e) => events.push(e),
    ...opts,
  });
  const reset = () => {
    calls.length = 0;
    requests.length = 0;
    events.length = 0;
  };
  return { manager, clock, calls, requests, events, reset, close: () => conn.close() };
}

/** What one ensureImageExists does: the CRI calls, the failure reason, the event reasons. */
type Step = [calls: string[], reason: ImageErrorReason | undefined, events: string[]];

interface PullerTestCase {
  testName: string;
  containerImage: () => string;
  policy: "Always" | "IfNotPresent" | "Never";
  /** Point the image service at a socket nothing listens on, so ImageStatus fails. */
  runtimeDown?: boolean;
  qps: number;
  burst: number;
  expected: Step[];
}

const pulled: Step = [["ImageStatus", "PullImage"], undefined, ["Pulling", "Pulled"]];
const present: Step = [["ImageStatus"], undefined, ["Pulled"]];
const pullFailed: Step = [["ImageStatus", "PullImage"], ErrImagePull, ["Pulling", "Failed"]];
const backOff: Step = [["ImageStatus"], ErrImagePullBackOff, ["BackOff"]];
const invalidName: Step = [[], ErrInvalidImageName, ["InspectFailed"]];

// pullerTestCases (image_manager_test.go): "missing_image" is the pause image, removed before each
// case; "present_image" is busybox; "typo_image" is a name the registry does not have.
const pullerTestCases = (): PullerTestCase[] => [
  {
    testName: "image missing, pull",
    containerImage: () => reg.pause.ref,
    policy: "IfNotPresent",
    qps: 0,
    burst: 0,
    expected: [pulled],
  },
  {
    testName: "image present, don't pull",
    containerImage: () => reg.busybox.ref,
    policy: "IfNotPresent",
    qps: 0,
    burst: 0,
    expected: [present, present, present],
  },
  {
    testName: "image present, pull",
    containerImage: () => reg.busybox.ref,
    policy: "Always",
    qps: 0,
    burst: 0,
    expected: [pulled, pulled, pulled],
  },
  {
    testName: "image missing, never pull",
    containerImage: () => reg.pause.ref,
    policy: "Never",
    qps: 0,
    burst: 0,
    expected: Array(3).fill([["ImageStatus"], ErrImageNeverPull, ["ErrImageNeverPull"]]),
  },
  {
    testName: "image missing, pull if not present (runtime unreachable)",
    containerImage: () => reg.pause.ref,
    policy: "IfNotPresent",
    runtimeDown: true,
    qps: 0,
    burst: 0,
    expected: Array(3).fill([["ImageStatus"], ErrImageInspect, ["InspectFailed"]]),
  },
  {
    // The back-off starts at 1 s and doubles; the clock moves 1 s before each attempt.
    testName: "image missing, unable to fetch",
    containerImage: () => `${reg.registry.host}/library/typo_image`,
    policy: "IfNotPresent",
    qps: 0,
    burst: 0,
    expected: [pullFailed, pullFailed, backOff, pullFailed, backOff, backOff],
  },
  {
    testName: "image present and qps>0, pull",
    containerImage: () => reg.busybox.ref,
    policy: "Always",
    qps: 400,
    burst: 600,
    expected: [pulled, pulled, pulled],
  },
  {
    // The pull is refused before the CRI call, and counts as a failed pull.
    testName: "image present and excessive qps rate, pull",
    containerImage: () => reg.busybox.ref,
    policy: "Always",
    qps: 2000,
    burst: 0,
    expected: [
      [["ImageStatus"], ErrImagePull, ["Pulling", "Failed"]],
      [["ImageStatus"], ErrImagePull, ["Pulling", "Failed"]],
      backOff,
    ],
  },
  {
    testName: "invalid image name, no pull",
    containerImage: () => "FAILED_IMAGE",
    policy: "Always",
    qps: 0,
    burst: 0,
    expected: [invalidName],
  },
  {
    testName: "invalid image name with http, no pull",
    containerImage: () => "http://url",
    policy: "Always",
    qps: 0,
    burst: 0,
    expected: [invalidName],
  },
  {
    testName: "invalid image name with sha256, no pull",
    containerImage: () => "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    policy: "Always",
    qps: 0,
    burst: 0,
    expected: [invalidName],
  },
];

async function runPullerTestCase(c: PullerTestCase, serializeImagePulls: boolean): Promise<void> {
  await images.removeImage({ image: { image: reg.pause.ref } });
  const container: Container = {
    name: "container_name",
    image: c.containerImage(),
    imagePullPolicy: c.policy,
  };
  const env = pullerTestEnv({
    serializeImagePulls,
    registryPullQPS: c.qps,
    registryBurst: c.burst,
    backOffPeriodMs: 1000,
    maxBackOffMs: 60_000,
    endpoint: c.runtimeDown ? `unix://${daemon.dir}/absent.sock` : undefined,
  });
  try {
    for (const [i, [calls, reason, events]] of c.expected.entries()) {
      env.reset();
      env.clock.step(1000);
      const got = await env.manager.ensureImageExists(pod, container).then(
        (r) => ({ reason: undefined, imageRef: r.imageRef }),
        (err) => ({ reason: err.reason, imageRef: undefined }),
      );
      const at = `step ${i}`;
      assert.deepEqual(env.calls, calls, at);
      assert.equal(got.reason, reason, at);
      assert.deepEqual(
        env.events.map((e) => e.reason),
        events,
        at,
      );
      if (reason === undefined) {
        const want = c.containerImage() === reg.busybox.ref ? reg.busybox.imageId : reg.pause.imageId;
        assert.equal(got.imageRef, want, at);
      }
    }
  } finally {
    env.close();
  }
}

// TestParallelPuller and TestSerializedPuller (image_manager_test.go).
for (const [name, serialized] of [
  ["TestParallelPuller", false],
  ["TestSerializedPuller", true],
] as const) {
  describe(name, () => {
    for (const c of pullerTestCases()) test(c.testName, () => runPullerTestCase(c, serialized));
  });
}

test("events and messages say what happened to which image", async () => {
  await images.removeImage({ image: { image: reg.pause.ref } });
  const env = pullerTestEnv({});
  const container: Container = { name: "c", image: reg.pause.ref, imagePullPolicy: "IfNotPresent" };
  try {
    const pulledImage = await env.manager.ensureImageExists(pod, container);
    const q = JSON.stringify(reg.pause.ref);
    assert.equal(env.events.length, 2);
    assert.deepEqual(env.events[0], {
      pod,
      container,
      type: "Normal",
      reason: "Pulling",
      message: `Pulling image ${q}`,
    });
    const last = env.events[1];
    assert.deepEqual([last?.type, last?.reason, last?.message], ["Normal", "Pulled", pulledImage.message]);
    const m = /^Successfully pulled image "(.+)" in (\S+) \((\S+) including waiting\)$/.exec(
      pulledImage.message,
    );
    assert.ok(m, pulledImage.message);
    assert.equal(m[1], reg.pause.ref);
    assert.ok(parseDuration(m[3] as string) >= parseDuration(m[2] as string), pulledImage.message);

    env.reset();
    const again = await env.manager.ensureImageExists(pod, container);
    assert.deepEqual(again, {
      imageRef: reg.pause.imageId,
      message: `Container image ${q} already present on machine`,
    });

    await assert.rejects(
      env.manager.ensureImageExists(pod, { ...container, imagePullPolicy: "Never", image: "x/y" }),
      {
        reason: ErrImageNeverPull,
        kind: "FailedPrecondition",
        message: `Container image "x/y" is not present with pull policy of Never`,
      },
    );
    await assert.rejects(env.manager.ensureImageExists(pod, { ...container, image: "Busybox" }), {
      reason: ErrInvalidImageName,
      kind: "InvalidArgument",
      message: `Failed to apply default image tag "Busybox": couldn't parse image name "Busybox": invalid reference format: repository name must be lowercase`,
    });
    const typo = `${reg.registry.host}/library/typo_image`;
    await assert.rejects(env.manager.ensureImageExists(pod, { ...container, image: typo }), (err: Error) => {
      assert.deepEqual(
        [(err as { reason?: string }).reason, (err as { kind?: string }).kind],
        [ErrImagePull, "NotFound"],
      );
      assert.match(err.message, /^failed to pull and unpack image ".*typo_image:latest": .*not found$/);
      assert.deepEqual(
        env.events.at(-1)?.message,
        `Failed to pull image ${JSON.stringify(typo)}: ${err.message}`,
      );
      return true;
    });
  } finally {
    env.close();
  }
});

test("a registry nobody listens on fails the pull, then the next attempt waits the 10 s back-off", async () => {
  const image = `127.0.0.1:${await freePort()}/library/busybox:latest`;
  const env = pullerTestEnv({});
  const container: Container = { name: "c", image, imagePullPolicy: "IfNotPresent" };
  try {
    await assert.rejects(env.manager.ensureImageExists(pod, container), (err: Error) => {
      assert.equal((err as { reason?: string }).reason, ErrImagePull);
      assert.match(err.message, /connection refused/);
      return true;
    });
    assert.deepEqual(
      env.events.map((e) => [e.type, e.reason]),
      [
        ["Normal", "Pulling"],
        ["Warning", "Failed"],
      ],
    );
    for (const stepMs of [0, 9_999]) {
      env.reset();
      env.clock.step(stepMs);
      await assert.rejects(env.manager.ensureImageExists(pod, container), {
        reason: ErrImagePullBackOff,
        message: `Back-off pulling image ${JSON.stringify(image)}`,
      });
      assert.deepEqual(env.calls, ["ImageStatus"]);
      assert.deepEqual(
        env.events.map((e) => [e.type, e.reason]),
        [["Normal", "BackOff"]],
      );
    }
  } finally {
    env.close();
  }
});

// TestPullAndListImageWithPodAnnotations (image_manager_test.go) reads the annotations back from the
// fake runtime's ListImages. berth runtime, like containerd 1.6, keeps no image spec to list, so what
// can be checked is that they go out with both calls.
test("the pod's annotations go with ImageStatus and PullImage", async () => {
  await images.removeImage({ image: { image: reg.pause.ref } });
  const annotated: Pod = {
    metadata: { ...pod.metadata, annotations: { "kubernetes.io/runtimehandler": "handler_name" } },
  };
  const env = pullerTestEnv({});
  try {
    await env.manager.ensureImageExists(annotated, {
      name: "c",
      image: reg.pause.ref,
      imagePullPolicy: "IfNotPresent",
    });
    assert.deepEqual(env.calls, ["ImageStatus", "PullImage"]);
    for (const req of env.requests as PullImageRequest[]) {
      assert.equal(req.image?.image, reg.pause.ref);
      assert.deepEqual(req.image?.annotations, { "kubernetes.io/runtimehandler": "handler_name" });
    }
  } finally {
    env.close();
  }
});

test.skip(
  "TestPullAndListImageWithPodAnnotations: ListImages shows the pull's annotations (berth keeps none, as containerd 1.6)",
);

/**
 * A TCP path to the registry that holds every connection until opened: pulls through it stay in
 * flight, as upstream's fake runtime blocks them, and finish for real once it opens.
 */
async function startGate(upstream: { host: string; port: number }) {
  const held: net.Socket[] = [];
  const sockets = new Set<net.Socket>();
  let open = false;
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.on("error", () => {});
    s.on("close", () => sockets.delete(s));
  };
  const pass = (client: net.Socket) => {
    const target = net.connect(upstream.port, upstream.host);
    track(target);
    client.pipe(target).pipe(client);
    client.on("close", () => target.destroy());
    target.on("close", () => client.destroy());
  };
  const server = net.createServer((client) => {
    track(client);
    if (open) pass(client);
    else held.push(client);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as net.AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    open() {
      open = true;
      for (const c of held.splice(0)) pass(c);
    },
    async close() {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, "close");
    },
  };
}

// TestMaxParallelImagePullsLimit (image_manager_test.go), with the serial puller beside it: three
// pulls at once reach the runtime one at a time when serialized, two at a time with
// maxParallelImagePulls 2, all together without a limit; the rest wait in the puller's queue.
for (const [name, opts, limit] of [
  ["serialized pulls reach the runtime one at a time", { serializeImagePulls: true }, 1],
  [
    "maxParallelImagePulls caps the pulls in flight",
    { serializeImagePulls: false, maxParallelImagePulls: 2 },
    2,
  ],
  ["parallel pulls without a cap all go at once", { serializeImagePulls: false }, 3],
] as const) {
  test(name, async () => {
    const gate = await startGate({ host: "127.0.0.1", port: reg.registry.port });
    let inFlight = 0;
    let maxInFlight = 0;
    let started = 0;
    const counting: Interceptor = (next) => async (req) => {
      if (req.method.name !== "PullImage") return next(req);
      started++;
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      try {
        return await next(req);
      } finally {
        inFlight--;
      }
    };
    const conn = dialCri(daemon.endpoint, { interceptors: [counting] });
    const events: ImageEvent[] = [];
    const manager = newImageManager(newRemoteImageService(conn), {
      ...opts,
      recorder: (e) => events.push(e),
    });
    const container: Container = {
      name: "c",
      image: `${gate.host}/library/busybox:latest`,
      imagePullPolicy: "Always",
    };
    try {
      const pulls = Array.from({ length: 3 }, () => manager.ensureImageExists(pod, container));
      for (let i = 0; started < limit; i++) {
        assert.ok(i < 500, `only ${started} pulls started`);
        await new Promise((r) => setTimeout(r, 10));
      }
      // Time for a pull past the limit to start, if the puller let it.
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual([started, inFlight], [limit, limit]);
      gate.open();
      for (const r of await Promise.all(pulls)) assert.equal(r.imageRef, reg.busybox.imageId);
      assert.deepEqual([started, maxInFlight], [3, limit]);
      const pulledMessages = events.filter((e) => e.reason === "Pulled").map((e) => e.message);
      assert.equal(pulledMessages.length, 3);
    } finally {
      conn.close();
      await gate.close();
    }
  });
}
