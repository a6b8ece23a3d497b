import assert from "node:assert/strict";
import { test } from "node:test";
import { updateLabels, validateLabels } from "./labels.js";

test("updateLabels applies field paths as containerd does", () => {
  const current = { a: "1", b: "2" };
  const given = { b: "20", c: "30", e: "" };
  const cases: { fieldpaths?: string[]; want: Record<string, string> }[] = [
    { want: { b: "20", c: "30" } },
    { fieldpaths: ["labels"], want: { b: "20", c: "30" } },
    { fieldpaths: ["labels.b"], want: { a: "1", b: "20" } },
    { fieldpaths: ["labels.a"], want: { b: "2" } },
    { fieldpaths: ["labels.e", "labels.c"], want: { a: "1", b: "2", c: "30" } },
    { fieldpaths: ["labels.x.y/z"], want: { a: "1", b: "2" } },
  ];
  for (const { fieldpaths, want } of cases) {
    assert.deepEqual(updateLabels(current, given, fieldpaths), want, String(fieldpaths));
  }
  assert.deepEqual(current, { a: "1", b: "2" });
  assert.throws(() => updateLabels(current, given, ["target"]), { kind: "InvalidArgument" });
  assert.deepEqual(
    updateLabels(current, given, ["target"], (p) => p === "target"),
    current,
  );
});

test("validateLabels limits key and value together to 4096 bytes", () => {
  validateLabels({ k: "v".repeat(4095) });
  assert.throws(() => validateLabels({ k: "v".repeat(4096) }), { kind: "InvalidArgument" });
  assert.throws(() => validateLabels({ k: "é".repeat(2048) }), { kind: "InvalidArgument" });
});
