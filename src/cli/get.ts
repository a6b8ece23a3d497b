// berth get pods: the pods of berth's local API as kubectl get prints them. The table's columns and
// the STATUS and RESTARTS rules are kubectl's printPod (pkg/printers/internalversion/printers.go), AGE is
// apimachinery's duration.HumanDuration; -o json|yaml print the objects (a List for more than one) and
// -o name prints pod/<name>.
import type { Command } from "commander";
import type { Pod, PodCondition } from "kubernetes-types/core/v1.js";
import { stringify } from "yaml";
import { BerthError, invalidArgument, isNotFound, messageOf } from "../lib/errdefs.js";
import { run } from "./context.js";
import {
  KubeletClient,
  type KubeletSocketOptions,
  parsePodArgs,
  podRef,
  podsPath,
  withKubeletSocket,
} from "./kubelet-client.js";
import { tableTabs, tabwrite } from "./tabwriter.js";

interface GetOptions extends KubeletSocketOptions {
  namespace: string;
  allNamespaces?: boolean;
  output?: string;
}

export type PodOutput = "table" | "wide" | "json" | "yaml" | "name";

export function parsePodOutput(value: string | undefined): PodOutput {
  if (value === undefined || value === "") return "table";
  if (value === "wide" || value === "json" || value === "yaml" || value === "name") return value;
  throw invalidArgument(
    `unable to match a printer suitable for the output format "${value}", allowed formats are: json,name,wide,yaml`,
  );
}

export function register(program: Command): void {
  withKubeletSocket(
    program
      .command("get")
      .description("Display pods from the kubelet's local API (kubectl get)")
      .argument("<resource>", "pods (pod, po), or pod/NAME")
      .argument("[names...]", "pod names; all pods when none")
      .option("-n, --namespace <namespace>", "namespace of the pods", "default")
      .option("-A, --all-namespaces", "list the pods of every namespace")
      .option("-o, --output <format>", "wide, json, yaml or name"),
  ).action(
    run<GetOptions>(async (cli, opts, args) => {
      const output = parsePodOutput(opts.output);
      const names = parsePodArgs(args);
      const namespace = opts.allNamespaces ? undefined : opts.namespace;
      if (namespace === undefined && names.length > 0)
        throw invalidArgument("a resource cannot be retrieved by name across all namespaces");
      const client = new KubeletClient(opts.kubeletSocket, cli.timeoutMs);
      const pods: Pod[] = [];
      const errors: string[] = [];
      if (names.length === 0) {
        pods.push(...(await client.get<{ items: Pod[] }>(podsPath(namespace))).items);
      } else {
        for (const name of names) {
          // Like kubectl: what was found is printed, what was not is reported after it.
          try {
            pods.push(await client.get<Pod>(podsPath(namespace, name)));
          } catch (err) {
            if (!isNotFound(err)) throw err;
            errors.push(messageOf(err));
          }
        }
      }
      const text = printPods(pods, output, {
        withNamespace: namespace === undefined,
        single: names.length === 1,
        now: Date.now(),
      });
      if (text) cli.print(text);
      else if (errors.length === 0 && output !== "json" && output !== "yaml")
        process.stderr.write(
          namespace === undefined
            ? "No resources found\n"
            : `No resources found in ${namespace} namespace.\n`,
        );
      if (errors.length > 0) throw new BerthError("NotFound", errors.join("\n"));
    }),
  );
}

export interface PrintOptions {
  /** A NAMESPACE column first (-A). */
  withNamespace: boolean;
  /** One pod asked for by name: json and yaml print it alone, not in a List. */
  single: boolean;
  now: number;
}

