// berth describe pod: a pod of berth's local API and the kubelet's events about it, laid out as kubectl
// describe lays them out (staging/src/k8s.io/kubectl/pkg/describe/describe.go: describePod,
// describeContainers, describeVolumes, DescribeEvents): "Label:<tab>value" lines indented two spaces a
// level and aligned by a Go tabwriter, each run of lines with the same columns aligned on its own.
import type { Command } from "commander";
import type {
  Container,
  ContainerState,
  ContainerStatus,
  EnvVar,
  Event,
  Pod,
  ResourceFieldSelector,
  Toleration,
  Volume,
} from "kubernetes-types/core/v1.js";
import { parseQuantity } from "../kubelet/api/quantity.js";
import { getPodQOS } from "../kubelet/qos/qos.js";
import { run } from "./context.js";
import { translateTimestampSince } from "./get.js";
import {
  KubeletClient,
  type KubeletSocketOptions,
  parsePodArgs,
  podsPath,
  withKubeletSocket,
} from "./kubelet-client.js";
import { describeTabs, tabwrite } from "./tabwriter.js";

interface DescribeOptions extends KubeletSocketOptions {
  namespace: string;
}

export function register(program: Command): void {
  withKubeletSocket(
    program
      .command("describe")
      .description("Show a pod of the kubelet's local API in detail, with its events (kubectl describe)")
      .argument("<resource>", "pods (pod, po), or pod/NAME")
      .argument("[names...]", "pod names; every pod of the namespace when none")
      .option("-n, --namespace <namespace>", "namespace of the pods", "default"),
  ).action(
    run<DescribeOptions>(async (cli, opts, args) => {
      const names = parsePodArgs(args);
      const client = new KubeletClient(opts.kubeletSocket, cli.timeoutMs);
      const pods =
        names.length > 0
          ? await Promise.all(names.map((name) => client.get<Pod>(podsPath(opts.namespace, name))))
          : (await client.get<{ items: Pod[] }>(podsPath(opts.namespace))).items;
      if (pods.length === 0) {
        process.stderr.write(`No resources found in ${opts.namespace} namespace.\n`);
        return;
      }
      const texts: string[] = [];
      for (const pod of pods) texts.push(describePod(pod, await searchEvents(client, pod), Date.now()));
      // kubectl separates the descriptions of several objects by a blank line.
      cli.print(texts.join("\n\n"));
    }),
  );
}

/** The events about one pod, as kubectl looks them up; none (no Events section) when that fails. */
async function searchEvents(client: KubeletClient, pod: Pod): Promise<Event[] | undefined> {
  const meta = pod.metadata ?? {};
  const selector = [
    `involvedObject.name=${meta.name}`,
    `involvedObject.namespace=${meta.namespace}`,
    `involvedObject.uid=${meta.uid}`,
  ].join(",");
  const path = `/api/v1/namespaces/${encodeURIComponent(meta.namespace ?? "")}/events?fieldSelector=${encodeURIComponent(selector)}`;
  return client.get<{ items: Event[] }>(path).then(
    (list) => list.items,
    () => undefined,
  );
}

/** kubectl's skipped annotation (what apply keeps) and its cut-off for long ones. */
const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration";
const maxAnnotationLen = 140;

/** Writes lines at indentation levels (two spaces each); flush() starts a new tabwriter section. */
class PrefixWriter {
  private readonly sections: string[] = [""];

  write(level: number, text: string): void {
    // printers.WriteEscaped: no terminal control sequences from the object reach the terminal.
    const escaped = text.replaceAll("\x1b", "^[").replaceAll("\r", "\\r");
    this.sections[this.sections.length - 1] += "  ".repeat(level) + escaped;
  }

  flush(): void {
    this.sections.push("");
  }

  toString(): string {
    return this.sections.map((s) => tabwrite(s, describeTabs)).join("");
  }
}

const weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/** Go's time.RFC1123Z in local time ("Mon, 02 Jan 2006 15:04:05 -0700"), as metav1.Time is read. */
export function rfc1123z(timestamp: string | undefined): string {
  if (!timestamp) return "Mon, 01 Jan 0001 00:00:00 +0000";
  const d = new Date(timestamp);
  const offset = -d.getTimezoneOffset();
  const sign = offset < 0 ? "-" : "+";
  const zone = `${sign}${pad(Math.trunc(Math.abs(offset) / 60))}${pad(Math.abs(offset) % 60)}`;
  return `${weekdays[d.getDay()]}, ${pad(d.getDate())} ${months[d.getMonth()]} ${d.getFullYear()} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${zone}`;
}

