import assert from "node:assert/strict";
import { test } from "node:test";
import type { ImageConfig } from "../images/oci.js";
import { goJson, goTime, imageSpecOf } from "./image-spec.js";

test("imageSpecOf + goJson give containerd 1.6.20's verbose imageSpec byte for byte", () => {
  // A config in odd order with members image-spec lacks; `want` is what containerd answered for it.
  const diffId = "sha256:95010a7b96ebf866616aeb5ce83d0696c51bac950183121aede61078765f37f8";
  const config = {
    zzz: 1,
    rootfs: { diff_ids: [diffId], type: "layers" },
    history: [
      {
        empty_layer: true,
        comment: "c",
        author: "a",
        created_by: "",
        created: "2001-02-03T04:05:06.120000000+00:00",
      },
      { created_by: "x" },
    ],
    "os.features": ["f1"],
    "os.version": "10.0",
    variant: "v2",
    os: "linux",
    architecture: "amd64",
    author: "me",
    created: "2001-02-03T04:05:06.123400Z",
    container_config: { Hostname: "x" },
    docker_version: "20",
    config: {
      StopSignal: "",
      Hostname: "h",
      ArgsEscaped: true,
      OnBuild: null,
      Cmd: null,
      Env: [],
      Entrypoint: ["/x<&>"],
      Labels: { b: "1", a: "2" },
      User: "",
      ExposedPorts: { "80/tcp": { x: 1 } },
      Volumes: {},
      WorkingDir: "/",
    },
  } as unknown as ImageConfig;
  const want =
    '{"created":"2001-02-03T04:05:06.1234Z","author":"me","architecture":"amd64","variant":"v2","os":"linux",' +
    '"os.version":"10.0","os.features":["f1"],"config":{"ExposedPorts":{"80/tcp":{}},' +
    '"Entrypoint":["/x\\u003c\\u0026\\u003e"],"WorkingDir":"/","Labels":{"a":"2","b":"1"},"ArgsEscaped":true},' +
    `"rootfs":{"type":"layers","diff_ids":["${diffId}"]},` +
    '"history":[{"created":"2001-02-03T04:05:06.12Z","author":"a","comment":"c","empty_layer":true},{"created_by":"x"}]}';
  assert.equal(goJson(imageSpecOf(config)), want);
});

test("an empty config keeps the members encoding/json always writes", () => {
  const config = { rootfs: { type: "layers", diff_ids: [] } } as ImageConfig;
  assert.equal(
    goJson(imageSpecOf(config)),
    '{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":[]}}',
  );
});

test("goTime: RFC 3339 as time.Time marshals it", () => {
  const cases: [unknown, unknown][] = [
    ["1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z"],
    ["2020-05-06T07:08:09.000Z", "2020-05-06T07:08:09Z"],
    ["2020-05-06T07:08:09.123456789123Z", "2020-05-06T07:08:09.123456789Z"],
    ["2020-05-06T07:08:09.5-00:00", "2020-05-06T07:08:09.5Z"],
    ["2020-05-06T07:08:09+02:30", "2020-05-06T07:08:09+02:30"],
    ["2020-05-06t07:08:09z", "2020-05-06T07:08:09Z"],
    ["yesterday", "yesterday"],
    [undefined, undefined],
  ];
  for (const [input, want] of cases) assert.equal(goTime(input), want, String(input));
});
