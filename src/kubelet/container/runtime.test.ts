import assert from "node:assert/strict";
import { test } from "node:test";
import {
  buildContainerID,
  ContainerState,
  containerIDString,
  findContainerStatusByName,
  getRunningContainerStatuses,
  isEmptyContainerID,
  type PodStatus,
  parseContainerID,
  type Status,
} from "./runtime.js";

test("a container ID reads back from its string form", () => {
  const id = buildContainerID("containerd", "4f2a");
  assert.equal(containerIDString(id), "containerd://4f2a");
  assert.deepEqual(parseContainerID("containerd://4f2a"), id);
  assert.deepEqual(parseContainerID('"berth://abc"'), { type: "berth", id: "abc" });
  assert.equal(isEmptyContainerID({ type: "", id: "" }), true);
  assert.equal(isEmptyContainerID(id), false);
});

test("parseContainerID rejects strings without exactly one separator", () => {
  for (const bad of ["4f2a", "a://b://c", ""]) {
    assert.throws(() => parseContainerID(bad), /invalid container ID/, bad);
  }
});

const status = (name: string, id: string, state: ContainerState): Status => ({
  id: { type: "berth", id },
  name,
  state,
  createdAt: new Date(0),
  exitCode: 0,
  image: "busybox",
  imageID: "",
  hash: "0",
  restartCount: 0,
  reason: "",
  message: "",
});

test("findContainerStatusByName returns the newest instance; getRunningContainerStatuses filters", () => {
  const podStatus: PodStatus = {
    id: "uid",
    name: "p",
    namespace: "ns",
    ips: [],
    sandboxStatuses: [],
    timeStamp: new Date(0),
    containerStatuses: [
      status("app", "c3", ContainerState.Running),
      status("app", "c2", ContainerState.Exited),
      status("side", "c1", ContainerState.Exited),
    ],
  };
  assert.equal(findContainerStatusByName(podStatus, "app")?.id.id, "c3");
  assert.equal(findContainerStatusByName(podStatus, "side")?.id.id, "c1");
  assert.equal(findContainerStatusByName(podStatus, "gone"), undefined);
  assert.deepEqual(
    getRunningContainerStatuses(podStatus).map((s) => s.id.id),
    ["c3"],
  );
});