/** describePod: the whole description; `events` undefined leaves the Events section out. */
export function describePod(pod: Pod, events: Event[] | undefined, now: number): string {
  const w = new PrefixWriter();
  const meta = pod.metadata ?? {};
  const spec = pod.spec;
  const status = pod.status ?? {};
  w.write(0, `Name:\t${meta.name ?? ""}\n`);
  w.write(0, `Namespace:\t${meta.namespace ?? ""}\n`);
  if (spec?.priority !== undefined) w.write(0, `Priority:\t${spec.priority}\n`);
  if (spec?.priorityClassName) w.write(0, `Priority Class Name:\t${spec.priorityClassName}\n`);
  if (spec?.runtimeClassName) w.write(0, `Runtime Class Name:\t${spec.runtimeClassName}\n`);
  if (spec?.serviceAccountName) w.write(0, `Service Account:\t${spec.serviceAccountName}\n`);
  w.write(0, spec?.nodeName ? `Node:\t${spec.nodeName}/${status.hostIP ?? ""}\n` : "Node:\t<none>\n");
  if (status.startTime) w.write(0, `Start Time:\t${rfc1123z(status.startTime)}\n`);
  printLabelsMultiline(w, "Labels", meta.labels);
  printAnnotationsMultiline(w, "Annotations", meta.annotations);
  if (meta.deletionTimestamp && status.phase !== "Failed" && status.phase !== "Succeeded") {
    w.write(0, `Status:\tTerminating (lasts ${translateTimestampSince(meta.deletionTimestamp, now)})\n`);
    w.write(0, `Termination Grace Period:\t${meta.deletionGracePeriodSeconds ?? 0}s\n`);
  } else {
    w.write(0, `Status:\t${status.phase ?? ""}\n`);
  }
  if (status.reason) w.write(0, `Reason:\t${status.reason}\n`);
  if (status.message) w.write(0, `Message:\t${status.message}\n`);
  const seccomp = spec?.securityContext?.seccompProfile;
  if (seccomp) {
    w.write(0, `SeccompProfile:\t${seccomp.type}\n`);
    if (seccomp.type === "Localhost") w.write(0, `LocalhostProfile:\t${seccomp.localhostProfile ?? ""}\n`);
  }
  w.write(0, `IP:\t${status.podIP ?? ""}\n`);
  if (!status.podIPs?.length) w.write(0, "IPs:\t<none>\n");
  else {
    w.write(0, "IPs:\n");
    for (const ip of status.podIPs) w.write(1, `IP:\t${ip.ip}\n`);
  }
  const controller = meta.ownerReferences?.find((r) => r.controller);
  if (controller) w.write(0, `Controlled By:\t${controller.kind}/${controller.name}\n`);
  if (spec?.initContainers?.length)
    describeContainers("Init Containers", spec.initContainers, status.initContainerStatuses, pod, w);
  describeContainers("Containers", spec?.containers ?? [], status.containerStatuses, pod, w);
  if (spec?.readinessGates?.length) {
    w.write(0, "Readiness Gates:\n  Type\tStatus\n");
    for (const g of spec.readinessGates) {
      const found = status.conditions?.find((c) => c.type === g.conditionType);
      w.write(1, `${g.conditionType} \t${found?.status ?? "<none>"} \n`);
    }
  }
  if (status.conditions?.length) {
    w.write(0, "Conditions:\n  Type\tStatus\n");
    for (const c of status.conditions) w.write(1, `${c.type} \t${c.status} \n`);
  }
  describeVolumes(spec?.volumes, w);
  w.write(0, `QoS Class:\t${getPodQOS(pod)}\n`);
  printLabelsMultiline(w, "Node-Selectors", spec?.nodeSelector);
  printTolerationsMultiline(w, spec?.tolerations);
  if (events) describeEvents(events, w, now);
  return w.toString();
}

