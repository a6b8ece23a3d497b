// Checks that our runtime/v1/api.proto (through the generated descriptor) is
// wire-identical to the Kubernetes 1.28 CRI API, using a fingerprint fixture
// that was derived from the upstream api.proto text, not from our file.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import type { DescEnum, DescField, DescFile, DescMessage } from "@bufbuild/protobuf";
import { create, fromBinary, protoInt64, ScalarType, toBinary } from "@bufbuild/protobuf";
import {
  file_runtime_v1_api,
  ImageService,
  LinuxContainerResourcesSchema,
  RuntimeService,
} from "../gen/runtime/v1/api_pb.js";

interface FieldPrint {
  name: string;
  number: number;
  type: string;
  label: string;
  packed?: boolean;
  proto3Optional?: true;
  oneof?: string;
  deprecated?: true;
}
interface MessagePrint {
  name: string;
  fields: FieldPrint[];
}
interface EnumPrint {
  name: string;
  values: Record<string, number>;
}
interface MethodPrint {
  name: string;
  input: string;
  output: string;
  clientStreaming: boolean;
  serverStreaming: boolean;
}
interface ServicePrint {
  name: string;
  methods: MethodPrint[];
}
interface Fingerprint {
  package: string;
  messages: MessagePrint[];
  enums: EnumPrint[];
  services: ServicePrint[];
}

// Tests run from dist/src/cri/proto/, so find the repo root (the directory
// holding package.json) and read the fixture from the source tree.
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "package.json"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error("package.json not found above the test file");
    dir = parent;
  }
}

function loadFixture(): Fingerprint {
  const path = join(repoRoot(), "src/cri/proto/upstream-1.28.fingerprint.json");
  return JSON.parse(readFileSync(path, "utf8")) as Fingerprint;
}

function scalarName(t: ScalarType): string {
  return ScalarType[t].toLowerCase();
}

function fieldPrint(f: DescField): FieldPrint {
  let type: string;
  let label: string;
  let packed: boolean | undefined;
  switch (f.fieldKind) {
    case "scalar":
      type = scalarName(f.scalar);
      label = "optional";
      break;
    case "enum":
      type = f.enum.typeName;
      label = "optional";
      break;
    case "message":
      type = f.message.typeName;
      label = "optional";
      break;
    case "list":
      type =
        f.listKind === "scalar"
          ? scalarName(f.scalar)
          : f.listKind === "enum"
            ? f.enum.typeName
            : f.message.typeName;
      label = "repeated";
      packed = f.packed;
      break;
    case "map":
      type =
        f.mapKind === "scalar"
          ? scalarName(f.scalar)
          : f.mapKind === "enum"
            ? f.enum.typeName
            : f.message.typeName;
      label = `map<${scalarName(f.mapKey)},${type}>`;
      break;
  }
  const out: FieldPrint = { name: f.name, number: f.number, type, label };
  if (packed !== undefined) out.packed = packed;
  if (f.proto.proto3Optional) out.proto3Optional = true;
  if (f.oneof) out.oneof = f.oneof.name;
  if (f.deprecated) out.deprecated = true;
  return out;
}

// Same ordering convention as the fixture: messages in declaration order, each
// followed by its nested messages (protobuf-es does not list map entries, nor
// does the fixture); top-level enums in declaration order, then nested enums in
// message order. Fields are sorted by number.
function collect(file: DescFile): { messages: MessagePrint[]; enums: EnumPrint[] } {
  const messages: MessagePrint[] = [];
  const nestedEnums: EnumPrint[] = [];
  const enumPrint = (e: DescEnum): EnumPrint => ({
    name: e.typeName,
    values: Object.fromEntries(e.values.map((v) => [v.name, v.number])),
  });
  const walk = (m: DescMessage): void => {
    messages.push({
      name: m.typeName,
      fields: m.fields.map(fieldPrint).sort((a, b) => a.number - b.number),
    });
    for (const e of m.nestedEnums) nestedEnums.push(enumPrint(e));
    for (const n of m.nestedMessages) walk(n);
  };
  for (const m of file.messages) walk(m);
  return { messages, enums: [...file.enums.map(enumPrint), ...nestedEnums] };
}

function fingerprint(file: DescFile): Fingerprint {
  const { messages, enums } = collect(file);
  return {
    package: file.proto.package ?? "",
    messages,
    enums,
    services: file.services.map((s) => ({
      name: s.typeName,
      methods: s.methods.map((m) => ({
        name: m.name,
        input: m.input.typeName,
        output: m.output.typeName,
        clientStreaming: m.methodKind === "client_streaming" || m.methodKind === "bidi_streaming",
        serverStreaming: m.methodKind === "server_streaming" || m.methodKind === "bidi_streaming",
      })),
    })),
  };
}

const byName = <T extends { name: string }>(xs: T[]): Map<string, T> => new Map(xs.map((x) => [x.name, x]));
const sortedNames = (xs: { name: string }[]): string[] => xs.map((x) => x.name).sort();

const expected = loadFixture();
const actual = fingerprint(file_runtime_v1_api);

test("package and file options match upstream", () => {
  assert.equal(actual.package, expected.package);
  assert.equal(file_runtime_v1_api.proto.syntax, "proto3");
  assert.equal(file_runtime_v1_api.proto.options?.goPackage, "k8s.io/cri-api/pkg/apis/runtime/v1");
});

test("same set of messages, enums and services as upstream 1.28", () => {
  assert.deepStrictEqual(
    sortedNames(actual.messages),
    sortedNames(expected.messages),
    "message names differ",
  );
  assert.deepStrictEqual(sortedNames(actual.enums), sortedNames(expected.enums), "enum names differ");
  assert.deepStrictEqual(
    sortedNames(actual.services),
    sortedNames(expected.services),
    "service names differ",
  );
});

