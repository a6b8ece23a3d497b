import assert from "node:assert/strict";
import { test } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.js";
import { newStatusView } from "./status-view.js";

const created = "2024-01-01T00:00:00Z";
const at = (seconds: number) => new Date(Date.parse(created) + seconds * 1000);

function pod(name: string, status: Pod["status"]): Pod {
  return {
    metadata: { name, namespace: "default", uid: `uid-${name}`, creationTimestamp: created },
    spec: { containers: [{ name: "c", image: "berth.local/busybox:1.35" }] },
    status,
  };
}

const waiting = (name: string) =>
  pod(name, {
    phase: "Pending",
    qosClass: "BestEffort",
    containerStatuses: [
      {
        name: "c",
        image: "",
        imageID: "",
        ready: false,
        restartCount: 0,
        state: { waiting: { reason: "ContainerCreating" } },
      },
    ],
  });
const running = (name: string, ip: string) =>
  pod(name, {
    phase: "Running",
    qosClass: "BestEffort",
    podIPs: [{ ip }],
    containerStatuses: [
      {
        name: "c",
        image: "",
        imageID: "",
        ready: true,
        restartCount: 0,
        state: { running: { startedAt: created } },
      },
    ],
  });

function capture() {
  const writes: string[] = [];
  return { writes, out: { write: (t: string) => writes.push(t), columns: 80 } };
}

test("not a terminal: the header once, then a row whenever a pod's row changes other than its age", () => {
  const { writes, out } = capture();
  const view = newStatusView(out, false, () => "unused");
  view.update([waiting("a"), waiting("b")], [], at(0));
  view.update([waiting("a"), waiting("b")], [], at(5)); // only the ages changed
  view.update([running("a", "10.90.1.2"), waiting("b")], [{ source: "a/c", text: "hello" }], at(6));
  assert.deepEqual(writes.join("").split("\n"), [
    "NAME   READY   STATUS              RESTARTS   AGE   IP       QOS",
    "a      0/1     ContainerCreating   0          0s    <none>   BestEffort",
    "b      0/1     ContainerCreating   0          0s    <none>   BestEffort",
    "a      1/1     Running             0          6s    10.90.1.2   BestEffort",
    "a/c | hello",
    "",
  ]);
});

test("a terminal: one frame redrawn in place, with each container's last line and the footer", () => {
  const { writes, out } = capture();
  let left = 30;
  const view = newStatusView(out, true, () => `stops in ${left}s`);
  view.update([waiting("a")], [], at(0));
  left = 29;
  view.update(
    [running("a", "10.90.1.2")],
    [
      { source: "a/c", text: "first" },
      { source: "a/c", text: `second, and longer than the terminal is wide: ${"x".repeat(40)}` },
    ],
    at(1),
  );
  assert.equal(writes.length, 2);
  assert.deepEqual(writes[0]?.split("\n"), [
    "NAME   READY   STATUS              RESTARTS   AGE   IP       QOS",
    "a      0/1     ContainerCreating   0          0s    <none>   BestEffort",
    "",
    "stops in 30s",
    "",
  ]);
  // Back up the four lines drawn, clear them, draw anew; lines are cut to the width less one.
  assert.deepEqual(writes[1]?.split("\n"), [
    "\x1b[4F\x1b[JNAME   READY   STATUS    RESTARTS   AGE   IP          QOS",
    "a      1/1     Running   0          1s    10.90.1.2   BestEffort",
    "",
    `a/c   second, and longer than the terminal is wide: ${"x".repeat(26)}…`,
    "",
    "stops in 29s",
    "",
  ]);
  // After close, the next frame starts below what is on the screen.
  view.close();
  view.update([], [], at(2));
  assert.ok(!writes[2]?.startsWith("\x1b"));
});