function printLabelsMultiline(
  w: PrefixWriter,
  title: string,
  labels: Record<string, string> | undefined,
): void {
  w.write(0, `${title}:\t`);
  const keys = Object.keys(labels ?? {}).sort();
  if (keys.length === 0) {
    w.write(0, "<none>\n");
    return;
  }
  keys.forEach((key, i) => {
    if (i !== 0) w.write(0, "\t");
    w.write(0, `${key}=${labels?.[key]}\n`);
  });
}

function printAnnotationsMultiline(
  w: PrefixWriter,
  title: string,
  annotations: Record<string, string> | undefined,
): void {
  w.write(0, `${title}:\t`);
  const keys = Object.keys(annotations ?? {})
    .filter((k) => k !== lastAppliedAnnotation)
    .sort();
  if (keys.length === 0) {
    w.write(0, "<none>\n");
    return;
  }
  const shorten = (s: string, max: number) => (s.length > max ? `${s.slice(0, max)}...` : s);
  keys.forEach((key, i) => {
    if (i !== 0) w.write(0, "\t");
    const value = (annotations?.[key] ?? "").replace(/\n$/, "");
    if (value.length + key.length + 2 > maxAnnotationLen || value.includes("\n")) {
      w.write(0, `${key}:\n`);
      for (const line of value.split("\n")) w.write(0, `\t  ${shorten(line, maxAnnotationLen - 2)}\n`);
    } else {
      w.write(0, `${key}: ${value}\n`);
    }
  });
}

function printTolerationsMultiline(w: PrefixWriter, tolerations: Toleration[] | undefined): void {
  w.write(0, "Tolerations:\t");
  if (!tolerations?.length) {
    w.write(0, "<none>\n");
    return;
  }
  const sorted = [...tolerations].sort((a, b) =>
    (a.key ?? "") < (b.key ?? "") ? -1 : (a.key ?? "") > (b.key ?? "") ? 1 : 0,
  );
  sorted.forEach((t, i) => {
    if (i !== 0) w.write(0, "\t");
    let line = t.key ?? "";
    if (t.value) line += `=${t.value}`;
    if (t.effect) line += `:${t.effect}`;
    // An empty key with operator Exists tolerates every taint.
    if (t.operator === "Exists" && !t.value) line += t.key || t.effect ? " op=Exists" : "op=Exists";
    if (t.tolerationSeconds !== undefined) line += ` for ${t.tolerationSeconds}s`;
    w.write(0, `${line}\n`);
  });
}

