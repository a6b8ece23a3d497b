import assert from "node:assert/strict";
import { createServer, type RequestListener, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.js";
import { pino } from "pino";
import { KubeletMetrics } from "../metrics/metrics.js";
import type { Summary } from "../stats/types.js";
import {
  type KubeletServerHost,
  newHealthzHandler,
  newKubeletHandler,
  parseQuery,
  startKubeletServers,
  syncLoopHealthCheck,
} from "./server.js";

const log = pino({ level: "silent" });

interface Reply {
  code: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function call(base: string, method: string, path: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
      });
      res.on("end", () => resolve({ code: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

async function serve(handler: RequestListener): Promise<{ server: Server; base: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const summary: Summary = {
  node: { nodeName: "n", startTime: "2024-01-02T03:04:05Z" },
  pods: [],
};

describe("the read-only server's handlers", () => {
  let server: Server;
  let base: string;
  const pod: Pod = {
    metadata: { name: "web", namespace: "default", uid: "u1" },
    spec: { containers: [{ name: "c", image: "busybox" }] },
    status: { phase: "Running" },
  };
  const calls: string[] = [];
  let summaryError: Error | undefined;
  let loopEntry: number | undefined;
  const host: KubeletServerHost = {
    getPods: () => [pod],
    resyncIntervalMs: 10_000,
    latestLoopEntryTime: () => loopEntry,
    metrics: new KubeletMetrics(),
    summary: {
      get: async () => {
        calls.push("get");
        if (summaryError) throw summaryError;
        return summary;
      },
      getCPUAndMemoryStats: async () => {
        calls.push("cpu-and-memory");
        return summary;
      },
    },
  };

  before(async () => {
    ({ server, base } = await serve(newKubeletHandler(host, log)));
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  test("/healthz: ok, each check under its name, and all of them with ?verbose", async () => {
    loopEntry = Date.now();
    assert.deepEqual(await call(base, "GET", "/healthz").then((r) => [r.code, r.body]), [200, "ok"]);
    const verbose = await call(base, "GET", "/healthz?verbose");
    assert.equal(verbose.body, "[+]ping ok\n[+]log ok\n[+]syncloop ok\nhealthz check passed\n");
    assert.equal(verbose.headers["content-type"], "text/plain; charset=utf-8");
    assert.equal((await call(base, "GET", "/healthz/syncloop")).body, "ok");
    assert.equal((await call(base, "HEAD", "/healthz")).code, 200);
  });

  test("/healthz fails once the sync loop stalls, withholding the reason", async () => {
    loopEntry = Date.now() - 6 * 60_000;
    const r = await call(base, "GET", "/healthz");
    assert.equal(r.code, 500);
    assert.equal(
      r.body,
      "[+]ping ok\n[+]log ok\n[-]syncloop failed: reason withheld\nhealthz check failed\n",
    );
    const one = await call(base, "GET", "/healthz/syncloop");
    assert.deepEqual(
      [one.code, one.body],
      [500, "internal server error: sync Loop took longer than expected\n"],
    );
    const excluded = await call(base, "GET", "/healthz?exclude=syncloop&exclude=nope&verbose");
    assert.equal(excluded.code, 200);
    assert.match(
      excluded.body,
      /\[\+\]syncloop excluded: ok\nwarn: some health checks cannot be excluded: no matches for "nope"\n/,
    );
    loopEntry = Date.now();
  });

  test("/pods: a v1 PodList of the kubelet's pods with their status", async () => {
    const r = await call(base, "GET", "/pods");
    assert.equal(r.code, 200);
    assert.equal(r.headers["content-type"], "application/json");
    assert.deepEqual(JSON.parse(r.body), { kind: "PodList", apiVersion: "v1", metadata: {}, items: [pod] });
  });

  test("/metrics and /metrics/probes: the Prometheus text format", async () => {
    const r = await call(base, "GET", "/metrics");
    assert.equal(r.code, 200);
    assert.match(String(r.headers["content-type"]), /^text\/plain; version=0\.0\.4/);
    assert.match(r.body, /^# TYPE kubelet_running_pods gauge$/m);
    const probes = await call(base, "GET", "/metrics/probes");
    assert.match(probes.body, /^# TYPE prober_probe_total counter$/m);
  });

  test("/stats/summary: the full summary, or CPU and memory alone with ?only_cpu_and_memory=true", async () => {
    calls.length = 0;
    assert.deepEqual(JSON.parse((await call(base, "GET", "/stats/summary")).body), summary);
    await call(base, "GET", "/stats/summary?only_cpu_and_memory=true");
    await call(base, "POST", "/stats/summary?only_cpu_and_memory=false");
    assert.deepEqual(calls, ["get", "cpu-and-memory", "get"]);
  });

  test("bad requests get 4xx and a failing handler 500, and the server answers on", async () => {
    const cases: [string, string, number, RegExp][] = [
      ["GET", "/nope", 404, /^404 page not found\n$/],
      ["GET", "/pods/", 404, /not found/],
      ["POST", "/pods", 405, /^Method Not Allowed\n$/],
      ["DELETE", "/metrics", 405, /Method Not Allowed/],
      ["PUT", "/healthz", 405, /Method Not Allowed/],
      ["GET", "/stats/summary?only_cpu_and_memory=yes", 400, /invalid only_cpu_and_memory \["yes"\]/],
      [
        "GET",
        "/stats/summary?only_cpu_and_memory=%zz",
        400,
        /invalid query "only_cpu_and_memory=%zz": malformed escape/,
      ],
      ["GET", "/pods?a=%", 400, /malformed escape/],
    ];
    for (const [method, path, code, body] of cases) {
      const r = await call(base, method, path);
      assert.equal(r.code, code, `${method} ${path}`);
      assert.match(r.body, body, `${method} ${path}`);
    }
    assert.equal((await call(base, "POST", "/pods")).headers.allow, "GET, HEAD");
    summaryError = new Error("failed to get imageFs stats: the runtime is down");
    const failed = await call(base, "GET", "/stats/summary");
    assert.deepEqual(
      [failed.code, failed.body],
      [500, "Internal Error: failed to get imageFs stats: the runtime is down\n"],
    );
    summaryError = undefined;
    assert.equal((await call(base, "GET", "/healthz")).code, 200, "still answering");
  });
});

describe("the servers", () => {
  test("the healthz server answers /healthz with the ping check alone", async () => {
    const { server, base } = await serve(newHealthzHandler(log));
    try {
      assert.equal((await call(base, "GET", "/healthz?verbose")).body, "[+]ping ok\nhealthz check passed\n");
      assert.equal((await call(base, "GET", "/pods")).code, 404);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  test("a taken read-only port fails the start; a taken healthz port is retried in the background", async () => {
    const { server: taken } = await serve((_, res) => res.end());
    const port = (taken.address() as AddressInfo).port;
    const host = {} as KubeletServerHost;
    try {
      await assert.rejects(
        startKubeletServers(
          { address: "127.0.0.1", readOnlyPort: port, healthzBindAddress: "127.0.0.1", healthzPort: 0 },
          host,
          log,
        ),
        new RegExp(`failed to listen on 127\\.0\\.0\\.1:${port} for the read-only server: .*EADDRINUSE`),
      );
      const servers = await startKubeletServers(
        { address: "127.0.0.1", readOnlyPort: 0, healthzBindAddress: "127.0.0.1", healthzPort: port },
        host,
        log,
      );
      assert.equal(servers.healthzUrl, `http://127.0.0.1:${port}/healthz`);
      assert.equal(servers.readOnlyUrl, undefined);
      await servers.close();
    } finally {
      await new Promise((r) => taken.close(r));
    }
  });

  test("both off: nothing served", async () => {
    const servers = await startKubeletServers(
      { address: "127.0.0.1", readOnlyPort: 0, healthzBindAddress: "127.0.0.1", healthzPort: 0 },
      {} as KubeletServerHost,
      log,
    );
    assert.deepEqual([servers.healthzUrl, servers.readOnlyUrl], [undefined, undefined]);
    await servers.close();
  });
});

describe("helpers", () => {
  test("syncLoopHealthCheck: twice the resync interval, at least five minutes", () => {
    const now = 1_000_000_000;
    const check = (resyncIntervalMs: number, ago: number | undefined) => () =>
      syncLoopHealthCheck(
        { resyncIntervalMs, latestLoopEntryTime: () => (ago === undefined ? undefined : now - ago) },
        now,
      );
    assert.doesNotThrow(check(10_000, undefined), "before the first iteration");
    assert.doesNotThrow(check(10_000, 5 * 60_000));
    assert.throws(check(10_000, 5 * 60_000 + 1), /sync Loop took longer than expected/);
    assert.doesNotThrow(check(10 * 60_000, 15 * 60_000));
    assert.throws(check(10 * 60_000, 20 * 60_000 + 1));
  });

  test("parseQuery: Go's url.ParseQuery, but a malformed escape is refused", () => {
    assert.deepEqual(
      [...parseQuery("a=1&b=x+y&a=%2F&c")],
      [
        ["a", "1"],
        ["b", "x y"],
        ["a", "/"],
        ["c", ""],
      ],
    );
    assert.throws(() => parseQuery("a=%G0"), /invalid query "a=%G0": malformed escape/);
  });
});
