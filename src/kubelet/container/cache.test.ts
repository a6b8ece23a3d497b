import assert from "node:assert/strict";
import { test } from "node:test";
import { setImmediate } from "node:timers/promises";
import { Cache, type CacheEntry } from "./cache.js";
import { ContainerState, type PodStatus } from "./runtime.js";

// Ported from pkg/kubelet/container/cache_test.go.

let nextPod = 0;
function testPodIDAndStatus(numContainers: number): [string, PodStatus] {
  const id = `pod-${nextPod++}`;
  return [
    id,
    {
      id,
      name: "",
      namespace: "",
      ips: [],
      sandboxStatuses: [],
      timeStamp: new Date(0),
      containerStatuses: Array.from({ length: numContainers }, (_, i) => ({
        id: { type: "test", id: `c${i}` },
        name: `c${i}`,
        state: ContainerState.Running,
        createdAt: new Date(0),
        exitCode: 0,
        image: "",
        imageID: "",
        hash: "0",
        restartCount: 0,
        reason: "",
        message: "",
      })),
    },
  ];
}

const emptyStatus = (id: string): PodStatus => ({
  id,
  name: "",
  namespace: "",
  ips: [],
  containerStatuses: [],
  sandboxStatuses: [],
  timeStamp: new Date(0),
});

const after = (d: Date, ms: number) => new Date(d.getTime() + ms);

/** Whether the promise has settled once pending callbacks ran, and with what. */
async function settled<T>(p: Promise<T>): Promise<{ value?: T } | undefined> {
  let result: { value?: T } | undefined;
  p.then((value) => {
    result = { value };
  });
  await setImmediate();
  return result;
}

test("a cache never brought up to date makes every reader wait (TestCacheNotInitialized)", async () => {
  const cache = new Cache();
  assert.equal(await settled(cache.getNewerThan("1234", new Date(0))), undefined);
});

test("a pod's entry is newer when it or the whole cache is (TestGetIfNewerThanWhenPodExists)", async () => {
  const timestamp = new Date();
  const cases = [
    // Both the cache time and the entry are newer.
    { cacheTime: after(timestamp, 1000), modified: timestamp, expected: true },
    // Only the cache time is: the entry is current though it has not changed for a while.
    { cacheTime: after(timestamp, 1000), modified: after(timestamp, -10_000), expected: true },
    // Only the entry is: it is current while the rest of the cache is still being updated.
    { cacheTime: after(timestamp, -1000), modified: after(timestamp, 3000), expected: true },
    { cacheTime: after(timestamp, -1000), modified: after(timestamp, -1000), expected: false },
  ];
  for (const [i, c] of cases.entries()) {
    const cache = new Cache();
    const [id, status] = testPodIDAndStatus(2);
    cache.updateTime(c.cacheTime);
    cache.set(id, status, undefined, c.modified);
    const got = await settled(cache.getNewerThan(id, timestamp));
    assert.equal(got !== undefined, c.expected, `case ${i}`);
    if (got) assert.deepEqual(got.value, { status });
  }
});

test("a pod the cache does not have is current once the cache is (TestGetPodNewerThanWhenPodDoesNotExist)", async () => {
  const cache = new Cache();
  const cacheTime = new Date();
  cache.updateTime(cacheTime);
  assert.deepEqual(await settled(cache.getNewerThan("1234", after(cacheTime, -1000))), {
    value: { status: emptyStatus("1234") },
  });
  assert.equal(await settled(cache.getNewerThan("1234", after(cacheTime, 1000))), undefined);
});

test("set and get keep the status or the error (TestCacheSetAndGet)", () => {
  const cache = new Cache();
  const [id, status] = testPodIDAndStatus(2);
  cache.set(id, status, undefined, new Date(0));
  assert.deepEqual(cache.get(id), { status });
  const error = new Error("unable to get status");
  cache.set(id, undefined, error, new Date(0));
  assert.deepEqual(cache.get(id), { status: undefined, error });
});

test("a pod not in the cache reads as an empty status (TestCacheGetPodDoesNotExist, TestDelete)", () => {
  const cache = new Cache();
  const [id, status] = testPodIDAndStatus(3);
  assert.deepEqual(cache.get(id), { status: emptyStatus(id) });
  cache.set(id, status, undefined, new Date(0));
  assert.deepEqual(cache.get(id), { status });
  cache.delete(id);
  assert.deepEqual(cache.get(id), { status: emptyStatus(id) });
});

test("a waiting reader is told by a newer entry or a newer cache time (TestRegisterNotification)", async () => {
  const cache = new Cache();
  const cacheTime = new Date();
  cache.updateTime(cacheTime);

  const [id1, status1] = testPodIDAndStatus(1);
  const waiting1 = cache.getNewerThan(id1, after(cacheTime, 1000));
  assert.equal(await settled(waiting1), undefined);
  cache.set(id1, status1, undefined, after(cacheTime, 1000));
  assert.deepEqual(await settled(waiting1), { value: { status: status1 } });

  const [id2] = testPodIDAndStatus(1);
  const waiting2 = cache.getNewerThan(id2, after(cacheTime, 1000));
  assert.equal(await settled(waiting2), undefined);
  cache.updateTime(after(cacheTime, 2000));
  assert.deepEqual(await settled(waiting2), { value: { status: emptyStatus(id2) } });
});

test("an aborted wait rejects with Canceled", async () => {
  const cache = new Cache();
  const [id, status] = testPodIDAndStatus(1);
  const ac = new AbortController();
  const waiting: Promise<CacheEntry> = cache.getNewerThan(id, new Date(), ac.signal);
  ac.abort();
  await assert.rejects(waiting, (err: Error & { kind?: string }) => err.kind === "Canceled");
  // A later status reaches only the readers still waiting.
  cache.set(id, status, undefined, after(new Date(), 1000));
  await assert.rejects(cache.getNewerThan(id, after(new Date(), 60_000), AbortSignal.abort()), /canceled/);
});