function describeContainers(
  label: string,
  containers: Container[],
  statuses: ContainerStatus[] | undefined,
  pod: Pod,
  w: PrefixWriter,
): void {
  w.write(0, `${label}:${containers.length === 0 ? " <none>" : ""}\n`);
  for (const c of containers) {
    const status = statuses?.find((s) => s.name === c.name);
    w.write(1, `${c.name}:\n`);
    if (status) w.write(2, `Container ID:\t${status.containerID ?? ""}\n`);
    w.write(2, `Image:\t${c.image ?? ""}\n`);
    if (status) w.write(2, `Image ID:\t${status.imageID}\n`);
    const ports = (hostPort: boolean) =>
      (c.ports ?? [])
        .map((p) => {
          const text = `${hostPort ? (p.hostPort ?? 0) : p.containerPort}/${p.protocol ?? "TCP"}`;
          return p.name ? `${text} (${p.name})` : text;
        })
        .join(", ");
    const containerPorts = ports(false);
    w.write(
      2,
      containerPorts.includes(",") ? `Ports:\t${containerPorts}\n` : `Port:\t${containerPorts || "<none>"}\n`,
    );
    const hostPorts = ports(true);
    w.write(
      2,
      hostPorts.includes(",") ? `Host Ports:\t${hostPorts}\n` : `Host Port:\t${hostPorts || "<none>"}\n`,
    );
    const seccomp = c.securityContext?.seccompProfile;
    if (seccomp) {
      w.write(2, `SeccompProfile:\t${seccomp.type}\n`);
      if (seccomp.type === "Localhost") w.write(3, `LocalhostProfile:\t${seccomp.localhostProfile ?? ""}\n`);
    }
    for (const [title, lines] of [
      ["Command", c.command],
      ["Args", c.args],
    ] as const) {
      if (!lines?.length) continue;
      w.write(2, `${title}:\n`);
      for (const line of lines) for (const part of line.split("\n")) w.write(3, `${part}\n`);
    }
    if (status) {
      describeStatus("State", status.state, w);
      if (status.lastState?.terminated) describeStatus("Last State", status.lastState, w);
      w.write(2, `Ready:\t${status.ready ? "True" : "False"}\n`);
      w.write(2, `Restart Count:\t${status.restartCount}\n`);
    }
    for (const [title, list] of [
      ["Limits", c.resources?.limits],
      ["Requests", c.resources?.requests],
    ] as const) {
      const names = Object.keys(list ?? {}).sort();
      if (names.length > 0) w.write(2, `${title}:\n`);
      for (const name of names) w.write(3, `${name}:\t${list?.[name]}\n`);
    }
    for (const [title, probe] of [
      ["Liveness", c.livenessProbe],
      ["Readiness", c.readinessProbe],
      ["Startup", c.startupProbe],
    ] as const) {
      if (probe) w.write(2, `${title}:\t${describeProbe(probe)}\n`);
    }
    if (c.envFrom?.length) {
      w.write(2, "Environment Variables from:\n");
      for (const e of c.envFrom) {
        const [from, ref] = e.configMapRef ? ["ConfigMap", e.configMapRef] : ["Secret", e.secretRef];
        const optional = ref?.optional === true;
        const source = e.prefix ? `${from} with prefix '${e.prefix}'` : from;
        w.write(3, `${ref?.name ?? ""}\t${source}\tOptional: ${optional}\n`);
      }
    }
    w.write(2, `Environment:${c.env?.length ? "" : "\t<none>"}\n`);
    for (const e of c.env ?? []) describeEnvVar(e, c, pod, w);
    const mounts = [...(c.volumeMounts ?? [])].sort((a, b) =>
      a.mountPath < b.mountPath ? -1 : a.mountPath > b.mountPath ? 1 : 0,
    );
    w.write(2, `Mounts:${mounts.length ? "" : "\t<none>"}\n`);
    for (const m of mounts) {
      const flags = [m.readOnly ? "ro" : "rw"];
      if (m.subPath) flags.push(`path=${JSON.stringify(m.subPath)}`);
      w.write(3, `${m.mountPath} from ${m.name} (${flags.join(",")})\n`);
    }
  }
}

function describeStatus(title: string, state: ContainerState | undefined, w: PrefixWriter): void {
  if (state?.running) {
    w.write(2, `${title}:\tRunning\n`);
    w.write(3, `Started:\t${rfc1123z(state.running.startedAt)}\n`);
  } else if (state?.waiting) {
    w.write(2, `${title}:\tWaiting\n`);
    if (state.waiting.reason) w.write(3, `Reason:\t${state.waiting.reason}\n`);
  } else if (state?.terminated) {
    const t = state.terminated;
    w.write(2, `${title}:\tTerminated\n`);
    if (t.reason) w.write(3, `Reason:\t${t.reason}\n`);
    if (t.message) w.write(3, `Message:\t${t.message}\n`);
    w.write(3, `Exit Code:\t${t.exitCode}\n`);
    if (t.signal) w.write(3, `Signal:\t${t.signal}\n`);
    w.write(3, `Started:\t${rfc1123z(t.startedAt)}\n`);
    w.write(3, `Finished:\t${rfc1123z(t.finishedAt)}\n`);
  } else {
    w.write(2, `${title}:\tWaiting\n`);
  }
}

type Probe = NonNullable<Container["livenessProbe"]>;

/** DescribeProbe: the action, then its timing with the API server's defaults. */
function describeProbe(p: Probe): string {
  const attrs = `delay=${p.initialDelaySeconds ?? 0}s timeout=${p.timeoutSeconds ?? 1}s period=${p.periodSeconds ?? 10}s #success=${p.successThreshold ?? 1} #failure=${p.failureThreshold ?? 3}`;
  if (p.exec) return `exec [${(p.exec.command ?? []).join(" ")}] ${attrs}`;
  if (p.httpGet) {
    const port = String(p.httpGet.port);
    const host = p.httpGet.host ?? "";
    const hostPort = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
    return `http-get ${(p.httpGet.scheme ?? "HTTP").toLowerCase()}://${hostPort}${p.httpGet.path ?? ""} ${attrs}`;
  }
  if (p.tcpSocket) return `tcp-socket ${p.tcpSocket.host ?? ""}:${p.tcpSocket.port} ${attrs}`;
  if (p.grpc) return `grpc <pod>:${p.grpc.port} ${p.grpc.service ?? ""} ${attrs}`;
  return `unknown ${attrs}`;
}

