// What the registry-client tests share: the error a promise rejects with, and a whole
// image fetched through a resolver (every blob drained, so size and digest get checked).
import type { Resolver } from "../../src/runtime/remotes/resolver.js";

export async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected a rejection");
}

/** Resolves `ref`, fetches its manifest, config and layers; the manifest's digest. */
export async function fetchImage(r: Resolver, ref: string): Promise<string> {
  const { descriptor } = await r.resolve(ref);
  const chunks: Buffer[] = [];
  for await (const c of await r.fetch(ref, descriptor)) chunks.push(c as Buffer);
  const manifest = JSON.parse(Buffer.concat(chunks).toString());
  for (const desc of [manifest.config, ...manifest.layers]) {
    for await (const _ of await r.fetch(ref, desc)) {
      // drain; the stream verifies size and digest
    }
  }
  return descriptor.digest;
}
