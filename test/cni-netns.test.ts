// Persistent network namespaces made with util-linux, as the CRI will make one per pod sandbox.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { execInNetNS, listNetNS, netNSExists, newNetNS, removeNetNS } from "../src/runtime/netns/netns.js";

const exec = promisify(execFile);
let base: string;

before(async () => {
  base = await mkdtemp(join(tmpdir(), "berth-netns-"));
});

after(async () => {
  for (const p of await listNetNS(join(base, "netns"))) await removeNetNS(p).catch(() => {});
  await rm(base, { recursive: true, force: true });
});

const mountsUnderBase = async () =>
  (await readFile("/proc/self/mountinfo", "utf8")).split("\n").filter((l) => l.includes(base));

test("a new netns is an nsfs mount on cni-<uuid> holding only a down loopback", async () => {
  const dir = join(base, "netns");
  const path = await newNetNS(dir);
  assert.match(path, new RegExp(`^${dir}/cni-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`));
  assert.equal(await netNSExists(path), true);
  // Through a symlinked directory too, as /var/run is a link to /run.
  await symlink(dir, join(base, "link"));
  assert.equal(await netNSExists(join(base, "link", basename(path))), true);
  await rm(join(base, "link"));
  const mounts = await mountsUnderBase();
  assert.equal(mounts.length, 1);
  assert.match(mounts[0] ?? "", / - nsfs nsfs /);

  const links = JSON.parse(await execInNetNS(path, ["ip", "-j", "link", "show"])) as {
    ifname: string;
    flags: string[];
  }[];
  assert.deepEqual(
    links.map((l) => [l.ifname, l.flags.includes("UP")]),
    [["lo", false]],
  );
  // Another namespace than ours: its inode differs from the host's.
  const [inside, host] = await Promise.all([
    execInNetNS(path, ["readlink", "/proc/self/ns/net"]),
    exec("readlink", ["/proc/self/ns/net"]).then((r) => r.stdout),
  ]);
  assert.notEqual(inside.trim(), host.trim());

  await removeNetNS(path);
  assert.equal(await netNSExists(path), false);
  await assert.rejects(stat(path), { code: "ENOENT" });
  assert.deepEqual(await mountsUnderBase(), []);
});

test("namespaces are listed by name; remove is idempotent and clears unmounted leftovers", async () => {
  const dir = join(base, "netns");
  const a = await newNetNS(dir);
  const b = await newNetNS(dir);
  // What a crash between creating the file and mounting on it would leave.
  const stale = join(dir, "cni-00000000-0000-0000-0000-000000000000");
  await writeFile(stale, "");
  await writeFile(join(dir, "not-a-netns"), "");
  assert.deepEqual(await listNetNS(dir), [stale, a, b].sort());
  assert.equal(await netNSExists(stale), false);

  for (const p of [a, b, stale]) await removeNetNS(p);
  await removeNetNS(a);
  assert.deepEqual(await listNetNS(dir), []);
  assert.deepEqual(await listNetNS(join(base, "missing")), []);
  assert.deepEqual(await mountsUnderBase(), []);
  await rm(join(dir, "not-a-netns"));
});

test("a command failing inside the netns says which and where", async () => {
  const path = await newNetNS(join(base, "netns"));
  try {
    await assert.rejects(execInNetNS(path, ["ip", "link", "show", "eth9"]), (err: Error) => {
      assert.match(err.message, new RegExp(`failed to run "ip link show eth9" in netns "${path}": .*eth9`));
      return true;
    });
  } finally {
    await removeNetNS(path);
  }
});

test("creating under an unusable directory fails and leaves nothing", async () => {
  const file = join(base, "a-file");
  await writeFile(file, "");
  await assert.rejects(newNetNS(join(file, "netns")), /failed to create netns directory/);
  await rm(file);
});
