// Container log rotation end to end, on containerd 1.6.20 and on `berth runtime`: a container writes
// numbered lines steadily while berth's kubelet rotates its CRI log past containerLogMaxSize. The
// files left must be what the policy allows (the current file, one uncompressed rotated file, gzipped
// older ones, at most containerLogMaxFiles in all), and read in order they must hold one unbroken run
// of lines: nothing lost or repeated at a rotation, and the runtime writing on into the new file
// (ReopenContainerLog). The pod is taken down through the kubelet and nothing is left behind.

import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { gunzipSync } from "node:zlib";
import type { Pod } from "kubernetes-types/core/v1.js";
import { parseCRILog } from "../src/kubelet/kuberuntime/logs.js";
import { getAllLogs } from "../src/kubelet/logs/container-log-manager.js";
import type { BerthKubelet } from "../src/testenv/kubelet.js";
import { type RegistryWithTestImages, startRegistryWithTestImages } from "../src/testenv/registry.js";
import { type CriRuntime, criRuntimes, runtimeForSuite } from "./support/cri-runtimes.js";
import { withKubelet } from "./support/kubelet-scenario.js";

const ns = "default";
const maxSize = 20 * 1024;
const maxFiles = 3;
const padding = "x".repeat(80);
/** A line as the container writes it. */
const lineRe = new RegExp(`^line (\\d+) ${padding}$`);
// Ten lines per 20 ms (tens of KiB a second): the file passes 20Ki between two 3 s checks, without
// a fork per line.
const writer = `trap 'exit 0' TERM; i=0; while true; do j=0; while [ $j -lt 10 ]; do echo "line $i ${padding}"; i=$((i+1)); j=$((j+1)); done; usleep 20000; done`;

let reg: RegistryWithTestImages;

before(async () => {
  reg = await startRegistryWithTestImages();
});

after(async () => {
  await reg?.registry.stop();
});

for (const runtime of criRuntimes(() => reg)) rotationScenario(runtime.name, runtime.start);

/** What a container's log directory holds at one moment, and the lines in it in order. */
interface Snapshot {
  /** The file names, sorted. */
  names: string[];
  /** Bytes of each kept file, decompressed, by name. */
  sizes: Map<string, number>;
  /** The line numbers, in the order the files give them. */
  numbers: number[];
}

function rotationScenario(name: string, start: () => Promise<CriRuntime>): void {
  describe(`container log rotation on ${name}`, () => {
    const rt = runtimeForSuite(name, start);

    it("rotates, compresses and trims the log with no line lost", { timeout: 90_000 }, async () => {
      const configOverrides = {
        containerLogMaxSize: "20Ki",
        containerLogMaxFiles: maxFiles,
        containerLogMonitorInterval: "3s",
      };
      await withKubelet(rt.cri, { runtimeEndpoint: rt.target.endpoint, configOverrides }, scenario);
    });

    const scenario = async (k: BerthKubelet) => {
      const pod = await k.apply(writerPod());
      const running = await k.waitFor(
        ns,
        "log-writer",
        (p) => p?.status?.containerStatuses?.[0]?.state?.running !== undefined,
        60_000,
      );
      const uid = running?.metadata?.uid ?? pod.metadata?.uid ?? "";
      const [container] = (
        await rt.cri.listContainers({ filter: { labelSelector: { "io.kubernetes.pod.uid": uid } } })
      ).containers;
      const logPath =
        (await rt.cri.containerStatus({ containerId: container?.id ?? "" })).status?.logPath ?? "";
      assert.ok(logPath.startsWith(k.dir), `log path ${logPath} under the kubelet's podLogsDir`);

      // Three rotations: the first makes a rotated file, the second compresses it, the third
      // removes the oldest file, so line 0 is gone.
      const deadline = Date.now() + 60_000;
      let snap = await snapshot(logPath);
      while (!(snap.names.some((n) => n.endsWith(".gz")) && (snap.numbers[0] ?? 0) > 0)) {
        assert.ok(Date.now() < deadline, `no third rotation within 60 s: ${snap.names.join(", ")}`);
        await sleep(500);
        snap = await snapshot(logPath);
      }

      const current = basename(logPath);
      const rotated = snap.names.filter((n) => n !== current);
      assert.ok(snap.names.includes(current), `the current file is there: ${snap.names}`);
      assert.ok(snap.names.length <= maxFiles, `at most ${maxFiles} files: ${snap.names}`);
      for (const n of rotated) {
        assert.match(n, new RegExp(`^${current.replace(".", "\\.")}\\.\\d{8}-\\d{6}(\\.gz)?$`));
        // A file is rotated only once it has reached the size.
        assert.ok((snap.sizes.get(n) ?? 0) >= maxSize, `${n}: ${snap.sizes.get(n)} bytes`);
      }
      const plain = rotated.filter((n) => !n.endsWith(".gz"));
      assert.ok(plain.length <= 1, `one uncompressed rotated file at most: ${plain}`);
      // The uncompressed one is the newest rotated file: the runtime may still be finishing it.
      if (plain.length === 1) assert.equal(rotated.at(-1), plain[0]);
      assert.ok(rotated.length >= 1 && rotated.length <= maxFiles - 1, `rotated files: ${rotated}`);

      // One unbroken run of lines from the oldest file kept through the current one.
      assertContiguous(snap.numbers);
      assert.ok((snap.sizes.get(current) ?? 0) > 0, "the runtime writes into the new current file");

      // And it keeps writing there.
      const last = snap.numbers.at(-1) ?? 0;
      await sleep(1000);
      const later = await snapshot(logPath);
      assertContiguous(later.numbers);
      assert.ok((later.numbers.at(-1) ?? 0) > last, `lines after ${last}`);
    };
  });
}

