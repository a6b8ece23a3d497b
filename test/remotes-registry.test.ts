// The registry client against a real docker-registry: resolve and fetch, Docker and OCI media types,
// multi-platform selection, containerd's errors for missing things, verification of what is served,
// Range resumes, and retries across a registry that goes away and comes back.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { kindOf, messageOf } from "../src/lib/errdefs.js";
import { MEDIA_TYPE_CONFIG, sha256 } from "../src/local-images/oci-image-builder.js";
import { selectManifest } from "../src/runtime/images/handlers.js";
import { MediaTypes } from "../src/runtime/images/media-types.js";
import { parseIndex } from "../src/runtime/images/oci.js";
import { defaultMatcher } from "../src/runtime/images/platforms.js";
import { newResolver, type Resolver } from "../src/runtime/remotes/resolver.js";
import { type BuiltIndex, buildMultiPlatformImage, LINUX_ARM64_V8 } from "../src/testenv/images.js";
import { type RegistryWithTestImages, startRegistryWithTestImages } from "../src/testenv/registry.js";
import { captureLog } from "./support/capture-log.js";
import { rejection } from "./support/resolver.js";

let env: RegistryWithTestImages;
let multi: BuiltIndex;
let armOnly: BuiltIndex;
let dir: string;
let configDir: string;
const resolvers: Resolver[] = [];

/** A resolver with no hosts.toml and a short backoff, closed after the tests. */
function resolver(opts: { retry?: { attempts?: number; minDelayMs?: number } } = {}) {
  const captured = captureLog();
  const r = newResolver({ log: captured.log, configDir, retry: { minDelayMs: 100, ...opts.retry } });
  resolvers.push(r);
  return { r, captured };
}

async function readStream(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const blobOf = (layoutDir: string, digest: string) =>
  readFile(path.join(layoutDir, "blobs", "sha256", digest.slice("sha256:".length)));

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "berth-remotes-test-"));
  configDir = path.join(dir, "certs.d");
  env = await startRegistryWithTestImages();
  multi = await buildMultiPlatformImage(dir);
  await env.registry.push(multi, "library/multi", "latest");
  armOnly = await buildMultiPlatformImage(dir, {
    name: "arm-only",
    platforms: [LINUX_ARM64_V8, { os: "linux", architecture: "arm", variant: "v7" }],
  });
  await env.registry.push(armOnly, "library/armonly", "latest");
});

