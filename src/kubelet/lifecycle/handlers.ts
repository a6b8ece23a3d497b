// The lifecycle hook runner (pkg/kubelet/lifecycle/handlers.go HandlerRunner.Run): postStart
// and preStop handlers of a container, as exec (CRI ExecSync) or httpGet. A failing hook
// answers with upstream's message, which the caller records as an event.
import type { Container, LifecycleHandler, Pod } from "kubernetes-types/core/v1.js";
import type { RuntimeServiceClient } from "../../cri/remote-runtime.js";
import { messageOf } from "../../lib/errdefs.js";
import type { ContainerID } from "../container/runtime.js";
import { formatPod } from "../kuberuntime/sandbox.js";

/** Runs `handler` for the container; resolves with "" or throws an Error whose message is upstream's. */
export async function runLifecycleHandler(
  runtime: RuntimeServiceClient,
  containerID: ContainerID,
  pod: Pod,
  container: Container,
  handler: LifecycleHandler,
  podIP: string,
): Promise<void> {
  if (handler.exec) {
    const command = handler.exec.command ?? [];
    let output = "";
    try {
      // Upstream runs hooks with no timeout of their own: the grace period bounds preStop.
      const r = await runtime.execSync({ containerId: containerID.id, cmd: command, timeout: 0n });
      output = Buffer.concat([Buffer.from(r.stdout), Buffer.from(r.stderr)]).toString();
      if (r.exitCode !== 0)
        throw new Error(`command '${command.join(" ")}' exited with ${r.exitCode}: ${output}`);
      return;
    } catch (err) {
      throw new Error(
        `Exec lifecycle hook (${goList(command)}) for Container ${JSON.stringify(container.name)} in Pod ${JSON.stringify(formatPod(pod))} failed - error: ${messageOf(err)}, message: ${JSON.stringify(output)}`,
      );
    }
  }
  if (handler.httpGet) {
    const h = handler.httpGet;
    const host = h.host || podIP;
    const port = resolvePort(h.port, container);
    const path = h.path ?? "";
    const scheme = (h.scheme ?? "HTTP").toLowerCase();
    const url = `${scheme}://${host.includes(":") ? `[${host}]` : host}:${port}${path.startsWith("/") ? path : `/${path}`}`;
    try {
      const headers = Object.fromEntries((h.httpHeaders ?? []).map((x) => [x.name, x.value]));
      const res = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
      await res.arrayBuffer();
      if (res.status < 200 || res.status >= 400)
        throw new Error(`HTTP lifecycle hook returned ${res.status}`);
      return;
    } catch (err) {
      throw new Error(
        `HTTP lifecycle hook (${path}) for Container ${JSON.stringify(container.name)} in Pod ${JSON.stringify(formatPod(pod))} failed - error: ${messageOf(err)}`,
      );
    }
  }
  throw new Error("invalid handler: neither exec nor httpGet is set");
}

/** An IntOrString port: a number, or the name of one of the container's ports. */
function resolvePort(port: number | string, container: Container): number {
  if (typeof port === "number") return port;
  if (/^\d+$/.test(port)) return Number(port);
  const named = container.ports?.find((p) => p.name === port);
  if (!named) throw new Error(`couldn't find port: ${port} in ${container.name}`);
  return named.containerPort;
}

/** How Go prints a []string with %v. */
function goList(items: string[]): string {
  return `[${items.join(" ")}]`;
}
