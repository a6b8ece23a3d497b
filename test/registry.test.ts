// Integration test: real docker-registry + skopeo pushing the reproducible test images.

import assert from "node:assert/strict";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { freePort } from "../src/lib/free-port.js";
import { MEDIA_TYPE_MANIFEST, sha256 } from "../src/local-images/oci-image-builder.js";
import { buildTestImages } from "../src/testenv/images.js";
import { type Registry, startRegistry, startRegistryWithTestImages } from "../src/testenv/registry.js";

const tmpDirs: string[] = [];
const registries: Registry[] = [];

after(async () => {
  for (const r of registries) await r.stop();
  for (const d of tmpDirs) await rm(d, { recursive: true, force: true });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw err;
  }
}

test("registry: push both images, manifests served under the built digests, stop cleans up", async () => {
  const outDir = await mkdtemp(path.join(os.tmpdir(), "berth-registry-test-"));
  tmpDirs.push(outDir);
  const images = await buildTestImages(outDir);
  const registry = await startRegistry();
  registries.push(registry);

  assert.match(registry.host, /^127\.0\.0\.1:\d+$/);
  assert.equal(registry.url, `http://${registry.host}`);
  assert.ok(alive(registry.pid));
  assert.ok(existsSync(registry.dir));
  const ping = await fetch(`${registry.url}/v2/`);
  assert.equal(ping.status, 200);
  await ping.arrayBuffer();

  for (const [name, repo, tag] of [
    ["busybox", "library/busybox", "latest"],
    ["pause", "berth/pause", "3.9"],
  ] as const) {
    const image = images.find((i) => i.name === name);
    assert.ok(image);
    const pushed = await registry.push(image, repo, tag);
    assert.equal(pushed.ref, `${registry.host}/${repo}:${tag}`);
    assert.equal(pushed.digest, image.manifestDigest);

    for (const reference of [tag, image.manifestDigest]) {
      const res = await fetch(`${registry.url}/v2/${repo}/manifests/${reference}`, {
        headers: { Accept: MEDIA_TYPE_MANIFEST },
      });
      assert.equal(res.status, 200, `${repo}:${reference}`);
      assert.equal(res.headers.get("docker-content-digest"), image.manifestDigest);
      assert.equal(res.headers.get("content-type"), MEDIA_TYPE_MANIFEST);
      const body = Buffer.from(await res.arrayBuffer());
      assert.equal(sha256(body), image.manifestDigest, "served manifest bytes are the built ones");
      const manifest = JSON.parse(body.toString("utf8"));
      assert.equal(manifest.config.digest, image.configDigest);
    }

    for (const digest of [image.configDigest, ...image.layerDigests]) {
      const res = await fetch(`${registry.url}/v2/${repo}/blobs/${digest}`);
      assert.equal(res.status, 200, digest);
      assert.equal(sha256(Buffer.from(await res.arrayBuffer())), digest);
    }
  }

  const { pid, dir } = registry;
  await registry.stop();
  assert.equal(alive(pid), false, "registry process is gone");
  assert.equal(existsSync(dir), false, "registry temp dir removed");
  await registry.stop(); // idempotent
});

test("registry: two registries run side by side on different ports", async () => {
  const a = await startRegistry();
  registries.push(a);
  const b = await startRegistry();
  registries.push(b);
  assert.notEqual(a.port, b.port);
  assert.notEqual(a.dir, b.dir);
  await Promise.all([a.stop(), b.stop()]);
  assert.equal(alive(a.pid) || alive(b.pid), false);
});

test("startRegistry retries with another port when the chosen one is taken", async () => {
  const blocker = net.createServer();
  blocker.listen(0, "127.0.0.1");
  await once(blocker, "listening");
  try {
    const taken = (blocker.address() as net.AddressInfo).port;
    const tried: number[] = [];
    const registry = await startRegistry({
      pickPort: async () => {
        const port = tried.length === 0 ? taken : await freePort();
        tried.push(port);
        return port;
      },
    });
    registries.push(registry);
    assert.equal(tried.length, 2);
    assert.equal(tried[0], taken);
    assert.equal(registry.port, tried[1]);
    await registry.stop();
  } finally {
    blocker.close();
  }
});

test("startRegistryWithTestImages pushes busybox and pause", async () => {
  const imagesDir = await mkdtemp(path.join(os.tmpdir(), "berth-registry-images-"));
  tmpDirs.push(imagesDir);
  const r = await startRegistryWithTestImages({ imagesDir });
  registries.push(r.registry);
  const host = r.registry.host;
  assert.equal(r.busybox.ref, `${host}/library/busybox:latest`);
  assert.equal(r.pause.ref, `${host}/berth/pause:3.9`);
  assert.equal(r.busybox.digestRef, `${host}/library/busybox@${r.busybox.digest}`);
  assert.equal(r.busybox.digest, r.busybox.image.manifestDigest);
  assert.equal(r.pause.imageId, r.pause.image.configDigest);
  const m = await r.registry.fetchManifest("berth/pause", "3.9");
  assert.equal(m.digest, r.pause.digest);
  await r.registry.stop();
  assert.equal(alive(r.registry.pid), false);
  assert.equal(existsSync(r.registry.dir), false);
});
