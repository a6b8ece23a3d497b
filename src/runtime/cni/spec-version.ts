// CNI spec versions, after containernetworking/cni pkg/version (version.go, GreaterThanOrEqualTo).

/** Every released spec version; a config naming another one is refused while loading. */
export const SpecVersions = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] as const;

export function isSpecVersion(v: string): boolean {
  return (SpecVersions as readonly string[]).includes(v);
}

/** Compares two released spec versions, numerically part by part. */
export function versionAtLeast(version: string, min: string): boolean {
  const a = version.split(".").map(Number);
  const b = min.split(".").map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d > 0;
  }
  return true;
}