/** The pods in one output format; "" for a table of no pods. */
export function printPods(pods: Pod[], output: PodOutput, o: PrintOptions): string {
  switch (output) {
    case "name":
      return pods.map((p) => `${podRef(p)}\n`).join("");
    case "json":
    case "yaml": {
      const items = pods.map((p) => ({ apiVersion: "v1", kind: "Pod", ...p }));
      const doc =
        o.single && items.length === 1
          ? items[0]
          : { apiVersion: "v1", items, kind: "List", metadata: { resourceVersion: "" } };
      return formatObject(doc, output);
    }
    default: {
      if (pods.length === 0) return "";
      const wide = output === "wide";
      const header = ["NAME", "READY", "STATUS", "RESTARTS", "AGE"];
      if (wide) header.push("IP", "NODE", "NOMINATED NODE", "READINESS GATES");
      const rows = pods.map((p) => printPod(p, { wide, now: o.now }));
      const lines = [header, ...rows].map((cells, i) =>
        o.withNamespace
          ? [i === 0 ? "NAMESPACE" : (pods[i - 1]?.metadata?.namespace ?? ""), ...cells]
          : cells,
      );
      return tabwrite(lines.map((cells) => `${cells.join("\t")}\n`).join(""), tableTabs);
    }
  }
}

/**
 * An object as kubectl -o json|yaml prints it: keys sorted (Go marshals maps so), JSON indented by
 * four spaces, YAML with sequences at their key's level, single quotes and no folding.
 */
export function formatObject(value: unknown, format: "json" | "yaml"): string {
  const sorted = sortKeys(value);
  if (format === "json") return `${JSON.stringify(sorted, null, 4)}\n`;
  return stringify(sorted, { indentSeq: false, singleQuote: true, lineWidth: 0 });
}

/** The value with every object's keys in sorted order. */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
  );
}

/**
 * duration.HumanDuration: about two significant figures, "45s", "3m12s", "15m", "2h5m", "9h",
 * "3d4h", "20d", "2y30d", "9y"; a time slightly ahead (clock skew) reads "0s".
 */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = Math.trunc(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.trunc(hours / 24)}d` : `${Math.trunc(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const dy = Math.trunc(hours / 24) % 365;
    const years = Math.trunc(hours / 24 / 365);
    return dy === 0 ? `${years}y` : `${years}y${dy}d`;
  }
  return `${Math.trunc(hours / 24 / 365)}y`;
}

/** translateTimestampSince: the age of an API timestamp, "<unknown>" when unset. */
export function translateTimestampSince(timestamp: string | undefined, now: number): string {
  if (!timestamp) return "<unknown>";
  return humanDuration(now - Date.parse(timestamp));
}

const isRestartableInitContainer = (pod: Pod, name: string) =>
  pod.spec?.initContainers?.find((c) => c.name === name)?.restartPolicy === "Always";

const conditionTrue = (conditions: PodCondition[] | undefined, type: string) =>
  conditions?.some((c) => c.type === type && c.status === "True") ?? false;

/** Later of two API timestamps ("" when neither is set). */
const later = (a: string, b: string | undefined) => (b && (!a || Date.parse(b) > Date.parse(a)) ? b : a);

/**
 * printPod: one row, NAME READY STATUS RESTARTS AGE (+ IP NODE NOMINATED NODE READINESS GATES when
 * wide). STATUS is the phase, or the reason of the pod, of the first init container not done
 * ("Init:0/2", "Init:CrashLoopBackOff", "Init:ExitCode:1"), or of the last main container that waits
 * or has terminated ("ErrImagePull", "Completed"); "Terminating" once the pod is being deleted.
 */
