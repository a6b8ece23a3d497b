import { startRegistry } from "/work/main/dist/src/testenv/registry.js";
import { buildLargeImage, defaultImagesDir } from "/work/main/dist/src/testenv/images.js";
import { startBerthRuntime } from "/work/main/dist/src/testenv/berth-runtime.js";
import { createCpuLimit } from "/work/main/dist/src/testenv/cpu-limit.js";
import { dialCri, newCriClient } from "/work/main/dist/src/cri/transport.js";
import { newRemoteImageService } from "/work/main/dist/src/cri/remote-image.js";
import { Images, BlobState } from "/work/main/dist/src/cri/gen/berth/v1/images_pb.js";
import { readRootState, summarize } from "/work/main/dist/test/support/runtime-root.js";
import { setTimeout as sleep } from "node:timers/promises";
const reg = await startRegistry();
const img = await buildLargeImage(defaultImagesDir());
await reg.push(img, "berth/large", "1");
const ref = `${reg.host}/berth/large:1`;
const limit = await createCpuLimit(`berth-probe-${process.pid}`, Number(process.argv[2] ?? 0.05));
const rt = await startBerthRuntime();
try {
for (const j of [0, 5, 10, 15, 20, 30, 40, 60, 80, 120]) {
  const conn = dialCri(rt.endpoint);
  const ac = new AbortController();
  const ev = newCriClient(Images, conn).pullProgress({ image: ref }, { timeoutMs: 0, signal: ac.signal })[Symbol.asyncIterator]();
  await ev.next();
  const p = newRemoteImageService(conn).pullImage({ image: { image: ref } }).then(() => "returned", () => "cut");
  let slowed = false;
  for (;;) {
    const { value, done } = await ev.next();
    const last = value.blobs.find(b => b.digest === img.layerDigests[5]);
    if (!slowed && last?.state === BlobState.BLOB_UNPACKING) { await limit.add(rt.pid); slowed = true; }
    if (last?.state === BlobState.BLOB_UNPACKED) break;
  }
  await sleep(j);
  await rt.kill9();
  ac.abort();
  console.log(j, await p, summarize(await readRootState(rt.root)));
  conn.close();
  await rt.restart();
  const c2 = dialCri(rt.endpoint);
  await newRemoteImageService(c2).pullImage({ image: { image: ref } });
  await newRemoteImageService(c2).removeImage({ image: { image: ref } });
  c2.close();
}
} finally {
await rt.stop(); await limit.remove(); await reg.stop();
}
