import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Code, ConnectError, createRouterTransport } from "@connectrpc/connect";
import { ContainerEventType, ImageService, RuntimeService } from "../../cri/gen/runtime/v1/api_pb.js";
import { newCriClient } from "../../cri/transport.js";
import { kindOf } from "../../lib/errdefs.js";
import { KubeletMetrics } from "../metrics/metrics.js";
import {
  newInstrumentedImageManagerService,
  newInstrumentedRuntimeService,
  operationType,
} from "./instrumented-services.js";

// The operation names of instrumented_services.go, one per RPC it wraps.
describe("operation_type", () => {
  const upstream: [string, string][] = [
    ["Version", "version"],
    ["Status", "status"],
    ["CreateContainer", "create_container"],
    ["StartContainer", "start_container"],
    ["StopContainer", "stop_container"],
    ["RemoveContainer", "remove_container"],
    ["ListContainers", "list_containers"],
    ["ContainerStatus", "container_status"],
    ["UpdateContainerResources", "update_container"],
    ["ReopenContainerLog", "reopen_container_log"],
    ["ExecSync", "exec_sync"],
    ["Exec", "exec"],
    ["Attach", "attach"],
    ["RunPodSandbox", "run_podsandbox"],
    ["StopPodSandbox", "stop_podsandbox"],
    ["RemovePodSandbox", "remove_podsandbox"],
    ["PodSandboxStatus", "podsandbox_status"],
    ["ListPodSandbox", "list_podsandbox"],
    ["ContainerStats", "container_stats"],
    ["ListContainerStats", "list_container_stats"],
    ["PodSandboxStats", "podsandbox_stats"],
    ["ListPodSandboxStats", "list_podsandbox_stats"],
    ["PortForward", "port_forward"],
    ["UpdateRuntimeConfig", "update_runtime_config"],
    ["CheckpointContainer", "checkpoint_container"],
    ["GetContainerEvents", "get_container_events"],
    ["ListMetricDescriptors", "list_metric_descriptors"],
    ["ListPodSandboxMetrics", "list_podsandbox_metrics"],
    ["RuntimeConfig", "runtime_config"],
    ["ListImages", "list_images"],
    ["ImageStatus", "image_status"],
    ["PullImage", "pull_image"],
    ["RemoveImage", "remove_image"],
    ["ImageFsInfo", "image_fs_info"],
  ];
  for (const [rpc, want] of upstream) test(`${rpc} → ${want}`, () => assert.equal(operationType(rpc), want));

  test("every RPC of both services has a name", () => {
    const names = new Set(upstream.map(([rpc]) => rpc));
    for (const m of [...RuntimeService.methods, ...ImageService.methods])
      assert.ok(names.has(m.name), m.name);
  });
});

describe("the instrumented services", () => {
  const transport = createRouterTransport(({ service }) => {
    service(RuntimeService, {
      version: () => ({ runtimeName: "test" }),
      listPodSandbox: () => {
        throw new ConnectError("the runtime is down", Code.Unavailable);
      },
      async *getContainerEvents() {
        yield { containerId: "c1", containerEventType: ContainerEventType.CONTAINER_STARTED_EVENT };
        yield { containerId: "c1", containerEventType: ContainerEventType.CONTAINER_STOPPED_EVENT };
      },
    });
    service(ImageService, { listImages: () => ({ images: [] }) });
  });
  const conn = { endpoint: "memory", transport, close: () => {} };

  test("count and time every call, count failures apart, and pass results and errors through", async () => {
    const metrics = new KubeletMetrics();
    const runtime = newInstrumentedRuntimeService(newCriClient(RuntimeService, conn), metrics);
    const images = newInstrumentedImageManagerService(newCriClient(ImageService, conn), metrics);
    assert.equal((await runtime.version({})).runtimeName, "test");
    await runtime.version({});
    await assert.rejects(runtime.listPodSandbox({}), (err) => kindOf(err) === "Unavailable");
    await images.listImages({});
    const events = [];
    for await (const e of runtime.getContainerEvents({})) events.push(e.containerEventType);
    assert.equal(events.length, 2, "a stream passes through whole");

    const text = await metrics.registry.metrics();
    const has = (line: string) => assert.ok(text.split("\n").includes(line), `missing ${line}`);
    has('kubelet_runtime_operations_total{operation_type="version"} 2');
    has('kubelet_runtime_operations_total{operation_type="list_podsandbox"} 1');
    has('kubelet_runtime_operations_total{operation_type="list_images"} 1');
    has('kubelet_runtime_operations_total{operation_type="get_container_events"} 1');
    has('kubelet_runtime_operations_errors_total{operation_type="list_podsandbox"} 1');
    has('kubelet_runtime_operations_duration_seconds_count{operation_type="version"} 2');
    assert.ok(!text.includes('kubelet_runtime_operations_errors_total{operation_type="version"}'));
  });

  test("a stream read only partly is recorded once, when the reader stops", async () => {
    const metrics = new KubeletMetrics();
    const runtime = newInstrumentedRuntimeService(newCriClient(RuntimeService, conn), metrics);
    for await (const _ of runtime.getContainerEvents({})) break;
    const text = await metrics.registry.metrics();
    assert.ok(text.includes('kubelet_runtime_operations_total{operation_type="get_container_events"} 1'));
  });
});