function describeEnvVar(e: EnvVar, c: Container, pod: Pod, w: PrefixWriter): void {
  const from = e.valueFrom;
  if (!from) {
    (e.value ?? "").split("\n").forEach((line, i) => {
      w.write(3, i === 0 ? `${e.name}:\t${line}\n` : `\t${line}\n`);
    });
  } else if (from.fieldRef) {
    const ref = from.fieldRef;
    w.write(
      3,
      `${e.name}:\t${podFieldValue(pod, ref.fieldPath)} (${ref.apiVersion ?? "v1"}:${ref.fieldPath})\n`,
    );
  } else if (from.resourceFieldRef) {
    const ref = from.resourceFieldRef;
    let value = containerResourceValue(ref, c);
    if (value === "0" && (ref.resource === "limits.cpu" || ref.resource === "limits.memory"))
      value = "node allocatable";
    w.write(3, `${e.name}:\t${value} (${ref.resource})\n`);
  } else if (from.secretKeyRef) {
    const ref = from.secretKeyRef;
    w.write(
      3,
      `${e.name}:\t<set to the key '${ref.key}' in secret '${ref.name ?? ""}'>\tOptional: ${ref.optional === true}\n`,
    );
  } else if (from.configMapKeyRef) {
    const ref = from.configMapKeyRef;
    w.write(
      3,
      `${e.name}:\t<set to the key '${ref.key}' of config map '${ref.name ?? ""}'>\tOptional: ${ref.optional === true}\n`,
    );
  }
}

/** fieldpath.ExtractFieldPathAsString over the pod as the API returned it; "" for what it cannot read. */
function podFieldValue(pod: Pod, fieldPath: string): string {
  const meta = pod.metadata ?? {};
  const keyed = /^metadata\.(labels|annotations)\['(.*)'\]$/.exec(fieldPath);
  if (keyed) return meta[keyed[1] as "labels" | "annotations"]?.[keyed[2] as string] ?? "";
  const formatMap = (m: Record<string, string> | undefined) =>
    Object.keys(m ?? {})
      .sort()
      .map((k) => `${k}=${JSON.stringify(m?.[k])}`)
      .join("\n");
  switch (fieldPath) {
    case "metadata.name":
      return meta.name ?? "";
    case "metadata.namespace":
      return meta.namespace ?? "";
    case "metadata.uid":
      return meta.uid ?? "";
    case "metadata.labels":
      return formatMap(meta.labels);
    case "metadata.annotations":
      return formatMap(meta.annotations);
    case "spec.nodeName":
      return pod.spec?.nodeName ?? "";
    case "spec.serviceAccountName":
      return pod.spec?.serviceAccountName ?? "";
    case "status.hostIP":
      return pod.status?.hostIP ?? "";
    case "status.podIP":
      return pod.status?.podIP ?? "";
    case "status.podIPs":
      return (pod.status?.podIPs ?? []).map((p) => p.ip).join(",");
    default:
      return "";
  }
}

/**
 * ExtractContainerResourceValue: the container's own request or limit in units of the divisor,
 * rounded up (CPU counted in millicores); an unset one is "0".
 */
function containerResourceValue(ref: ResourceFieldSelector, c: Container): string {
  const dot = ref.resource.indexOf(".");
  const kind = ref.resource.slice(0, dot);
  const name = ref.resource.slice(dot + 1);
  if (dot < 0 || (kind !== "limits" && kind !== "requests")) return "";
  try {
    const given = ref.divisor === undefined ? undefined : parseQuantity(ref.divisor);
    const divisor = given && !given.isZero() ? given : parseQuantity(1);
    const amount = parseQuantity(c.resources?.[kind]?.[name] ?? 0);
    const [n, d] =
      name === "cpu" ? [amount.milliValue(), divisor.milliValue()] : [amount.value(), divisor.value()];
    if (d === 0n) return "";
    return String(n / d + (n % d > 0n ? 1n : 0n));
  } catch {
    return "";
  }
}

