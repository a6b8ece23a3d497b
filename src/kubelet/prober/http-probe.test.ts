import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import type { Container } from "kubernetes-types/core/v1.js";
import {
  doHTTPProbe,
  formatURL,
  maxRespBodyLength,
  newProbeRequest,
  newRequestForHTTPGetAction,
} from "./http-probe.js";
import type * as probe from "./probe.js";

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A real HTTP server on 127.0.0.1 for the test's duration. */
async function withServer<T>(handler: Handler, fn: (base: string, server: Server) => Promise<T>): Promise<T> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    return await fn(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, server);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

/** A port on 127.0.0.1 nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const probeURL = (url: string, headers: [string, string][] = [], timeoutMs = 1000, followNonLocal = false) =>
  doHTTPProbe(newProbeRequest(new URL(url), headers), timeoutMs, followNonLocal);

/** http.Redirect as Go's handlers use it. */
function redirect(res: ServerResponse, location: string, code: number): void {
  res.writeHead(code, { location }).end();
}

// http_test.go TestHTTPProbeChecker (followNonLocalRedirects on, as that test has it)
describe("doHTTPProbe: the answer decides (TestHTTPProbeChecker)", () => {
  const echoHeaders: Handler = (req, res) => {
    const lines: string[] = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2)
      lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    res.writeHead(200).end(lines.join("\n"));
  };
  const redirectTo = (code: number, bad: boolean): Handler => {
    return (req, res) => {
      if (req.url === "/") redirect(res, "/new", code);
      else if (bad && req.url === "/new") res.writeHead(500).end();
      else res.writeHead(200).end();
    };
  };
  const cases: {
    name: string;
    handler: Handler;
    headers?: [string, string][];
    health: probe.Result;
    accBody?: string;
    notBody?: string;
  }[] = [
    {
      name: "200 with a body",
      handler: (_, res) => res.writeHead(200).end("ok body"),
      health: "success",
      accBody: "ok body",
    },
    {
      name: "the probe's header is sent",
      handler: echoHeaders,
      headers: [["X-Muffins-Or-Cupcakes", "muffins"]],
      health: "success",
      accBody: "X-Muffins-Or-Cupcakes: muffins",
    },
    {
      name: "the probe's User-Agent replaces kubelet's",
      handler: echoHeaders,
      headers: [["User-Agent", "foo/1.0"]],
      health: "success",
      accBody: "User-Agent: foo/1.0",
    },
    {
      name: "an empty User-Agent sends none",
      handler: echoHeaders,
      headers: [["User-Agent", ""]],
      health: "success",
      notBody: "User-Agent",
    },
    {
      name: "kubelet's User-Agent by default",
      handler: echoHeaders,
      health: "success",
      accBody: "User-Agent: kube-probe/1.28",
    },
    { name: "Accept */* by default", handler: echoHeaders, health: "success", accBody: "Accept: */*" },
    {
      name: "the Host header names the virtual host",
      handler: (req, res) => res.writeHead(200).end(req.headers.host),
      headers: [["Host", "muffins.cupcakes.org"]],
      health: "success",
      accBody: "muffins.cupcakes.org",
    },
    { name: "no answer at all", handler: (req) => req.socket.destroy(), health: "failure" },
    { name: "500", handler: (_, res) => res.writeHead(500).end("fail body"), health: "failure" },
    { name: "an answer too late", handler: () => {}, health: "failure" },
    ...[301, 302, 307, 308].flatMap((code) => [
      { name: `${code} to a healthy page`, handler: redirectTo(code, false), health: "success" as const },
      { name: `${code} to a failing page`, handler: redirectTo(code, true), health: "failure" as const },
    ]),
  ];
  for (const c of cases) {
    test(c.name, async () => {
      await withServer(c.handler, async (base) => {
        const { result, output, error } = await probeURL(`${base}/`, c.headers, 300, true);
        assert.equal(error, undefined);
        assert.equal(result, c.health, output);
        if (c.accBody) assert.ok(output.includes(c.accBody), `${JSON.stringify(output)} lacks ${c.accBody}`);
        if (c.notBody) assert.ok(!output.includes(c.notBody), `${JSON.stringify(output)} has ${c.notBody}`);
      });
    });
  }
});

test("doHTTPProbe: failures say what happened, as the kubelet's events do", async () => {
  await withServer(
    (_, res) => res.writeHead(503).end("the body stays out of the event"),
    async (base) => {
      assert.deepEqual(await probeURL(`${base}/healthz`), {
        result: "failure",
        output: "HTTP probe failed with statuscode: 503",
      });
    },
  );
  const port = await closedPort();
  assert.deepEqual(await probeURL(`http://127.0.0.1:${port}/healthz`), {
    result: "failure",
    output: `Get "http://127.0.0.1:${port}/healthz": dial tcp 127.0.0.1:${port}: connect: connection refused`,
  });
  await withServer(
    () => {},
    async (base) => {
      assert.deepEqual(await probeURL(`${base}/`, [], 200), {
        result: "failure",
        output: `Get "${base}/": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`,
      });
    },
  );
});