after(async () => {
  for (const r of resolvers) await r.close();
  await env?.registry.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("resolve and fetch", () => {
  test("a tag resolves to the manifest the registry serves; manifest, config and layer fetch verified", async () => {
    const { r } = resolver();
    const { busybox } = env;
    const resolved = await r.resolve(busybox.ref);
    assert.deepEqual(resolved, {
      name: busybox.ref,
      descriptor: {
        mediaType: MediaTypes.ociManifest,
        digest: busybox.digest,
        size: busybox.image.manifestSize,
      },
    });
    const manifestBytes = await readStream(await r.fetch(busybox.ref, resolved.descriptor));
    assert.equal(sha256(manifestBytes), busybox.digest);
    const manifest = JSON.parse(manifestBytes.toString());
    assert.equal(manifest.config.digest, busybox.imageId);
    for (const desc of [manifest.config, ...manifest.layers]) {
      const data = await readStream(await r.fetch(busybox.ref, desc));
      assert.equal(data.length, desc.size);
      assert.equal(sha256(data), desc.digest);
    }
  });

  test("a bare name is normalized to :latest; name@digest and name:tag@digest resolve by digest", async () => {
    const { r } = resolver();
    const { busybox, registry } = env;
    const bare = await r.resolve(`${registry.host}/library/busybox`);
    assert.equal(bare.name, `${registry.host}/library/busybox:latest`);
    const byDigest = await r.resolve(busybox.digestRef);
    assert.equal(byDigest.name, busybox.digestRef);
    assert.equal(byDigest.descriptor.digest, busybox.digest);
    const both = await r.resolve(`${registry.host}/library/busybox:whatever@${busybox.digest}`);
    assert.equal(both.name, busybox.digestRef, "the tag is dropped, as ParseDockerRef does");
  });

  test("missing tag, repository and digest: NotFound with containerd's message", async () => {
    const { r } = resolver();
    const host = env.registry.host;
    // containerd 1.6.20's CRI: failed to pull and unpack image "<ref>": failed to resolve reference "<ref>": <this>
    for (const ref of [
      `${host}/library/busybox:nope`,
      `${host}/nope/nothing:latest`,
      `${host}/library/busybox@sha256:${"0".repeat(64)}`,
    ]) {
      const err = await rejection(r.resolve(ref));
      assert.equal(kindOf(err), "NotFound", ref);
      assert.equal(messageOf(err), `${ref}: not found`);
    }
  });

  test("bad references fail before any request, with containerd's messages", async () => {
    const { r } = resolver();
    const err = await rejection(r.resolve(`${env.registry.host}/Library/busybox`));
    assert.equal(messageOf(err), "invalid reference format: repository name must be lowercase");
    assert.equal(kindOf(err), "Unknown");
  });

  test("fetching a blob the registry lacks is NotFound", async () => {
    const { r } = resolver();
    const desc = { mediaType: MEDIA_TYPE_CONFIG, digest: `sha256:${"1".repeat(64)}`, size: 10 };
    const err = await rejection(r.fetch(env.busybox.ref, desc));
    assert.equal(kindOf(err), "NotFound");
    assert.equal(
      messageOf(err),
      `could not fetch content descriptor ${desc.digest} (${MEDIA_TYPE_CONFIG}) from remote: not found`,
    );
  });

  test("a fetch from an offset returns the rest of the blob (Range), as an ingest resumes", async () => {
    const { r } = resolver();
    const { image } = env.busybox;
    const layer = await blobOf(image.layoutDir, image.layerDigests[0] as string);
    const desc = {
      mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
      digest: sha256(layer),
      size: layer.length,
    };
    const offset = 123_457;
    const rest = await readStream(await r.fetch(env.busybox.ref, desc, { offset }));
    assert.ok(rest.equals(layer.subarray(offset)));
  });
});

describe("media types and platforms", () => {
  test("an OCI index resolves as an index; the linux/amd64 manifest is selected, not the first", async () => {
    const { r } = resolver();
    const ref = `${env.registry.host}/library/multi:latest`;
    const { descriptor } = await r.resolve(ref);
    assert.deepEqual(descriptor, {
      mediaType: MediaTypes.ociIndex,
      digest: multi.manifestDigest,
      size: multi.manifestSize,
    });
    const index = parseIndex(descriptor, await readStream(await r.fetch(ref, descriptor)));
    assert.equal(index.manifests[0]?.platform?.architecture, "arm64", "the foreign platform is listed first");
    const chosen = selectManifest(index, defaultMatcher());
    const amd64 = multi.manifests.find((m) => m.platform.architecture === "amd64");
    assert.equal(chosen.digest, amd64?.manifestDigest);
    const manifest = JSON.parse((await readStream(await r.fetch(ref, chosen))).toString());
    const config = JSON.parse((await readStream(await r.fetch(ref, manifest.config))).toString());
    assert.deepEqual([config.os, config.architecture], ["linux", "amd64"]);
  });

  test("an index without this platform: NotFound `no match for platform in manifest: not found`", async () => {
    const { r } = resolver();
    const ref = `${env.registry.host}/library/armonly:latest`;
    const { descriptor } = await r.resolve(ref);
    const index = parseIndex(descriptor, await readStream(await r.fetch(ref, descriptor)));
    assert.throws(
      () => selectManifest(index, defaultMatcher()),
      (err) =>
        kindOf(err) === "NotFound" && messageOf(err) === "no match for platform in manifest: not found",
    );
  });

  test("Docker schema 2 manifest list and manifest are resolved with their media types", async () => {
    const { r } = resolver();
    const { registry } = env;
    // Blobs belong to repositories: the Docker documents go where multi's blobs are.
    const [arm, amd] = multi.manifests;
    assert.ok(arm && amd);
    const ociManifest = JSON.parse(
      (await registry.fetchManifest("library/multi", amd.manifestDigest)).body.toString(),
    );
    const docker = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.dockerManifest,
        config: { ...ociManifest.config, mediaType: "application/vnd.docker.container.image.v1+json" },
        layers: ociManifest.layers.map((l: object) => ({
          ...l,
          mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip",
        })),
      }),
    );
    const dockerDigest = await registry.putManifest(
      "library/multi",
      "docker",
      MediaTypes.dockerManifest,
      docker,
    );
    const list = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.dockerManifestList,
        manifests: [
          {
            mediaType: MediaTypes.ociManifest,
            digest: arm.manifestDigest,
            size: arm.manifestSize,
            platform: arm.platform,
          },
          {
            mediaType: MediaTypes.dockerManifest,
            digest: dockerDigest,
            size: docker.length,
            platform: { os: "linux", architecture: "amd64" },
          },
        ],
      }),
    );
    const listDigest = await registry.putManifest(
      "library/multi",
      "list",
      MediaTypes.dockerManifestList,
      list,
    );

    const listRef = `${registry.host}/library/multi:list`;
    const resolved = await r.resolve(listRef);
    assert.deepEqual(resolved.descriptor, {
      mediaType: MediaTypes.dockerManifestList,
      digest: listDigest,
      size: list.length,
    });
    const index = parseIndex(
      resolved.descriptor,
      await readStream(await r.fetch(listRef, resolved.descriptor)),
    );
    const chosen = selectManifest(index, defaultMatcher());
    assert.equal(chosen.digest, dockerDigest);
    assert.equal(chosen.mediaType, MediaTypes.dockerManifest);
    assert.ok((await readStream(await r.fetch(listRef, chosen))).equals(docker));
    const direct = await r.resolve(`${registry.host}/library/multi:docker`);
    assert.equal(direct.descriptor.mediaType, MediaTypes.dockerManifest);
  });
});

