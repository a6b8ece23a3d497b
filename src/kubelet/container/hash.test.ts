import assert from "node:assert/strict";
import { test } from "node:test";
import type { Container } from "kubernetes-types/core/v1.js";
import { hashContainer } from "./hash.js";

test("hashContainer is FNV-1a 32 of the canonical JSON, in hex", () => {
  // Expected values computed independently over the same bytes.
  assert.equal(hashContainer({ name: "foo", image: "busybox" }), "dbc3877b");
  assert.equal(hashContainer({ name: "c", env: [{ value: "1", name: "A" }] }), "bbd550f6");
});

test("hashContainer ignores key order and absent or empty values", () => {
  const base: Container = { name: "app", image: "busybox", command: ["sleep", "1d"] };
  const same: Container[] = [
    { command: ["sleep", "1d"], image: "busybox", name: "app" },
    { ...base, env: [], ports: [], resources: {}, securityContext: { capabilities: {} } },
    { ...base, workingDir: undefined, args: undefined },
  ];
  for (const c of same) assert.equal(hashContainer(c), hashContainer(base), JSON.stringify(c));
});

test("hashContainer changes with anything that makes a restart necessary", () => {
  const base: Container = { name: "app", image: "busybox", command: ["sleep", "1d"] };
  const changed: Container[] = [
    { ...base, image: "busybox:1.36" },
    { ...base, command: ["1d", "sleep"] },
    { ...base, env: [{ name: "A", value: "1" }] },
    { ...base, resources: { limits: { memory: "64Mi" } } },
    { ...base, securityContext: { privileged: false } },
    { ...base, livenessProbe: { exec: { command: ["true"] } } },
  ];
  const hashes = new Set([base, ...changed].map(hashContainer));
  assert.equal(hashes.size, changed.length + 1);
});
