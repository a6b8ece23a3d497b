// Differential test: the registry client against containerd 1.6.20 pulling through its CRI from the same
// registries. Where containerd fails, berth's error must read the same after containerd's own
// prefixes (`failed to pull and unpack image "<ref>": failed to resolve reference "<ref>": `) and carry
// the kind of containerd's gRPC code; where containerd pulls, berth must pick the same image.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { newRemoteImageService } from "../src/cri/remote-image.js";
import { type CriConnection, dialCri } from "../src/cri/transport.js";
import { kindOf, messageOf } from "../src/lib/errdefs.js";
import { parseDockerRef } from "../src/lib/reference/reference.js";
import type { Descriptor } from "../src/runtime/core/content/content.js";
import { selectManifest } from "../src/runtime/images/handlers.js";
import { isIndexType } from "../src/runtime/images/media-types.js";
import { parseIndex } from "../src/runtime/images/oci.js";
import { defaultMatcher } from "../src/runtime/images/platforms.js";
import type { RegistryAuth } from "../src/runtime/remotes/auth.js";
import { newResolver, type Resolved, type Resolver } from "../src/runtime/remotes/resolver.js";
import { type Containerd, startContainerd } from "../src/testenv/containerd/containerd.js";
import { buildMultiPlatformImage, LINUX_ARM64_V8 } from "../src/testenv/images.js";
import {
  type Registry,
  type RegistryWithTestImages,
  startRegistry,
  startRegistryWithTestImages,
} from "../src/testenv/registry.js";
import { startTokenServer, type TokenServer } from "../src/testenv/token-server.js";
import { captureLog } from "./support/capture-log.js";

const user = "alice";
const password = "s3cret";
let dir: string;
let configDir: string;
let env: RegistryWithTestImages;
let basic: Registry;
let tokens: TokenServer;
let tokenReg: Registry;
let ctrd: Containerd;
let conn: CriConnection;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "berth-remotes-ctrd-"));
  configDir = path.join(dir, "certs.d");
  env = await startRegistryWithTestImages();
  await env.registry.push(await buildMultiPlatformImage(dir), "library/multi", "latest");
  const armOnly = await buildMultiPlatformImage(dir, {
    name: "arm-only",
    platforms: [LINUX_ARM64_V8, { os: "linux", architecture: "arm", variant: "v7" }],
  });
  await env.registry.push(armOnly, "library/armonly", "latest");
  basic = await startRegistry({ htpasswd: { [user]: password } });
  await basic.push(env.busybox.image, "library/busybox", "latest");
  tokens = await startTokenServer({ users: { [user]: password } });
  tokenReg = await startRegistry({ tokenAuth: tokens.auth, credentials: { username: user, password } });
  await tokenReg.push(env.busybox.image, "library/busybox", "latest");
  const registryHosts = [env.registry.host, basic.host, tokenReg.host];
  ctrd = await startContainerd({ sandboxImage: env.pause.ref, registryHosts });
  // berth reads the same hosts.toml files containerd was given.
  for (const dirOf of [ctrd.hostsDir, configDir]) {
    for (const host of registryHosts) {
      await mkdir(path.join(dirOf, host), { recursive: true });
      await writeFile(path.join(dirOf, host, "hosts.toml"), `server = "http://${host}"\n`);
    }
    await mkdir(path.join(dirOf, "registry.berth.test"), { recursive: true });
    await writeFile(
      path.join(dirOf, "registry.berth.test", "hosts.toml"),
      `server = "http://127.0.0.1:1"\n[host."http://${env.registry.host}"]\n  capabilities = ["pull", "resolve"]\n`,
    );
  }
  conn = dialCri(ctrd.endpoint, { timeoutMs: 120_000 });
});

after(async () => {
  conn?.close();
  await ctrd?.stop();
  if (ctrd) assert.deepEqual(await ctrd.leftovers(), []);
  await tokenReg?.stop();
  await tokens?.stop();
  await basic?.stop();
  await env?.registry.stop();
  await rm(dir, { recursive: true, force: true });
});

interface Outcome {
  kind?: string;
  message?: string;
  /** The image id (config digest) pulled. */
  imageId?: string;
}

async function containerdPull(ref: string, auth?: RegistryAuth): Promise<Outcome> {
  try {
    const res = await newRemoteImageService(conn).pullImage({ image: { image: ref }, auth });
    return { imageId: res.imageRef };
  } catch (err) {
    return { kind: kindOf(err), message: messageOf(err) };
  }
}

/** What berth's pieces do for a CRI pull, each step's error wrapped as containerd wraps it. */
async function berthPull(image: string, auth?: RegistryAuth): Promise<Outcome> {
  const failed = (err: unknown, prefix: string): Outcome => ({
    kind: kindOf(err),
    message: `${prefix}${messageOf(err)}`,
  });
  let ref: string;
  try {
    ref = parseDockerRef(image).toString();
  } catch (err) {
    return failed(err, `failed to parse image reference "${image}": `);
  }
  const pullPrefix = `failed to pull and unpack image "${ref}": `;
  const r: Resolver = newResolver({ log: captureLog().log, configDir, auth, retry: { attempts: 1 } });
  try {
    let resolved: Resolved;
    try {
      resolved = await r.resolve(ref);
    } catch (err) {
      return failed(err, `${pullPrefix}failed to resolve reference "${ref}": `);
    }
    const read = async (desc: Descriptor) => {
      const chunks: Buffer[] = [];
      for await (const c of await r.fetch(ref, desc)) chunks.push(c as Buffer);
      return Buffer.concat(chunks);
    };
    let desc = resolved.descriptor;
    try {
      while (isIndexType(desc.mediaType))
        desc = selectManifest(parseIndex(desc, await read(desc)), defaultMatcher());
    } catch (err) {
      return failed(err, pullPrefix);
    }
    return { imageId: JSON.parse((await read(desc)).toString()).config.digest };
  } finally {
    await r.close();
  }
}

test("berth resolves, selects and fails as containerd 1.6.20 does", async () => {
  const host = env.registry.host;
  const cases: [string, string, RegistryAuth | undefined][] = [
    ["plain pull", env.busybox.ref, undefined],
    ["missing tag", `${host}/library/busybox:nope`, undefined],
    ["missing repository", `${host}/nope/nothing:latest`, undefined],
    ["missing digest", `${host}/library/busybox@sha256:${"0".repeat(64)}`, undefined],
    ["bad reference", "Busybox", undefined],
    ["multi-platform index", `${host}/library/multi:latest`, undefined],
    ["no matching platform", `${host}/library/armonly:latest`, undefined],
    ["mirror from hosts.toml", "registry.berth.test/library/busybox:latest", undefined],
    ["unreachable registry", "127.0.0.1:1/library/busybox:latest", undefined],
    ["basic auth", `${basic.host}/library/busybox:latest`, { username: user, password }],
    [
      "basic auth, wrong password",
      `${basic.host}/library/busybox:latest`,
      { username: user, password: "nope" },
    ],
    ["basic auth, no credentials", `${basic.host}/library/busybox:latest`, undefined],
    ["token auth", `${tokenReg.host}/library/busybox:latest`, { username: user, password }],
    [
      "token auth, wrong password",
      `${tokenReg.host}/library/busybox:latest`,
      { username: user, password: "nope" },
    ],
    ["token auth, anonymous", `${tokenReg.host}/library/busybox:latest`, undefined],
  ];
  for (const [name, ref, auth] of cases) {
    const want = await containerdPull(ref, auth);
    const got = await berthPull(ref, auth);
    assert.deepEqual(got, want, name);
  }
});
