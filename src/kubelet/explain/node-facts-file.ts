// `berth explain --node FILE`: node facts that replace what berth detects on this host, so that a
// pod can be explained for another node. Keys not in the file keep the detected value.
import { parseDocument } from "yaml";
import { invalidArgument, messageOf } from "../../lib/errdefs.js";
import { parseQuantity } from "../api/quantity.js";
import { binaryQuantity, type NodeCapacity } from "../cm/node-facts.js";
import type { NodeFacts } from "../kuberuntime/settings.js";

/** What explain knows of the node: the generators' facts plus what the cgroup values depend on. */
export interface ExplainNodeFacts {
  node: NodeFacts;
  /** hugetlbControllerAvailable: without the controller no hugetlb file is written. */
  hugetlb: boolean;
  /** The node's CPUs: the kubepods cgroup's cpu.shares. */
  cpuCores: number;
}

type Setter = (facts: ExplainNodeFacts, value: unknown, key: string) => void;

const want = (key: string, what: string, got: unknown): never => {
  throw invalidArgument(`${key}: want ${what}, got ${JSON.stringify(got)}`);
};

/** A byte count: an integer, or a quantity such as "16Gi". */
function byteCount(key: string, value: unknown): bigint {
  if (typeof value !== "number" && typeof value !== "string") want(key, "a byte count or quantity", value);
  let amount: bigint;
  try {
    amount = parseQuantity(value as string | number).value();
  } catch {
    return want(key, "a byte count or quantity", value);
  }
  if (amount < 0n) want(key, "a byte count of at least 0", value);
  return amount;
}

function positiveInteger(key: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value <= 0)
    want(key, "a positive integer", value);
  return value as number;
}

function boolean(key: string, value: unknown): boolean {
  if (typeof value !== "boolean") want(key, "true or false", value);
  return value as boolean;
}

const setters: Record<string, Setter> = {
  nodeName: (f, v, k) => {
    if (typeof v !== "string" || v === "") want(k, "a non-empty string", v);
    f.node.nodeName = v as string;
  },
  cgroupVersion: (f, v, k) => {
    if (v !== "v1" && v !== "v2") want(k, '"v1" or "v2"', v);
    f.node.cgroupVersion = v as "v1" | "v2";
  },
  memoryCapacityBytes: (f, v, k) => {
    f.node.memoryCapacityBytes = byteCount(k, v);
  },
  swapCapacityBytes: (f, v, k) => {
    f.node.swapCapacityBytes = byteCount(k, v);
  },
  hugePageSizes: (f, v, k) => {
    if (!Array.isArray(v)) return want(k, 'a list of page sizes such as ["2Mi", "1Gi"]', v);
    // Written as the kubelet names them, whatever form the file uses: 2097152 → "2Mi".
    f.node.hugePageSizes = v.map((size, i) => binaryQuantity(byteCount(`${k}[${i}]`, size)));
  },
  pageSizeBytes: (f, v, k) => {
    f.node.pageSizeBytes = positiveInteger(k, v);
  },
  swapControllerAvailable: (f, v, k) => {
    f.node.swapControllerAvailable = boolean(k, v);
  },
  hugetlbControllerAvailable: (f, v, k) => {
    f.hugetlb = boolean(k, v);
  },
  cpuCores: (f, v, k) => {
    f.cpuCores = positiveInteger(k, v);
  },
};

/** The detected facts with the file's values over them; an unknown key or a bad value is an error. */
export function applyNodeFactsFile(text: string, file: string, detected: ExplainNodeFacts): ExplainNodeFacts {
  const doc = parseDocument(text, { uniqueKeys: true });
  const first = doc.errors[0];
  if (first) throw invalidArgument(`node facts ${file}: ${first.message}`);
  const raw: unknown = doc.toJS() ?? {};
  if (typeof raw !== "object" || Array.isArray(raw) || raw === null)
    throw invalidArgument(`node facts ${file}: want a mapping of facts, got ${JSON.stringify(raw)}`);
  const facts: ExplainNodeFacts = {
    ...detected,
    node: { ...detected.node, hugePageSizes: [...detected.node.hugePageSizes] },
  };
  for (const [key, value] of Object.entries(raw)) {
    const set = Object.hasOwn(setters, key) ? setters[key] : undefined;
    if (!set)
      throw invalidArgument(
        `node facts ${file}: unknown key ${JSON.stringify(key)} (known: ${Object.keys(setters).join(", ")})`,
      );
    try {
      set(facts, value, key);
    } catch (err) {
      throw invalidArgument(`node facts ${file}: ${messageOf(err)}`, err);
    }
  }
  return facts;
}

/** The node's capacity under the facts: their CPUs, memory and hugepage sizes (a size the host lacks holds none). */
export function capacityForFacts(detected: NodeCapacity, facts: ExplainNodeFacts): NodeCapacity {
  return {
    ...detected,
    cpuCores: facts.cpuCores,
    memoryBytes: facts.node.memoryCapacityBytes,
    hugePages: facts.node.hugePageSizes.map(
      (pageSize) => detected.hugePages.find((h) => h.pageSize === pageSize) ?? { pageSize, totalBytes: 0n },
    ),
  };
}
