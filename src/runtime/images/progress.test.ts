import assert from "node:assert/strict";
import { test } from "node:test";
import { ProgressHub, type PullProgressEvent } from "./progress.js";

test("a watcher sees its pull's blob states, coalesced byte counts, and the end", async () => {
  const hub = new ProgressHub(5);
  const events: PullProgressEvent[] = [];
  const watching = (async () => {
    for await (const e of hub.watch("r/busybox:latest")) events.push(e);
  })();
  await new Promise((r) => setImmediate(r));
  const other = hub.track("r/other:latest");
  other.update({ digest: "sha256:x", mediaType: "m", size: 1 }, { state: "downloading" });
  const t = hub.track("r/busybox:latest");
  const layer = { digest: "sha256:l", mediaType: "layer", size: 100 };
  t.update(layer, { state: "downloading" });
  for (let o = 10; o <= 100; o += 10) t.update(layer, { offset: o });
  await new Promise((r) => setTimeout(r, 20));
  t.update(layer, { state: "unpacked" });
  t.finish();
  await watching;
  assert.deepEqual(
    events[0],
    { image: "r/busybox:latest", blobs: [], done: false },
    "first event says subscribed",
  );
  assert.ok(
    events.every((e) => e.image === "r/busybox:latest"),
    "only this pull",
  );
  assert.ok(events.length < 8, `byte updates are coalesced, got ${events.length} events`);
  const last = events.at(-1);
  assert.equal(last?.done, true);
  assert.deepEqual(last?.blobs, [{ ...layer, offset: 100, state: "unpacked" }]);
});

test("a failed pull ends its watchers with the error", async () => {
  const hub = new ProgressHub(5);
  const watching = (async () => {
    const seen: PullProgressEvent[] = [];
    for await (const e of hub.watch("img")) seen.push(e);
    return seen;
  })();
  await new Promise((r) => setImmediate(r));
  hub.track("img").finish(new Error("boom"));
  const seen = await watching;
  assert.equal(seen.at(-1)?.error, "boom");
});

test("a watch ends when its signal aborts", async () => {
  const hub = new ProgressHub();
  const ac = new AbortController();
  const seen: PullProgressEvent[] = [];
  const watching = (async () => {
    for await (const e of hub.watch("img", ac.signal)) seen.push(e);
  })();
  await new Promise((r) => setImmediate(r));
  ac.abort();
  await watching;
  assert.equal(seen.length, 1);
});
