// Ports github.com/opencontainers/go-digest (digest.go, algorithm.go): "<algorithm>:<hex>" content digests,
// validated with go-digest's messages, and the hash that computes each algorithm.
import { createHash, type Hash } from "node:crypto";
import { BerthError } from "../errdefs.js";

/** Hex length of each algorithm containerd registers (crypto/sha256 and crypto/sha512). */
const algorithms: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

const anchoredDigestRegexp = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

// go-digest's errors are plain, so CRI reports them with gRPC Unknown, as here.
const digestError = (message: string) => new BerthError("Unknown", message);

/** Digest.Validate: throws go-digest's error for a malformed or unsupported digest. */
export function validateDigest(digest: string): void {
  const i = digest.indexOf(":");
  if (i <= 0 || i + 1 === digest.length) throw digestError("invalid checksum digest format");
  const algorithm = digest.slice(0, i);
  const encoded = digest.slice(i + 1);
  const size = algorithms[algorithm];
  if (size === undefined) {
    if (!anchoredDigestRegexp.test(digest)) throw digestError("invalid checksum digest format");
    throw digestError("unsupported digest algorithm");
  }
  if (encoded.length !== size) throw digestError("invalid checksum digest length");
  if (!/^[a-f0-9]+$/.test(encoded)) throw digestError("invalid checksum digest format");
}

export interface Digester {
  update(chunk: Uint8Array): void;
  /** "<algorithm>:<hex>" of everything written so far; call once. */
  digest(): string;
}

/** A running hash in the algorithm of `digest`, which must be valid. */
export function newDigester(digest: string): Digester {
  const algorithm = digest.slice(0, digest.indexOf(":"));
  const hash: Hash = createHash(algorithm);
  return {
    update: (chunk) => {
      hash.update(chunk);
    },
    digest: () => `${algorithm}:${hash.digest("hex")}`,
  };
}

/** FromBytes: the sha256 digest of `data`. */
export function fromBytes(data: Uint8Array): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}
