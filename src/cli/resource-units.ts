// Memory sizes as crictl's --memory takes them ("512m", "1g", "1048576"): Docker's
// RAMInBytes, binary multiples.
import { invalidArgument } from "../lib/errdefs.js";

const multiples: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
  p: 1024 ** 5,
};

export function ramInBytes(text: string): bigint {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?$/i.exec(text.trim());
  const mult = m ? multiples[(m[2] ?? "").toLowerCase()] : undefined;
  if (!m || mult === undefined) throw invalidArgument(`invalid size "${text}" (examples: 1048576, 512m, 1g)`);
  return BigInt(Math.floor(Number(m[1]) * mult));
}