function writerPod(): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "log-writer", namespace: ns },
    spec: {
      terminationGracePeriodSeconds: 2,
      containers: [
        {
          name: "writer",
          image: reg.busybox.ref,
          imagePullPolicy: "IfNotPresent",
          command: ["sh", "-c", writer],
        },
      ],
    },
  };
}

/**
 * The container's log files and their lines, read while the kubelet may rotate: read again when
 * the directory changed during the read (a rotation, or conmon's <log>.tmp during a reopen).
 */
async function snapshot(logPath: string): Promise<Snapshot> {
  const dir = dirname(logPath);
  const list = async () => (await readdir(dir)).sort();
  for (let attempt = 0; ; attempt++) {
    assert.ok(attempt < 20, "the log directory kept changing");
    const names = await list();
    try {
      if (names.some((n) => n.endsWith(".tmp"))) throw new Error("rotation under way");
      const sizes = new Map<string, number>();
      const records: Buffer[] = [];
      for (const path of await getAllLogs(logPath)) {
        const raw = await readFile(path);
        const data = path.endsWith(".gz") ? gunzipSync(raw) : raw;
        sizes.set(basename(path), data.length);
        records.push(data);
      }
      if ((await list()).join() !== names.join()) throw new Error("rotated while read");
      return { names, sizes, numbers: lineNumbers(Buffer.concat(records)) };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== undefined && code !== "ENOENT") throw err;
      await sleep(50);
    }
  }
}

/**
 * The numbers of the container's lines in CRI log records, partial ("P") records joined to the
 * full one that ends them. A first line cut by the removal of older files, and a last one the
 * runtime is still writing, are left out.
 */
function lineNumbers(data: Buffer): number[] {
  const text: Buffer[] = [];
  let start = 0;
  for (let nl = data.indexOf(10); nl >= 0; nl = data.indexOf(10, start)) {
    const msg = parseCRILog(data.subarray(start, nl + 1));
    assert.equal(msg.stream, "stdout");
    text.push(msg.log);
    start = nl + 1;
  }
  const lines = Buffer.concat(text).toString("utf8").split("\n");
  lines.pop();
  if (lines.length > 0 && !lineRe.test(lines[0] ?? "")) lines.shift();
  return lines.map((l) => {
    const m = lineRe.exec(l);
    assert.ok(m, `a line the container did not write: ${JSON.stringify(l.slice(0, 120))}`);
    return Number(m[1]);
  });
}

function assertContiguous(numbers: number[]): void {
  assert.ok(numbers.length > 0, "no lines");
  for (let i = 1; i < numbers.length; i++) {
    const [prev = 0, cur = 0] = [numbers[i - 1], numbers[i]];
    if (cur !== prev + 1) assert.fail(`line ${cur} follows line ${prev}: lines lost or repeated`);
  }
}
