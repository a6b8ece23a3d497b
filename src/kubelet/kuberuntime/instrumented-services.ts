// pkg/kubelet/kuberuntime/instrumented_services.go (kubelet 1.28): every call the kubelet makes to the
// runtime and image services is counted and timed under kubelet_runtime_operations_* with upstream's
// operation_type names. Upstream writes one wrapper method per RPC; here one wrapper walks the service
// descriptor, so a new RPC is measured without a line added.
import type { DescService } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import { ImageService, RuntimeService } from "../../cri/gen/runtime/v1/api_pb.js";
import type { ImageServiceClient } from "../../cri/remote-image.js";
import type { RuntimeServiceClient } from "../../cri/remote-runtime.js";

/** Where the calls are recorded: KubeletMetrics.recordOperation. */
export interface OperationRecorder {
  recordOperation(operation: string, seconds: number, failed: boolean): void;
}

/** The one name upstream does not derive from its RPC. */
const operationNames: Record<string, string> = { UpdateContainerResources: "update_container" };

/**
 * Upstream's operation_type of an RPC: its name in snake case, with "PodSandbox" one word
 * ("ListPodSandbox" → "list_podsandbox", "ImageFsInfo" → "image_fs_info").
 */
export function operationType(rpcName: string): string {
  return (
    operationNames[rpcName] ??
    rpcName
      .replaceAll("PodSandbox", "Podsandbox")
      .replace(/(?<=[a-z0-9])(?=[A-Z])/g, "_")
      .toLowerCase()
  );
}

export function newInstrumentedRuntimeService(
  client: RuntimeServiceClient,
  recorder: OperationRecorder,
): RuntimeServiceClient {
  return instrument(RuntimeService, client, recorder);
}

export function newInstrumentedImageManagerService(
  client: ImageServiceClient,
  recorder: OperationRecorder,
): ImageServiceClient {
  return instrument(ImageService, client, recorder);
}

/** A client whose every method records its operation when the call settles (a stream: when it ends). */
function instrument<S extends DescService>(
  service: S,
  client: Client<S>,
  recorder: OperationRecorder,
): Client<S> {
  const inner = client as unknown as Record<string, (...args: unknown[]) => unknown>;
  const wrapped: Record<string, unknown> = {};
  for (const method of service.methods) {
    const call = inner[method.localName];
    if (!call) continue;
    const operation = operationType(method.name);
    const record = (started: number, failed: boolean) =>
      recorder.recordOperation(operation, (performance.now() - started) / 1000, failed);
    wrapped[method.localName] =
      method.methodKind !== "unary"
        ? (...args: unknown[]) => recordStream(call(...args) as AsyncIterable<unknown>, record)
        : async (...args: unknown[]) => {
            const started = performance.now();
            try {
              const out = await call(...args);
              record(started, false);
              return out;
            } catch (err) {
              record(started, true);
              throw err;
            }
          };
  }
  return wrapped as Client<S>;
}

async function* recordStream<T>(
  stream: AsyncIterable<T>,
  record: (started: number, failed: boolean) => void,
): AsyncIterable<T> {
  const started = performance.now();
  let failed = false;
  try {
    yield* stream;
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    // Also when the reader stops early: the call is over then too.
    record(started, failed);
  }
}
