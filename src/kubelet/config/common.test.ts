import assert from "node:assert/strict";
import { test } from "node:test";
import { parseJsonObject, parseManifestDocuments } from "./common.js";

test("a JSON object is read as JSON, anything else by the YAML parser with its errors", () => {
  const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "p" }, spec: { containers: [] } };
  assert.deepEqual(parseManifestDocuments(`\n ${JSON.stringify(pod, null, 2)}\n`), [
    { index: 1, value: pod },
  ]);
  assert.deepEqual(
    parseJsonObject('{"a": 1, "a": 2}'),
    { a: 2 },
    "the last of a repeated key, as encoding/json",
  );
  // YAML that starts like JSON, and JSON that is not one object, go to the YAML parser.
  assert.equal(parseJsonObject("{ a: 1 }"), undefined);
  assert.deepEqual(parseManifestDocuments("{ a: 1 }"), [{ index: 1, value: { a: 1 } }]);
  assert.equal(parseJsonObject("[1]"), undefined);
  assert.deepEqual(parseManifestDocuments("a: 1\n---\nb: 2\n"), [
    { index: 1, value: { a: 1 } },
    { index: 2, value: { b: 2 } },
  ]);
  assert.deepEqual(parseManifestDocuments('{"a": 1,\n  "b" 2}'), [
    { index: 1, error: "line 2, column 7: Missing , or : between flow map items" },
  ]);
});
