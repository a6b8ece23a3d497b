// k8s.io/apimachinery/pkg/api/resource/quantity.go (as vendored by kubelet 1.28): resource quantities
// such as "100m", "1.5Gi" or "5e3". apimachinery keeps a quantity at nano precision at most, rounding
// any finer value up (so "a little" never becomes zero) and capping it at 2^63-1 units; berth keeps the
// same value exactly as a count of nano-units in a bigint.
import { invalidArgument } from "../../lib/errdefs.js";

const NANO = 1_000_000_000n;
/** The largest amount a quantity holds, in whole units (apimachinery's maxAllowed). */
const MAX_UNITS = (1n << 63n) - 1n;
const MAX_NANOS = MAX_UNITS * NANO;

export class Quantity {
  static readonly zero = new Quantity(0n);

  /** The amount in units of 10^-9 (1 = "1n", 1_000_000 = "1m", 1_000_000_000 = "1"). */
  constructor(readonly nanos: bigint) {}

  /** Quantity.Value: whole units, any fraction rounded away from zero ("0.1" is 1). */
  value(): bigint {
    return divideAwayFromZero(this.nanos, NANO);
  }

  /** Quantity.MilliValue: thousandths, rounded away from zero ("0.1m" is 1). */
  milliValue(): bigint {
    return divideAwayFromZero(this.nanos, 1_000_000n);
  }

  isZero(): boolean {
    return this.nanos === 0n;
  }

  /** Quantity.Cmp: -1, 0 or 1. */
  cmp(other: Quantity): number {
    return this.nanos < other.nanos ? -1 : this.nanos > other.nanos ? 1 : 0;
  }

  add(other: Quantity): Quantity {
    return new Quantity(this.nanos + other.nanos);
  }
}

function divideAwayFromZero(n: bigint, d: bigint): bigint {
  const q = n / d;
  if (n % d === 0n) return q;
  return n < 0n ? q - 1n : q + 1n;
}

// The shape apimachinery accepts: sign, digits, optional fraction, then a suffix made of suffix letters
// and an optional signed exponent. Whether the suffix means anything is checked separately, as upstream
// tells a malformed quantity ("1.1.1") from an unknown suffix ("1KB") only by its error.
const quantityShape = /^([+-]?)([0-9]*)(?:\.([0-9]*))?([eEinumkKMGTP]*[+-]?[0-9]*)$/;

const decimalSuffixes: Record<string, number> = {
  n: -9,
  u: -6,
  m: -3,
  "": 0,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};
const binarySuffixes: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };

/** resource.ParseQuantity. A string or number in a manifest; throws InvalidArgument naming the value. */
export function parseQuantity(input: string | number): Quantity {
  const text = String(input);
  const shape = quantityShape.exec(text);
  if (text === "" || !shape) {
    throw invalidArgument(
      `invalid quantity ${JSON.stringify(text)}: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`,
    );
  }
  const [, sign = "", whole = "", fraction = "", suffix = ""] = shape;
  const scale = interpretSuffix(suffix);
  if (!scale)
    throw invalidArgument(`invalid quantity ${JSON.stringify(text)}: unable to parse quantity's suffix`);

  // The digits as an integer with `fraction.length` decimal places, times the suffix's power.
  let digits = BigInt(`0${whole}${fraction}`);
  let tens = 9 - fraction.length;
  if (scale.base === 2) digits <<= BigInt(scale.exponent);
  else tens += scale.exponent;
  const nanos = scaleToNanos(digits, tens);
  return new Quantity(sign === "-" ? -nanos : nanos);
}

function interpretSuffix(suffix: string): { base: 2 | 10; exponent: number } | undefined {
  const decimal = decimalSuffixes[suffix];
  if (decimal !== undefined) return { base: 10, exponent: decimal };
  const binary = binarySuffixes[suffix];
  if (binary !== undefined) return { base: 2, exponent: binary };
  // "e3", "E-2": a decimal exponent (a lone "E" is exa, above).
  if (
    suffix.length > 1 &&
    (suffix[0] === "e" || suffix[0] === "E") &&
    /^[+-]?[0-9]+$/.test(suffix.slice(1))
  ) {
    const exponent = BigInt(suffix.slice(1));
    if (exponent > MAX_UNITS || exponent < -MAX_UNITS - 1n) return undefined;
    return { base: 10, exponent: Number(exponent) };
  }
  return undefined;
}

/** digits × 10^tens as nano-units: finer values round up to 1n, larger ones stop at the cap. */
function scaleToNanos(digits: bigint, tens: number): bigint {
  if (digits === 0n) return 0n;
  const length = digits.toString().length;
  if (length + tens > 29) return MAX_NANOS; // past 10^28 nano-units, far above the cap
  if (length + tens < 0) return 1n; // below 1n: rounds up to the smallest amount
  const scaled = tens >= 0 ? digits * 10n ** BigInt(tens) : divideAwayFromZero(digits, 10n ** BigInt(-tens));
  return scaled > MAX_NANOS ? MAX_NANOS : scaled;
}