// One line per difference, keyed by field name, e.g.
// "runtime.v1.LinuxContainerResources.cpu_quota: number is 12, upstream 2".
function fieldDiffs(message: string, got: FieldPrint[], want: FieldPrint[]): string[] {
  const lines: string[] = [];
  const g = byName(got);
  const w = byName(want);
  for (const [name, wf] of w) {
    const gf = g.get(name);
    if (!gf) {
      lines.push(`${message}.${name}: missing (upstream: ${JSON.stringify(wf)})`);
      continue;
    }
    const keys = new Set([...Object.keys(wf), ...Object.keys(gf)]) as Set<keyof FieldPrint>;
    for (const k of keys) {
      if (gf[k] !== wf[k]) {
        lines.push(`${message}.${name}: ${k} is ${JSON.stringify(gf[k])}, upstream ${JSON.stringify(wf[k])}`);
      }
    }
  }
  for (const [name, gf] of g) {
    if (!w.has(name)) lines.push(`${message}.${name}: not in upstream (${JSON.stringify(gf)})`);
  }
  return lines;
}

test("every message's fields match upstream 1.28", () => {
  const want = byName(expected.messages);
  const problems: string[] = [];
  for (const m of actual.messages) {
    const w = want.get(m.name);
    if (!w) continue; // reported by the name-set test
    const diffs = fieldDiffs(m.name, m.fields, w.fields);
    problems.push(...diffs);
    if (diffs.length === 0) assert.deepStrictEqual(m.fields, w.fields, `${m.name} fields differ`);
  }
  assert.equal(
    problems.length,
    0,
    `${problems.length} field difference(s) from upstream:\n${problems.join("\n")}`,
  );
});

test("every enum's values match upstream 1.28", () => {
  const want = byName(expected.enums);
  for (const e of actual.enums) {
    const w = want.get(e.name);
    if (!w) continue;
    assert.deepStrictEqual(e.values, w.values, `enum ${e.name} values differ`);
  }
});

test("every service's RPCs match upstream 1.28", () => {
  const want = byName(expected.services);
  for (const s of actual.services) {
    const w = want.get(s.name);
    if (!w) continue;
    assert.deepStrictEqual(s.methods, w.methods, `service ${s.name} methods differ`);
  }
});

test("declaration order follows upstream", () => {
  assert.deepStrictEqual(
    actual.messages.map((m) => m.name),
    expected.messages.map((m) => m.name),
  );
  assert.deepStrictEqual(
    actual.enums.map((e) => e.name),
    expected.enums.map((e) => e.name),
  );
});

test("whole fingerprint is identical", () => {
  assert.deepStrictEqual(actual, {
    package: expected.package,
    messages: expected.messages,
    enums: expected.enums,
    services: expected.services,
  });
});

test("API size is non-trivial and the generated services are complete", () => {
  assert.ok(actual.messages.length >= 140, `only ${actual.messages.length} messages`);
  assert.equal(actual.messages.length, expected.messages.length);
  assert.equal(actual.enums.length, expected.enums.length);
  assert.equal(RuntimeService.typeName, "runtime.v1.RuntimeService");
  assert.equal(ImageService.typeName, "runtime.v1.ImageService");
  assert.equal(RuntimeService.methods.length, 29);
  assert.equal(ImageService.methods.length, 5);
  const rpcs = RuntimeService.methods.map((m) => m.name);
  for (const name of [
    "Version",
    "RunPodSandbox",
    "CreateContainer",
    "ExecSync",
    "ListPodSandboxStats",
    "CheckpointContainer",
    "GetContainerEvents",
    "ListMetricDescriptors",
    "ListPodSandboxMetrics",
    "RuntimeConfig",
  ]) {
    assert.ok(rpcs.includes(name), `RuntimeService lacks ${name}`);
  }
  assert.equal(RuntimeService.method.getContainerEvents.methodKind, "server_streaming");
  assert.equal(RuntimeService.method.version.methodKind, "unary");
});

test("LinuxContainerResources survives a binary round trip", () => {
  const msg = create(LinuxContainerResourcesSchema, {
    cpuPeriod: protoInt64.parse(100000),
    cpuQuota: protoInt64.parse(-1),
    cpuShares: protoInt64.parse(1024),
    memoryLimitInBytes: protoInt64.parse("9223372036854771712"),
    oomScoreAdj: protoInt64.parse(-998),
    cpusetCpus: "0-3,7",
    cpusetMems: "0",
    hugepageLimits: [
      { pageSize: "2MB", limit: protoInt64.uParse("1073741824") },
      { pageSize: "1GB", limit: protoInt64.uParse(0) },
    ],
    unified: { "memory.high": "max", "io.weight": "default 100" },
    memorySwapLimitInBytes: protoInt64.parse(2147483648),
  });
  const bytes = toBinary(LinuxContainerResourcesSchema, msg);
  assert.ok(bytes.length > 0);
  const back = fromBinary(LinuxContainerResourcesSchema, bytes);
  assert.deepStrictEqual(back, msg);
  assert.equal(back.cpuQuota, protoInt64.parse(-1));
  assert.equal(back.memoryLimitInBytes.toString(), "9223372036854771712");
  assert.equal(back.hugepageLimits[0]?.limit, protoInt64.uParse(1073741824));
  assert.equal(back.unified["io.weight"], "default 100");
  // Field 1 (cpu_period) is the first thing on the wire: tag 0x08, varint 100000.
  assert.deepStrictEqual([...bytes.subarray(0, 4)], [0x08, 0xa0, 0x8d, 0x06]);
});
