import assert from "node:assert/strict";
import { test } from "node:test";
import { messageOf } from "../lib/errdefs.js";
import { newLogger } from "../lib/log.js";
import { type InitContext, initOrder, loadPlugins, type Plugin, pluginUri } from "./plugin.js";

const log = newLogger("error");
log.level = "silent";

/** Plugins that record init and close in `events`; `fail` names one whose init throws. */
function recorded(specs: [type: string, id: string, requires: string[]][], events: string[], fail?: string) {
  return specs.map(
    ([type, id, requires]): Plugin<string> => ({
      type,
      id,
      requires,
      init: async (ic: InitContext) => {
        if (id === fail) throw new Error("disk on fire");
        events.push(`init ${id}`);
        for (const r of requires) events.push(`  ${id} got ${ic.get(r)}`);
        return `instance of ${id}`;
      },
      close: (instance) => {
        events.push(`close ${instance.replace("instance of ", "")}`);
      },
    }),
  );
}

const load = (plugins: Plugin[], configs = new Map<string, unknown>()) =>
  loadPlugins(plugins, { root: "/r", state: "/s", configs, log });

test("init order follows requires, list order otherwise", () => {
  const plugins = recorded(
    [
      ["grpc", "cri", ["images", "metadata"]],
      ["images", "local", ["content", "metadata"]],
      ["content", "local2", ["metadata"]],
      ["metadata", "lmdb", []],
      ["snapshotter", "overlayfs", []],
    ],
    [],
  );
  assert.deepEqual(initOrder(plugins).map(pluginUri), [
    "metadata.lmdb",
    "content.local2",
    "images.local",
    "grpc.cri",
    "snapshotter.overlayfs",
  ]);
});

test("a plugin comes after every plugin of a type it requires", () => {
  const plugins = recorded(
    [
      ["grpc", "cri", ["snapshotter"]],
      ["snapshotter", "overlayfs", []],
      ["snapshotter", "native", []],
    ],
    [],
  );
  assert.deepEqual(initOrder(plugins).map(pluginUri), [
    "snapshotter.overlayfs",
    "snapshotter.native",
    "grpc.cri",
  ]);
});

test("loads in order, gives each its dirs, config and dependencies, closes in reverse", async () => {
  const events: string[] = [];
  const plugins = recorded(
    [
      ["grpc", "cri", ["metadata"]],
      ["metadata", "lmdb", []],
    ],
    events,
  );
  let seen: InitContext | undefined;
  const spy: Plugin = {
    type: "probe",
    id: "probe",
    requires: [],
    init: (ic) => {
      seen = ic;
      return 1;
    },
  };
  const loaded = await load([...plugins, spy], new Map([["probe", { answer: 42 }]]));
  assert.deepEqual(
    loaded.loaded.map((l) => [pluginUri(l.plugin), l.instance]),
    [
      ["metadata.lmdb", "instance of lmdb"],
      ["grpc.cri", "instance of cri"],
      ["probe.probe", 1],
    ],
  );
  assert.equal(seen?.root, "/r/probe.probe");
  assert.equal(seen?.state, "/s/probe.probe");
  assert.deepEqual(seen?.config, { answer: 42 });
  await loaded.close();
  assert.deepEqual(events, [
    "init lmdb",
    "init cri",
    "  cri got instance of lmdb",
    "close cri",
    "close lmdb",
  ]);
});

test("a missing dependency is named", async () => {
  const plugins = recorded([["grpc", "cri", ["metadata"]]], []);
  await assert.rejects(load(plugins), {
    message: 'plugin grpc.cri requires a "metadata" plugin, and none is registered',
  });
});

test("a cycle is named with its path", () => {
  const plugins = recorded(
    [
      ["a", "a1", ["b"]],
      ["b", "b1", ["c"]],
      ["c", "c1", ["a"]],
    ],
    [],
  );
  assert.throws(() => initOrder(plugins), { message: "plugin dependency cycle: a.a1 → b.b1 → c.c1 → a.a1" });
});

test("two plugins may not share an id (it names their config section)", () => {
  const plugins = recorded(
    [
      ["content", "local", []],
      ["images", "local", []],
    ],
    [],
  );
  assert.throws(() => initOrder(plugins), {
    message: 'plugin id "local" is used twice: content.local and images.local',
  });
});

test("an init failure closes the started plugins in reverse and names the plugin", async () => {
  const events: string[] = [];
  const plugins = recorded(
    [
      ["metadata", "lmdb", []],
      ["content", "local", ["metadata"]],
      ["grpc", "cri", ["content"]],
      ["other", "never", ["grpc"]],
    ],
    events,
    "cri",
  );
  await assert.rejects(
    load(plugins),
    (err) => messageOf(err) === "failed to load plugin grpc.cri: disk on fire",
  );
  assert.deepEqual(events, [
    "init lmdb",
    "init local",
    "  local got instance of lmdb",
    "close local",
    "close lmdb",
  ]);
});

test("a failing close is logged and the others still close", async () => {
  const events: string[] = [];
  const [first, second] = recorded(
    [
      ["metadata", "lmdb", []],
      ["content", "local", []],
    ],
    events,
  );
  assert.ok(first && second);
  const loaded = await load([
    first,
    {
      ...second,
      close: () => {
        throw new Error("stuck");
      },
    },
  ]);
  await loaded.close();
  assert.deepEqual(events, ["init lmdb", "init local", "close lmdb"]);
});

test("get() is for declared requirements only, and picks by id among several", async () => {
  const results: string[] = [];
  const user = (requires: string[], body: (ic: InitContext) => unknown): Plugin => ({
    type: "user",
    id: `user${results.length}`,
    requires,
    init: (ic) => {
      try {
        results.push(String(body(ic)));
      } catch (err) {
        results.push(messageOf(err));
      }
    },
  });
  const snapshotters = recorded(
    [
      ["snapshotter", "overlayfs", []],
      ["snapshotter", "native", []],
    ],
    [],
  );
  await load([...snapshotters, user(["snapshotter"], (ic) => ic.get("snapshotter", "native"))]);
  await load([...snapshotters, user(["snapshotter"], (ic) => ic.get("snapshotter"))]);
  await load([...snapshotters, user([], (ic) => ic.get("snapshotter"))]);
  assert.deepEqual(results, [
    "instance of native",
    'several "snapshotter" plugins (overlayfs, native): name the one wanted',
    'plugin user.user2 asked for a "snapshotter" plugin without requiring it',
  ]);
});