export function printPod(pod: Pod, o: { wide: boolean; now: number }): string[] {
  const spec = pod.spec;
  const status = pod.status ?? {};
  let restarts = 0;
  let restartableInitContainerRestarts = 0;
  let totalContainers = spec?.containers.length ?? 0;
  let readyContainers = 0;
  let lastRestartDate = "";
  let lastRestartableInitContainerRestartDate = "";
  const podPhase = status.phase ?? "";
  let reason = status.reason || podPhase;
  if (status.conditions?.some((c) => c.type === "PodScheduled" && c.reason === "SchedulingGated"))
    reason = "SchedulingGated";

  for (const c of spec?.initContainers ?? []) if (c.restartPolicy === "Always") totalContainers++;

  let initializing = false;
  const initStatuses = status.initContainerStatuses ?? [];
  for (const [i, container] of initStatuses.entries()) {
    restarts += container.restartCount;
    lastRestartDate = later(lastRestartDate, container.lastState?.terminated?.finishedAt);
    const restartable = isRestartableInitContainer(pod, container.name);
    if (restartable) {
      restartableInitContainerRestarts += container.restartCount;
      lastRestartableInitContainerRestartDate = later(
        lastRestartableInitContainerRestartDate,
        container.lastState?.terminated?.finishedAt,
      );
    }
    const terminated = container.state?.terminated;
    const waiting = container.state?.waiting;
    if (terminated && terminated.exitCode === 0) continue;
    if (restartable && container.started) {
      if (container.ready) readyContainers++;
      continue;
    }
    if (terminated) {
      if (!terminated.reason) {
        reason = terminated.signal
          ? `Init:Signal:${terminated.signal}`
          : `Init:ExitCode:${terminated.exitCode}`;
      } else {
        reason = `Init:${terminated.reason}`;
      }
    } else if (waiting?.reason && waiting.reason !== "PodInitializing") {
      reason = `Init:${waiting.reason}`;
    } else {
      reason = `Init:${i}/${spec?.initContainers?.length ?? 0}`;
    }
    initializing = true;
    break;
  }

  if (!initializing || conditionTrue(status.conditions, "Initialized")) {
    restarts = restartableInitContainerRestarts;
    lastRestartDate = lastRestartableInitContainerRestartDate;
    let hasRunning = false;
    const statuses = status.containerStatuses ?? [];
    for (let i = statuses.length - 1; i >= 0; i--) {
      const container = statuses[i];
      if (!container) continue;
      restarts += container.restartCount;
      lastRestartDate = later(lastRestartDate, container.lastState?.terminated?.finishedAt);
      const { waiting, terminated, running } = container.state ?? {};
      if (waiting?.reason) reason = waiting.reason;
      else if (terminated?.reason) reason = terminated.reason;
      else if (terminated)
        reason = terminated.signal ? `Signal:${terminated.signal}` : `ExitCode:${terminated.exitCode}`;
      else if (container.ready && running) {
        hasRunning = true;
        readyContainers++;
      }
    }
    // A pod with one container still running is not "Completed" yet.
    if (reason === "Completed" && hasRunning)
      reason = conditionTrue(status.conditions, "Ready") ? "Running" : "NotReady";
  }

  const terminal = podPhase === "Failed" || podPhase === "Succeeded";
  if (pod.metadata?.deletionTimestamp && status.reason === "NodeLost") reason = "Unknown";
  else if (pod.metadata?.deletionTimestamp && !terminal) reason = "Terminating";

  const restartsText =
    restarts !== 0 && lastRestartDate
      ? `${restarts} (${translateTimestampSince(lastRestartDate, o.now)} ago)`
      : String(restarts);
  const cells = [
    pod.metadata?.name ?? "",
    `${readyContainers}/${totalContainers}`,
    reason,
    restartsText,
    translateTimestampSince(pod.metadata?.creationTimestamp, o.now),
  ];
  if (o.wide) {
    const gates = spec?.readinessGates ?? [];
    const trueGates = gates.filter(
      (g) => status.conditions?.find((c) => c.type === g.conditionType)?.status === "True",
    ).length;
    cells.push(
      status.podIPs?.[0]?.ip || "<none>",
      spec?.nodeName || "<none>",
      status.nominatedNodeName || "<none>",
      gates.length > 0 ? `${trueGates}/${gates.length}` : "<none>",
    );
  }
  return cells;
}