describe("verification", () => {
  test("bytes that do not match the digest fail the stream, naming both digests", async () => {
    const { registry } = env;
    const data = randomBytes(4096);
    const digest = await registry.putBlob("verify/blob", data);
    const corrupt = Buffer.from(data);
    corrupt[100] = (corrupt[100] as number) ^ 0xff;
    await writeFile(registry.blobPath(digest), corrupt);
    const { r } = resolver();
    const stream = await r.fetch(`${registry.host}/verify/blob:latest`, {
      mediaType: "application/octet-stream",
      digest,
      size: data.length,
    });
    const err = await rejection(readStream(stream));
    assert.equal(kindOf(err), "FailedPrecondition");
    assert.match(
      messageOf(err),
      new RegExp(
        `^content at http://${registry.host}/v2/verify/blob/blobs/${digest}: unexpected digest ${sha256(corrupt)}, expected ${digest}$`,
      ),
    );
  });

  test("more bytes than the descriptor's size fail the stream", async () => {
    const { registry } = env;
    const data = randomBytes(1000);
    const digest = await registry.putBlob("verify/long", data);
    await writeFile(registry.blobPath(digest), Buffer.concat([data, Buffer.from("extra")]));
    const { r } = resolver();
    const stream = await r.fetch(`${registry.host}/verify/long:latest`, {
      mediaType: "application/octet-stream",
      digest,
      size: data.length,
    });
    const err = await rejection(readStream(stream));
    assert.equal(kindOf(err), "FailedPrecondition");
    assert.match(messageOf(err), /: unexpected size 1005 or more, expected 1000$/);
  });
});

describe("retries", () => {
  test("a registry that starts listening late is waited for (backoff), then used", async () => {
    const { registry, busybox } = env;
    const { r, captured } = resolver({ retry: { attempts: 8, minDelayMs: 100 } });
    await registry.down();
    const resolving = r.resolve(busybox.ref);
    await sleep(700);
    await registry.up();
    const { descriptor } = await resolving;
    assert.equal(descriptor.digest, busybox.digest);
    const retries = captured.matching("retrying resolve");
    assert.ok(retries.length >= 1, "at least one retry was logged");
    assert.match(String(retries[0]?.err), /connect: connection refused$/);
  });

  test("a registry restarted mid-fetch: the stream resumes with a Range request and verifies", async () => {
    const { registry } = env;
    // Larger than what loopback socket buffers hold, so the restart really cuts the transfer.
    const data = randomBytes(48 * 1024 * 1024);
    const digest = await registry.putBlob("retry/big", data);
    const { r, captured } = resolver({ retry: { attempts: 8, minDelayMs: 100 } });
    const stream = await r.fetch(`${registry.host}/retry/big:latest`, {
      mediaType: "application/octet-stream",
      digest,
      size: data.length,
    });
    const it = stream[Symbol.asyncIterator]();
    const head: Buffer[] = [];
    let n = 0;
    while (n < 1024 * 1024) {
      const next = await it.next();
      assert.ok(!next.done);
      head.push(next.value as Buffer);
      n += (next.value as Buffer).length;
    }
    await registry.down();
    await registry.up();
    const rest: Buffer[] = [];
    for (let next = await it.next(); !next.done; next = await it.next()) rest.push(next.value as Buffer);
    const all = Buffer.concat([...head, ...rest]);
    assert.equal(all.length, data.length);
    assert.ok(all.equals(data));
    const resumed = captured.matching("resuming interrupted fetch");
    assert.ok(resumed.length >= 1, "the fetch was resumed");
    assert.ok((resumed[0]?.offset as number) >= n);
  });

  test("4xx answers are final: no retry", async () => {
    const { r, captured } = resolver({ retry: { attempts: 5 } });
    await rejection(r.resolve(`${env.registry.host}/library/busybox:nope`));
    assert.deepEqual(captured.matching("retrying"), []);
  });

  test("an unreachable registry: containerd's message after the retries run out", async () => {
    const { r, captured } = resolver({ retry: { attempts: 2, minDelayMs: 50 } });
    const err = await rejection(r.resolve("127.0.0.1:1/library/busybox:latest"));
    assert.equal(
      messageOf(err),
      'failed to do request: Head "http://127.0.0.1:1/v2/library/busybox/manifests/latest": dial tcp 127.0.0.1:1: connect: connection refused',
    );
    assert.equal(captured.matching("retrying resolve").length, 1);
  });
});