function describeVolumes(volumes: Volume[] | undefined, w: PrefixWriter): void {
  if (!volumes?.length) {
    w.write(0, "Volumes:\t<none>\n");
    return;
  }
  w.write(0, "Volumes:\n");
  for (const v of volumes) {
    w.write(1, `${v.name}:\n`);
    if (v.hostPath) {
      w.write(
        2,
        `Type:\tHostPath (bare host directory volume)\n    Path:\t${v.hostPath.path}\n    HostPathType:\t${v.hostPath.type ?? ""}\n`,
      );
    } else if (v.emptyDir) {
      const limit = v.emptyDir.sizeLimit;
      const sizeLimit = limit !== undefined && !parseQuantity(limit).isZero() ? String(limit) : "<unset>";
      w.write(
        2,
        `Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n    Medium:\t${v.emptyDir.medium ?? ""}\n    SizeLimit:\t${sizeLimit}\n`,
      );
    } else if (v.secret) {
      w.write(
        2,
        `Type:\tSecret (a volume populated by a Secret)\n    SecretName:\t${v.secret.secretName ?? ""}\n    Optional:\t${v.secret.optional === true}\n`,
      );
    } else if (v.configMap) {
      w.write(
        2,
        `Type:\tConfigMap (a volume populated by a ConfigMap)\n    Name:\t${v.configMap.name ?? ""}\n    Optional:\t${v.configMap.optional === true}\n`,
      );
    } else if (v.downwardAPI) {
      w.write(2, "Type:\tDownwardAPI (a volume populated by information about the pod)\n    Items:\n");
      for (const item of v.downwardAPI.items ?? []) {
        if (item.fieldRef) w.write(3, `${item.fieldRef.fieldPath} -> ${item.path}\n`);
        if (item.resourceFieldRef) w.write(3, `${item.resourceFieldRef.resource} -> ${item.path}\n`);
      }
    } else if (v.projected) {
      w.write(2, "Type:\tProjected (a volume that contains injected data from multiple sources)\n");
      for (const s of v.projected.sources ?? []) {
        if (s.secret)
          w.write(2, `SecretName:\t${s.secret.name ?? ""}\n    Optional:\t${s.secret.optional === true}\n`);
        else if (s.downwardAPI) w.write(2, "DownwardAPI:\ttrue\n");
        else if (s.configMap)
          w.write(
            2,
            `ConfigMapName:\t${s.configMap.name ?? ""}\n    Optional:\t${s.configMap.optional === true}\n`,
          );
        else if (s.serviceAccountToken)
          w.write(2, `TokenExpirationSeconds:\t${s.serviceAccountToken.expirationSeconds ?? 3607}\n`);
      }
    } else {
      w.write(1, "<unknown>\n");
    }
  }
}

/** When kubectl orders an event: its last occurrence. */
const eventTime = (e: Event) =>
  Date.parse(e.series?.lastObservedTime ?? e.lastTimestamp ?? e.eventTime ?? "") || 0;

/** DescribeEvents: oldest first; a repeated event shows its count and the span it covers. */
function describeEvents(events: Event[], w: PrefixWriter, now: number): void {
  if (events.length === 0) {
    w.write(0, "Events:\t<none>\n");
    return;
  }
  w.flush();
  w.write(0, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n");
  w.write(1, "----\t------\t----\t----\t-------\n");
  for (const e of [...events].sort((a, b) => eventTime(a) - eventTime(b))) {
    const first = translateTimestampSince(e.eventTime ?? e.firstTimestamp, now);
    const interval = e.series
      ? `${translateTimestampSince(e.series.lastObservedTime, now)} (x${e.series.count} over ${first})`
      : (e.count ?? 0) > 1
        ? `${translateTimestampSince(e.lastTimestamp, now)} (x${e.count} over ${first})`
        : first;
    const source = e.source?.component || e.reportingComponent || "";
    w.write(1, `${e.type ?? ""}\t${e.reason ?? ""}\t${interval}\t${source}\t${(e.message ?? "").trim()}\n`);
  }
}
