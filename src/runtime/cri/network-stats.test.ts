import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { parseNetDev, readNetworkStats } from "./network-stats.js";

const exec = promisify(execFile);

test("parseNetDev takes bytes and errors of each direction", () => {
  const text =
    "Inter-|   Receive                                                |  Transmit\n" +
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n" +
    "    lo:     120       2    0    0    0     0          0         0      120       2    0    0    0     0       0          0\n" +
    "  eth0:    1310      15    3    1    0     0          0         0      472        6    7    0    0     0       0          0\n";
  assert.deepEqual(parseNetDev(text), [
    { name: "lo", rxBytes: 120n, rxErrors: 0n, txBytes: 120n, txErrors: 0n },
    { name: "eth0", rxBytes: 1310n, rxErrors: 3n, txBytes: 472n, txErrors: 7n },
  ]);
});

const skip = process.getuid?.() !== 0 ? "needs root" : false;

// Two namespaces joined by a veth pair, eth0 on the pod's side, and a node process in the
// pod's namespace that sends UDP on request; its counters are compared with netlink's.
describe("readNetworkStats in a real network namespace", { skip }, () => {
  const pod = `berth-nst-${process.pid}`;
  const peer = `berth-nst-${process.pid}-peer`;
  const podPath = `/run/netns/${pod}`;
  const subnet = `10.${200 + (process.pid % 50)}.${process.pid % 250}`;
  const ip = (...args: string[]) => exec("ip", args);
  let sender: ReturnType<typeof spawn> | undefined;

  const script = `
const s = require("node:dgram").createSocket("udp4");
require("node:readline").createInterface({ input: process.stdin }).on("line", (n) => {
  let left = Number(n);
  const next = () => (left-- > 0 ? s.send(Buffer.alloc(1000), 9999, "${subnet}.2", next) : process.stdout.write("sent\\n"));
  next();
});
process.stdout.write("ready\\n");`;

  before(async () => {
    await ip("netns", "add", pod);
    await ip("netns", "add", peer);
    // No IPv6: router solicitations and DAD would move the counters between two reads.
    for (const ns of [pod, peer]) {
      await ip("netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1");
      await ip("netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1");
    }
    await ip("-n", pod, "link", "add", "eth0", "type", "veth", "peer", "name", "peer0", "netns", peer);
    await ip("-n", pod, "addr", "add", `${subnet}.1/24`, "dev", "eth0");
    await ip("-n", peer, "addr", "add", `${subnet}.2/24`, "dev", "peer0");
    await ip("-n", pod, "link", "set", "eth0", "up");
    await ip("-n", peer, "link", "set", "peer0", "up");
    sender = spawn("ip", ["netns", "exec", pod, process.execPath, "-e", script], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    sender.stdout?.setEncoding("utf8");
    const [first] = (await once(sender.stdout ?? sender, "data")) as string[];
    assert.equal(first, "ready\n");
  });

  after(async () => {
    if (sender && sender.exitCode === null) {
      const exited = once(sender, "exit");
      sender.kill("SIGKILL");
      await exited;
    }
    await ip("netns", "del", pod).catch(() => {});
    await ip("netns", "del", peer).catch(() => {});
    assert.equal(existsSync(podPath), false);
    assert.equal(existsSync(`/run/netns/${peer}`), false);
  });

  /** eth0 as `ip -s link` (netlink) reports it. */
  async function netlinkEth0() {
    const { stdout } = await ip("-n", pod, "-s", "-j", "link", "show", "eth0");
    const [link] = JSON.parse(stdout) as {
      stats64: Record<"rx" | "tx", { bytes: number; errors: number }>;
    }[];
    assert.ok(link);
    const { rx, tx } = link.stats64;
    return {
      name: "eth0",
      rxBytes: BigInt(rx.bytes),
      rxErrors: BigInt(rx.errors),
      txBytes: BigInt(tx.bytes),
      txErrors: BigInt(tx.errors),
    };
  }

  test("reports eth0's traffic exactly as netlink does", async () => {
    const pid = sender?.pid ?? 0;
    const before = (await readNetworkStats(podPath, pid))?.find((i) => i.name === "eth0");
    assert.ok(before);
    sender?.stdin?.write("20\n");
    assert.equal(((await once(sender?.stdout ?? process.stdin, "data")) as string[])[0], "sent\n");
    const stats = await readNetworkStats(podPath, pid);
    assert.deepEqual(
      stats?.map((i) => i.name).sort(),
      ["eth0", "lo"],
      "the pod namespace's interfaces, not the host's",
    );
    const eth0 = stats?.find((i) => i.name === "eth0");
    assert.ok(eth0);
    assert.ok(eth0.txBytes - before.txBytes >= 20n * 1000n, `sent ${eth0.txBytes - before.txBytes} bytes`);
    assert.ok(eth0.rxBytes > before.rxBytes, "the ARP reply and ICMP unreachables came back");
    assert.deepEqual(eth0, await netlinkEth0());
  });

  test("a process in another namespace, or gone, gives undefined", async () => {
    assert.equal(await readNetworkStats(podPath, process.pid), undefined);
    assert.equal(await readNetworkStats(`/run/netns/${peer}`, sender?.pid ?? 0), undefined);
    assert.equal(await readNetworkStats(podPath, 2 ** 22 + 1), undefined);
  });
});
