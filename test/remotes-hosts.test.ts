// Per-host configuration in hosts.toml against real registries: mirrors tried before the server (and
// skipped when down or missing the image), and TLS with a CA file or skip_verify.

import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { kindOf, messageOf } from "../src/lib/errdefs.js";
import { freePort } from "../src/lib/free-port.js";
import type { BuiltImage } from "../src/local-images/oci-image-builder.js";
import { newResolver, type Resolver } from "../src/runtime/remotes/resolver.js";
import { buildTestImages, defaultImagesDir } from "../src/testenv/images.js";
import { type Registry, startRegistry } from "../src/testenv/registry.js";
import { type CapturedLog, captureLog } from "./support/capture-log.js";
import { fetchImage, rejection } from "./support/resolver.js";

let dir: string;
let busybox: BuiltImage;
const resolvers: Resolver[] = [];
const registries: Registry[] = [];

/** Writes `<dir>/<name>/<host>/hosts.toml` and returns a resolver reading `<dir>/<name>`. */
async function withHostsToml(
  name: string,
  host: string,
  toml: string,
): Promise<{ r: Resolver; captured: CapturedLog }> {
  const configDir = path.join(dir, name);
  await mkdir(path.join(configDir, host), { recursive: true });
  await writeFile(path.join(configDir, host, "hosts.toml"), toml);
  const captured = captureLog();
  const r = newResolver({ log: captured.log, configDir, retry: { attempts: 2, minDelayMs: 50 } });
  resolvers.push(r);
  return { r, captured };
}

/** Lines of the registry's access log that requested `pathPart`. */
async function accessed(reg: Registry, pathPart: string): Promise<string[]> {
  return (await readFile(reg.logPath, "utf8")).split("\n").filter((l) => l.includes(pathPart));
}

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "berth-remotes-hosts-"));
  busybox = (await buildTestImages(defaultImagesDir())).find((i) => i.name === "busybox") as BuiltImage;
});

after(async () => {
  for (const r of resolvers) await r.close();
  for (const reg of registries) await reg.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("mirrors", () => {
  let withImage: Registry;
  let empty: Registry;
  before(async () => {
    withImage = await startRegistry();
    empty = await startRegistry();
    registries.push(withImage, empty);
    await withImage.push(busybox, "library/busybox", "latest");
  });

  test("a mirror serves a registry name that is never contacted (server unreachable)", async () => {
    // An RFC 2606 name: resolving it would fail, so only the mirror can answer.
    const { r } = await withHostsToml(
      "mirror-first",
      "registry.berth.test",
      `server = "http://127.0.0.1:1"\n\n[host."http://${withImage.host}"]\n  capabilities = ["pull", "resolve"]\n`,
    );
    const digest = await fetchImage(r, "registry.berth.test/library/busybox:latest");
    assert.equal(digest, busybox.manifestDigest);
    const requests = await accessed(withImage, "ns=registry.berth.test");
    assert.ok(requests.length >= 4, "manifest, config and layer requests name the original registry in ns=");
  });

  test("a mirror that is down is skipped for the server", async () => {
    const downPort = await freePort();
    const { r, captured } = await withHostsToml(
      "mirror-down",
      withImage.host,
      `server = "http://${withImage.host}"\n\n[host."http://127.0.0.1:${downPort}"]\n  capabilities = ["pull", "resolve"]\n`,
    );
    assert.equal(await fetchImage(r, `${withImage.host}/library/busybox:latest`), busybox.manifestDigest);
    const skipped = captured.matching("trying next host");
    assert.match(
      String(skipped[0]?.err),
      new RegExp(`dial tcp 127.0.0.1:${downPort}: connect: connection refused`),
    );
    assert.deepEqual(captured.matching("retrying"), [], "no waiting when another host answers");
  });

  test("a mirror without the image (404) falls through to the server", async () => {
    const { r, captured } = await withHostsToml(
      "mirror-404",
      withImage.host,
      `server = "http://${withImage.host}"\n\n[host."http://${empty.host}"]\n`,
    );
    assert.equal(await fetchImage(r, `${withImage.host}/library/busybox:latest`), busybox.manifestDigest);
    assert.ok(captured.matching("response was http.StatusNotFound").length >= 1);
    assert.ok(
      (await accessed(empty, `ns=${encodeURIComponent(withImage.host)}`)).length >= 1,
      "the mirror was asked first",
    );
  });

  test("a pull-only mirror is not asked to resolve a tag", async () => {
    const { r } = await withHostsToml(
      "mirror-pull-only",
      withImage.host,
      `server = "http://${withImage.host}"\n\n[host."http://${empty.host}"]\n  capabilities = ["pull"]\n`,
    );
    const asked = (await accessed(empty, "/manifests/latest")).length;
    await r.resolve(`${withImage.host}/library/busybox:latest`);
    assert.equal((await accessed(empty, "/manifests/latest")).length, asked);
  });

  test("everything missing, server down: containerd's first error, not `not found`", async () => {
    const { r } = await withHostsToml(
      "all-missing",
      "registry.berth.test",
      `server = "http://127.0.0.1:1"\n\n[host."http://${withImage.host}"]\n  capabilities = ["pull", "resolve"]\n`,
    );
    const err = await rejection(r.resolve("registry.berth.test/library/nothing:latest"));
    assert.equal(
      messageOf(err),
      'failed to do request: Head "http://127.0.0.1:1/v2/library/nothing/manifests/latest?ns=registry.berth.test": dial tcp 127.0.0.1:1: connect: connection refused',
    );
  });

  test("a hosts.toml that does not parse fails the pull, naming the file", async () => {
    const { r } = await withHostsToml("broken", withImage.host, 'server = "http://x\n');
    const err = await rejection(r.resolve(`${withImage.host}/library/busybox:latest`));
    assert.equal(kindOf(err), "InvalidArgument");
    assert.match(messageOf(err), /^failed to parse hosts file ".*\/broken\/127\.0\.0\.1:\d+\/hosts\.toml": /);
  });
});

describe("TLS", () => {
  let tls: Registry;
  before(async () => {
    tls = await startRegistry({ tls: true });
    registries.push(tls);
    await tls.push(busybox, "library/busybox", "latest");
  });

  test("`ca` trusts the registry's self-signed certificate", async () => {
    const certPath = tls.tls?.certPath as string;
    const { r } = await withHostsToml(
      "tls-ca",
      tls.host,
      `server = "https://${tls.host}"\nca = "${certPath}"\n`,
    );
    assert.equal(await fetchImage(r, `${tls.host}/library/busybox:latest`), busybox.manifestDigest);
  });

  test("`skip_verify` accepts it without a CA", async () => {
    const { r } = await withHostsToml(
      "tls-skip",
      tls.host,
      `server = "https://${tls.host}"\nskip_verify = true\n`,
    );
    assert.equal(await fetchImage(r, `${tls.host}/library/busybox:latest`), busybox.manifestDigest);
  });

  test("neither: the certificate is refused as Go refuses it, without retries", async () => {
    const { r, captured } = await withHostsToml("tls-none", tls.host, `server = "https://${tls.host}"\n`);
    const err = await rejection(r.resolve(`${tls.host}/library/busybox:latest`));
    assert.equal(
      messageOf(err),
      `failed to do request: Head "https://${tls.host}/v2/library/busybox/manifests/latest": x509: certificate signed by unknown authority`,
    );
    assert.deepEqual(captured.matching("retrying"), []);
  });
});
