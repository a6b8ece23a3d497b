// The digests the stores accept: sha256 only, the one algorithm of the blobs/sha256 layout
// and of the images berth pulls. (src/runtime/reference/digest.ts validates any go-digest
// digest with go-digest's messages, for the CRI edge.)
import { invalidArgument } from "../../lib/errdefs.js";

const Sha256Digest = /^sha256:[a-f0-9]{64}$/;

export function isSha256Digest(value: string): boolean {
  return Sha256Digest.test(value);
}

/** InvalidArgument unless `value` is "sha256:" and 64 lowercase hex digits. */
export function validateSha256Digest(value: string, what = "digest"): void {
  if (!isSha256Digest(value)) throw invalidArgument(`${what} "${value}" is not a sha256 digest`);
}

/** The hex part, which names the blob file. */
export function digestHex(digest: string): string {
  validateSha256Digest(digest);
  return digest.slice("sha256:".length);
}