// http_test.go TestHTTPProbeChecker_NonLocalRedirects
describe("doHTTPProbe: redirects (TestHTTPProbeChecker_NonLocalRedirects)", () => {
  const handler: Handler = (req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname === "/redirect") redirect(res, url.searchParams.get("loc") ?? "", 302);
    else if (url.pathname === "/loop") redirect(res, "/loop", 302);
    else if (url.pathname === "/success") res.writeHead(200).end();
    else res.writeHead(500).end();
  };
  const cases = (newport: string, port: number) => [
    { name: "local success", loc: "/success", local: "success", nonLocal: "success" },
    { name: "local fail", loc: "/fail", local: "failure", nonLocal: "failure" },
    // Another port of the same host is the same host.
    { name: "newport success", loc: `${newport}/success`, local: "success", nonLocal: "success" },
    { name: "newport fail", loc: `${newport}/fail`, local: "failure", nonLocal: "failure" },
    { name: "bogus nonlocal", loc: `http://0.0.0.0:${port}/fail`, local: "warning", nonLocal: "failure" },
    { name: "redirect loop", loc: "/loop", local: "failure", nonLocal: "failure" },
  ];
  test("followed on the same host, answered as a warning elsewhere", async () => {
    const port = await closedPort();
    await withServer(handler, (base) =>
      withServer(handler, async (newport) => {
        for (const c of cases(newport, port)) {
          const target = `${base}/redirect?loc=${encodeURIComponent(c.loc)}`;
          assert.equal((await probeURL(target, [], 5000, false)).result, c.local, `${c.name}-local`);
          assert.equal((await probeURL(target, [], 5000, true)).result, c.nonLocal, `${c.name}-nonlocal`);
        }
      }),
    );
  });
  test("a redirect not followed is a warning with the body; a loop stops after ten", async () => {
    const port = await closedPort();
    await withServer(
      (req, res) => {
        if (req.url === "/elsewhere")
          res.writeHead(302, { location: `http://0.0.0.0:${port}/` }).end("moved");
        else redirect(res, "/loop", 302);
      },
      async (base) => {
        assert.deepEqual(await probeURL(`${base}/elsewhere`), {
          result: "warning",
          output: "Probe terminated redirects, Response body: moved",
        });
        assert.deepEqual(await probeURL(`${base}/loop`), {
          result: "failure",
          output: `Get "${base}/loop": stopped after 10 redirects`,
        });
      },
    );
  });
});

// http_test.go TestHTTPProbeChecker_HostHeaderPreservedAfterRedirect
test("doHTTPProbe: the Host header survives a relative redirect", async () => {
  await withServer(
    (req, res) => {
      if (req.url === "/redirect") redirect(res, "/success", 302);
      else if (req.url === "/success")
        res.writeHead(req.headers.host === "www.success.com" ? 200 : 400).end();
      else res.writeHead(500).end();
    },
    async (base) => {
      for (const followNonLocal of [false, true]) {
        const probeAs = (host: string) =>
          probeURL(`${base}/redirect`, [["Host", host]], 5000, followNonLocal);
        assert.equal((await probeAs("www.success.com")).result, "success");
        assert.equal((await probeAs("www.fail.com")).result, "failure");
      }
    },
  );
});

// http_test.go TestHTTPProbeChecker_PayloadTruncated and _PayloadNormal
test("doHTTPProbe: at most 10 KiB of the body is read, and a longer one is no error", async () => {
  for (const size of [maxRespBodyLength - 1, maxRespBodyLength + 1, 1024 * 1024]) {
    await withServer(
      (_, res) => res.writeHead(200).end("a".repeat(size)),
      async (base) => {
        const { result, output, error } = await probeURL(`${base}/success`, [], 5000);
        assert.equal(error, undefined);
        assert.equal(result, "success");
        assert.equal(output, "a".repeat(Math.min(size, maxRespBodyLength)));
      },
    );
  }
});

// request_test.go TestFormatURL: what goes on the request line and to which host.
test("formatURL: the path may carry a query, never another host", () => {
  const cases = [
    ["http", "localhost", 93, "", "http://localhost:93/"],
    ["https", "localhost", 93, "/path", "https://localhost:93/path"],
    ["http", "localhost", 93, "?foo", "http://localhost:93/?foo"],
    ["https", "localhost", 93, "/path?bar", "https://localhost:93/path?bar"],
    ["http", "localhost", 93, "path", "http://localhost:93/path"],
    ["http", "10.0.0.1", 80, "//evil.example/x", "http://10.0.0.1/x"],
    ["http", "fd00::1", 8080, "/healthz", "http://[fd00::1]:8080/healthz"],
  ] as const;
  for (const [scheme, host, port, path, want] of cases) {
    assert.equal(formatURL(scheme, host, port, path).href, want, `${scheme} ${host} ${port} ${path}`);
  }
});

// request_test.go TestGetURLParts-like: what an httpGet probe turns into.
test("newRequestForHTTPGetAction: pod IP, named port, scheme, path and headers", () => {
  const container: Container = { name: "c", ports: [{ name: "http", containerPort: 8080 }] };
  const req = newRequestForHTTPGetAction(
    {
      port: "http",
      path: "/healthz?full=1",
      scheme: "HTTP",
      httpHeaders: [
        { name: "X-Probe", value: "a" },
        { name: "X-Probe", value: "b" },
        { name: "Accept", value: "" },
      ],
    },
    container,
    "10.89.0.7",
    "probe",
  );
  assert.equal(req.url.href, "http://10.89.0.7:8080/healthz?full=1");
  assert.deepEqual(req.headers, [
    ["X-Probe", "a"],
    ["X-Probe", "b"],
    ["User-Agent", "kube-probe/1.28"],
  ]);
  const withHost = newRequestForHTTPGetAction(
    { port: 81, host: "example.test", scheme: "HTTPS" },
    container,
    "10.89.0.7",
    "probe",
  );
  assert.equal(withHost.url.href, "https://example.test:81/");
  assert.throws(() => newRequestForHTTPGetAction({ port: "nope" }, container, "10.89.0.7", "probe"), /nope/);
});
