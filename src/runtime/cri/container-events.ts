// criService.GetContainerEvents: container lifecycle events (created, started, stopped,
// deleted) streamed to every subscriber, with the pod's status, as the kubelet's evented
// PLEG reads them. Subscribers that fall behind lose nothing: each has its own queue.
import { EventEmitter, on } from "node:events";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ContainerEventResponseSchema, ContainerEventType } from "../../cri/gen/runtime/v1/api_pb.js";
import { nowNs } from "../../lib/clock.js";
import { toCriSandboxStatus } from "./sandbox-status.js";
import type { CriService } from "./service.js";
import type { CriContainer } from "./store/container.js";

type ContainerEvent = MessageInitShape<typeof ContainerEventResponseSchema>;

export class ContainerEvents {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  constructor(private readonly c: CriService) {}

  publish(ctr: CriContainer, type: ContainerEventType): void {
    if (this.emitter.listenerCount("event") === 0) return;
    const sandbox = this.c.sandboxStore.find(ctr.metadata.sandboxId);
    const event: ContainerEvent = {
      containerId: ctr.id,
      containerEventType: type,
      createdAt: nowNs(),
      ...(sandbox ? { podSandboxStatus: toCriSandboxStatus(sandbox) } : {}),
    };
    this.emitter.emit("event", event);
  }

  /** Every event from now until `signal` aborts. */
  async *subscribe(signal: AbortSignal): AsyncGenerator<ContainerEvent> {
    try {
      for await (const [event] of on(this.emitter, "event", { signal })) yield event as ContainerEvent;
    } catch (err) {
      if (!signal.aborted) throw err;
    }
  }
}
