// What the kubelet's pod decoding checks before a pod from a file or berth's local API reaches the sync
// loop: first the field types (what Go's JSON decoding rejects), then a subset of pkg/apis/core/validation
// ValidatePodCreate (1.28) — names, containers, images, ports, resources, probes, volumes, policies —
// with upstream's field.Error shapes: "spec.containers[0].image: Required value".
import type { Container, Pod, Probe, Volume } from "kubernetes-types/core/v1.js";
import { messageOf } from "../../lib/errdefs.js";
import { parseQuantity, type Quantity } from "../api/quantity.js";
import { isDNS1123Label, isDNS1123Subdomain, isQualifiedName } from "../kuberuntime/sandbox.js";
import { VolumeSourceFields } from "./pod-defaults.js";

export type FieldErrorType =
  | "Not found"
  | "Required value"
  | "Duplicate value"
  | "Invalid value"
  | "Unsupported value"
  | "Forbidden"
  | "Too long";

const causeReasons: Record<FieldErrorType, string> = {
  "Not found": "FieldValueNotFound",
  "Required value": "FieldValueRequired",
  "Duplicate value": "FieldValueDuplicate",
  "Invalid value": "FieldValueInvalid",
  "Unsupported value": "FieldValueNotSupported",
  Forbidden: "FieldValueForbidden",
  "Too long": "FieldValueTooLong",
};

const omitValue = Symbol("omit");

/** field.Error: what is wrong with which field. */
export class FieldError {
  constructor(
    readonly type: FieldErrorType,
    readonly field: string,
    readonly badValue: unknown = omitValue,
    readonly detail = "",
  ) {}

  /** ErrorBody: the message without the field. */
  body(): string {
    let s: string = this.type;
    const showsValue =
      !["Required value", "Forbidden", "Too long"].includes(this.type) && this.badValue !== omitValue;
    if (showsValue) s += `: ${showValue(this.badValue)}`;
    if (this.detail) s += `: ${this.detail}`;
    return s;
  }

  /** The StatusCause reason: FieldValueRequired, FieldValueInvalid… */
  reason(): string {
    return causeReasons[this.type];
  }

  toString(): string {
    return `${this.field}: ${this.body()}`;
  }
}

function showValue(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return JSON.stringify(v) ?? String(v);
}

const required = (field: string, detail = "") => new FieldError("Required value", field, omitValue, detail);
const invalid = (field: string, value: unknown, detail: string) =>
  new FieldError("Invalid value", field, value, detail);
const forbidden = (field: string, detail: string) => new FieldError("Forbidden", field, omitValue, detail);
const notSupported = (field: string, value: unknown, supported: readonly string[]) =>
  new FieldError(
    "Unsupported value",
    field,
    value,
    `supported values: ${[...supported]
      .sort()
      .map((s) => JSON.stringify(s))
      .join(", ")}`,
  );

// ---- Field types ----

/** The type a field must have; objects list the fields they check and let others through. */
type Shape =
  | "string"
  | "integer"
  | "boolean"
  | "object"
  | "intOrString"
  | "quantity"
  | { list: Shape }
  | { map: Shape }
  | { fields: Record<string, Shape> };

const list = (of: Shape): Shape => ({ list: of });
const map = (of: Shape): Shape => ({ map: of });
const fields = (f: Record<string, Shape>): Shape => ({ fields: f });

const fieldRefShape = fields({ apiVersion: "string", fieldPath: "string" });
const httpGetShape = fields({
  path: "string",
  port: "intOrString",
  host: "string",
  scheme: "string",
  httpHeaders: list(fields({ name: "string", value: "string" })),
});
const handlerShape = {
  exec: fields({ command: list("string") }),
  httpGet: httpGetShape,
  tcpSocket: fields({ port: "intOrString", host: "string" }),
};
const probeShape = fields({
  ...handlerShape,
  grpc: fields({ port: "integer", service: "string" }),
  initialDelaySeconds: "integer",
  timeoutSeconds: "integer",
  periodSeconds: "integer",
  successThreshold: "integer",
  failureThreshold: "integer",
  terminationGracePeriodSeconds: "integer",
});
const containerShape = fields({
  name: "string",
  image: "string",
  command: list("string"),
  args: list("string"),
  workingDir: "string",
  ports: list(
    fields({
      name: "string",
      hostPort: "integer",
      containerPort: "integer",
      protocol: "string",
      hostIP: "string",
    }),
  ),
  env: list(fields({ name: "string", value: "string", valueFrom: fields({ fieldRef: fieldRefShape }) })),
  envFrom: list("object"),
  resources: fields({ limits: map("quantity"), requests: map("quantity") }),
  volumeMounts: list(
    fields({
      name: "string",
      readOnly: "boolean",
      mountPath: "string",
      subPath: "string",
      mountPropagation: "string",
    }),
  ),
  livenessProbe: probeShape,
  readinessProbe: probeShape,
  startupProbe: probeShape,
  lifecycle: fields({ postStart: fields(handlerShape), preStop: fields(handlerShape) }),
  terminationMessagePath: "string",
  terminationMessagePolicy: "string",
  imagePullPolicy: "string",
  securityContext: "object",
  stdin: "boolean",
  stdinOnce: "boolean",
  tty: "boolean",
  restartPolicy: "string",
});
const downwardAPIShape = fields({
  items: list(fields({ path: "string", fieldRef: fieldRefShape, mode: "integer" })),
  defaultMode: "integer",
});
const volumeShape = fields({
  ...Object.fromEntries(VolumeSourceFields.map((k) => [k, "object" as Shape])),
  name: "string",
  hostPath: fields({ path: "string", type: "string" }),
  emptyDir: fields({ medium: "string", sizeLimit: "quantity" }),
  configMap: fields({ name: "string", items: list("object"), defaultMode: "integer", optional: "boolean" }),
  secret: fields({
    secretName: "string",
    items: list("object"),
    defaultMode: "integer",
    optional: "boolean",
  }),
  downwardAPI: downwardAPIShape,
  projected: fields({
    sources: list(
      fields({
        downwardAPI: downwardAPIShape,
        serviceAccountToken: fields({ expirationSeconds: "integer", audience: "string", path: "string" }),
      }),
    ),
    defaultMode: "integer",
  }),
});
const podShape = fields({
  apiVersion: "string",
  kind: "string",
  metadata: fields({
    name: "string",
    namespace: "string",
    uid: "string",
    labels: map("string"),
    annotations: map("string"),
    deletionGracePeriodSeconds: "integer",
  }),
  spec: fields({
    containers: list(containerShape),
    initContainers: list(containerShape),
    ephemeralContainers: list("object"),
    volumes: list(volumeShape),
    restartPolicy: "string",
    terminationGracePeriodSeconds: "integer",
    activeDeadlineSeconds: "integer",
    dnsPolicy: "string",
    dnsConfig: "object",
    nodeSelector: map("string"),
    nodeName: "string",
    hostNetwork: "boolean",
    hostPID: "boolean",
    hostIPC: "boolean",
    shareProcessNamespace: "boolean",
    securityContext: "object",
    hostname: "string",
    subdomain: "string",
    schedulerName: "string",
    tolerations: list("object"),
    priority: "integer",
    enableServiceLinks: "boolean",
    overhead: map("quantity"),
  }),
  status: "object",
});

/**
 * The field type errors of a decoded manifest: what Go's decoding would refuse (a list where an object
 * goes, a float for an int32, a quantity that does not parse). Null stands for an absent field, as in Go.
 */
export function checkPodTypes(raw: unknown): FieldError[] {
  const errs: FieldError[] = [];
  checkShape(podShape, raw, "", errs);
  return errs;
}

function checkShape(shape: Shape, v: unknown, path: string, errs: FieldError[]): void {
  if (v === null || v === undefined) return;
  const at = path || "<root>";
  const mustBe = (type: string) => {
    errs.push(invalid(at, v, `must be of type ${type}`));
  };
  if (typeof shape === "string") {
    switch (shape) {
      case "string":
        if (typeof v !== "string") mustBe("string");
        return;
      case "integer":
        if (!Number.isSafeInteger(v)) mustBe("integer");
        return;
      case "boolean":
        if (typeof v !== "boolean") mustBe("boolean");
        return;
      case "object":
        if (!isObject(v)) mustBe("object");
        return;
      case "intOrString":
        if (typeof v !== "string" && !Number.isSafeInteger(v)) mustBe("integer or string");
        return;
      case "quantity":
        if (typeof v !== "string" && typeof v !== "number") {
          mustBe("quantity");
          return;
        }
        quantityOrError(v, at, errs);
        return;
    }
  }
  if ("list" in shape) {
    if (!Array.isArray(v)) {
      mustBe("list");
      return;
    }
    v.forEach((item, i) => {
      checkShape(shape.list, item, `${path}[${i}]`, errs);
    });
  } else if ("map" in shape) {
    if (!isObject(v)) {
      mustBe("object");
      return;
    }
    for (const [k, item] of Object.entries(v)) checkShape(shape.map, item, `${path}[${k}]`, errs);
  } else {
    if (!isObject(v)) {
      mustBe("object");
      return;
    }
    for (const [k, sub] of Object.entries(shape.fields))
      checkShape(sub, v[k], path ? `${path}.${k}` : k, errs);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function quantityOrError(v: string | number, field: string, errs: FieldError[]): Quantity | undefined {
  try {
    return parseQuantity(v);
  } catch (err) {
    errs.push(invalid(field, v, messageOf(err).replace(/^invalid quantity "[^"]*": /, "")));
    return undefined;
  }
}

// ---- ValidatePodCreate, the parts the kubelet depends on ----

const restartPolicies = ["Always", "OnFailure", "Never"];
const dnsPolicies = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"];
const pullPolicies = ["Always", "IfNotPresent", "Never"];
const protocols = ["TCP", "UDP", "SCTP"];
const terminationMessagePolicies = ["File", "FallbackToLogsOnError"];
const hostPathTypes = [
  "",
  "DirectoryOrCreate",
  "Directory",
  "FileOrCreate",
  "File",
  "Socket",
  "CharDevice",
  "BlockDevice",
];
const totalAnnotationSizeLimitB = 256 * 1024;
const labelValueRe = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Validates a typed, defaulted pod; checkPodTypes must have passed. */
export function validatePod(pod: Pod): FieldError[] {
  const errs: FieldError[] = [];
  const meta = pod.metadata ?? {};
  if (!meta.name) errs.push(required("metadata.name", "name or generateName is required"));
  else for (const msg of isDNS1123Subdomain(meta.name)) errs.push(invalid("metadata.name", meta.name, msg));
  if (!meta.namespace) errs.push(required("metadata.namespace"));
  else
    for (const msg of isDNS1123Label(meta.namespace))
      errs.push(invalid("metadata.namespace", meta.namespace, msg));
  for (const [k, v] of Object.entries(meta.labels ?? {})) {
    for (const msg of isQualifiedName(k)) errs.push(invalid("metadata.labels", k, msg));
    if (v.length > 63 || !labelValueRe.test(v)) {
      errs.push(
        invalid(
          `metadata.labels`,
          v,
          "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (at most 63 characters)",
        ),
      );
    }
  }
  let annotationBytes = 0;
  for (const [k, v] of Object.entries(meta.annotations ?? {})) {
    for (const msg of isQualifiedName(k.toLowerCase())) errs.push(invalid("metadata.annotations", k, msg));
    annotationBytes += k.length + v.length;
  }
  if (annotationBytes > totalAnnotationSizeLimitB) {
    errs.push(
      new FieldError(
        "Too long",
        "metadata.annotations",
        omitValue,
        `must have at most ${totalAnnotationSizeLimitB} bytes`,
      ),
    );
  }

  const spec = pod.spec;
  if (!spec) {
    errs.push(required("spec"));
    return errs;
  }
  const volumes = validateVolumes(spec.volumes ?? [], errs);
  if ((spec.containers ?? []).length === 0) errs.push(required("spec.containers"));
  const names = new Set<string>();
  (spec.initContainers ?? []).forEach((c, i) => {
    validateContainer(
      c,
      `spec.initContainers[${i}]`,
      { init: true, names, volumes, hostNetwork: !!spec.hostNetwork },
      errs,
    );
  });
  (spec.containers ?? []).forEach((c, i) => {
    validateContainer(
      c,
      `spec.containers[${i}]`,
      { init: false, names, volumes, hostNetwork: !!spec.hostNetwork },
      errs,
    );
  });
  if (!restartPolicies.includes(spec.restartPolicy ?? "")) {
    errs.push(notSupported("spec.restartPolicy", spec.restartPolicy ?? "", restartPolicies));
  }
  if (!dnsPolicies.includes(spec.dnsPolicy ?? ""))
    errs.push(notSupported("spec.dnsPolicy", spec.dnsPolicy ?? "", dnsPolicies));
  if (spec.dnsPolicy === "None" && !spec.dnsConfig) {
    errs.push(required("spec.dnsConfig", "must provide `dnsConfig` when `dnsPolicy` is None"));
  }
  if ((spec.terminationGracePeriodSeconds ?? 0) < 0) {
    errs.push(
      invalid(
        "spec.terminationGracePeriodSeconds",
        spec.terminationGracePeriodSeconds,
        "must be greater than or equal to 0",
      ),
    );
  }
  if (
    spec.activeDeadlineSeconds !== undefined &&
    spec.activeDeadlineSeconds !== null &&
    spec.activeDeadlineSeconds < 1
  ) {
    errs.push(
      invalid(
        "spec.activeDeadlineSeconds",
        spec.activeDeadlineSeconds,
        "must be between 1 and 2147483647, inclusive",
      ),
    );
  }
  return errs;
}

function validateVolumes(volumes: Volume[], errs: FieldError[]): Set<string> {
  const names = new Set<string>();
  volumes.forEach((v, i) => {
    const at = `spec.volumes[${i}]`;
    if (!v.name) errs.push(required(`${at}.name`));
    else if (names.has(v.name)) errs.push(new FieldError("Duplicate value", `${at}.name`, v.name));
    else for (const msg of isDNS1123Label(v.name)) errs.push(invalid(`${at}.name`, v.name, msg));
    if (v.name) names.add(v.name);
    const sources = VolumeSourceFields.filter((k) => v[k] !== undefined && v[k] !== null);
    if (sources.length === 0) errs.push(required(at, "must specify a volume type"));
    if (sources.length > 1) errs.push(forbidden(at, "may not specify more than 1 volume type"));
    if (v.hostPath) {
      if (!v.hostPath.path) errs.push(required(`${at}.hostPath.path`));
      if (!hostPathTypes.includes(v.hostPath.type ?? ""))
        errs.push(notSupported(`${at}.hostPath.type`, v.hostPath.type, hostPathTypes));
    }
    if (v.configMap && !v.configMap.name) errs.push(required(`${at}.configMap.name`));
    if (v.secret && !v.secret.secretName) errs.push(required(`${at}.secret.secretName`));
    for (const [source, mode] of [
      ["configMap", v.configMap?.defaultMode],
      ["secret", v.secret?.defaultMode],
      ["downwardAPI", v.downwardAPI?.defaultMode],
      ["projected", v.projected?.defaultMode],
    ] as const) {
      if (mode !== undefined && mode !== null && (mode < 0 || mode > 0o777)) {
        errs.push(
          invalid(
            `${at}.${source}.defaultMode`,
            mode,
            "must be a number between 0 and 0777 (octal), both inclusive",
          ),
        );
      }
    }
  });
  return names;
}

interface ContainerContext {
  init: boolean;
  /** Names taken so far, across init and regular containers. */
  names: Set<string>;
  volumes: Set<string>;
  hostNetwork: boolean;
}

function validateContainer(c: Container, at: string, ctx: ContainerContext, errs: FieldError[]): void {
  if (!c.name) errs.push(required(`${at}.name`));
  else if (ctx.names.has(c.name)) errs.push(new FieldError("Duplicate value", `${at}.name`, c.name));
  else for (const msg of isDNS1123Label(c.name)) errs.push(invalid(`${at}.name`, c.name, msg));
  if (c.name) ctx.names.add(c.name);
  if (!c.image || c.image.trim() !== c.image) {
    if (!c.image) errs.push(required(`${at}.image`));
    else errs.push(invalid(`${at}.image`, c.image, "must not have leading or trailing whitespace"));
  }
  if (!pullPolicies.includes(c.imagePullPolicy ?? "")) {
    errs.push(notSupported(`${at}.imagePullPolicy`, c.imagePullPolicy ?? "", pullPolicies));
  }
  if (!terminationMessagePolicies.includes(c.terminationMessagePolicy ?? "")) {
    errs.push(
      notSupported(
        `${at}.terminationMessagePolicy`,
        c.terminationMessagePolicy ?? "",
        terminationMessagePolicies,
      ),
    );
  }
  if (c.restartPolicy !== undefined && c.restartPolicy !== null) {
    if (!ctx.init) errs.push(forbidden(`${at}.restartPolicy`, "may not be set for non-init containers"));
    else if (c.restartPolicy !== "Always")
      errs.push(notSupported(`${at}.restartPolicy`, c.restartPolicy, ["Always"]));
  }
  const portNames = new Set<string>();
  (c.ports ?? []).forEach((p, i) => {
    const pat = `${at}.ports[${i}]`;
    if (p.name) {
      if (portNames.has(p.name)) errs.push(new FieldError("Duplicate value", `${pat}.name`, p.name));
      portNames.add(p.name);
    }
    if (!(p.containerPort >= 1 && p.containerPort <= 65535)) {
      errs.push(
        invalid(`${pat}.containerPort`, p.containerPort ?? 0, "must be between 1 and 65535, inclusive"),
      );
    }
    if (p.hostPort !== undefined && p.hostPort !== null && (p.hostPort < 0 || p.hostPort > 65535)) {
      errs.push(invalid(`${pat}.hostPort`, p.hostPort, "must be between 1 and 65535, inclusive"));
    }
    if (ctx.hostNetwork && p.hostPort !== p.containerPort) {
      errs.push(
        invalid(`${pat}.hostPort`, p.hostPort, "must match `containerPort` when `hostNetwork` is true"),
      );
    }
    if (!protocols.includes(p.protocol ?? ""))
      errs.push(notSupported(`${pat}.protocol`, p.protocol ?? "", protocols));
  });
  (c.env ?? []).forEach((e, i) => {
    if (!e.name) errs.push(required(`${at}.env[${i}].name`));
  });
  const mountPaths = new Set<string>();
  (c.volumeMounts ?? []).forEach((m, i) => {
    const mat = `${at}.volumeMounts[${i}]`;
    if (!m.name) errs.push(required(`${mat}.name`));
    else if (!ctx.volumes.has(m.name)) errs.push(new FieldError("Not found", `${mat}.name`, m.name));
    if (!m.mountPath) errs.push(required(`${mat}.mountPath`));
    else if (mountPaths.has(m.mountPath))
      errs.push(invalid(`${mat}.mountPath`, m.mountPath, "must be unique"));
    if (m.mountPath) mountPaths.add(m.mountPath);
  });
  validateResources(c, `${at}.resources`, errs);
  const probes: [string, Probe | undefined][] = [
    ["livenessProbe", c.livenessProbe],
    ["readinessProbe", c.readinessProbe],
    ["startupProbe", c.startupProbe],
  ];
  for (const [name, probe] of probes) {
    if (!probe) continue;
    if (ctx.init && c.restartPolicy !== "Always") {
      errs.push(
        forbidden(`${at}.${name}`, "may not be set for init containers without restartPolicy=Always"),
      );
      continue;
    }
    validateProbe(probe, `${at}.${name}`, name !== "readinessProbe", errs);
  }
}

function validateResources(c: Container, at: string, errs: FieldError[]): void {
  const limits: Record<string, Quantity> = {};
  for (const [name, amount] of Object.entries(c.resources?.limits ?? {})) {
    const q = quantityOrError(amount, `${at}.limits[${name}]`, errs);
    if (!q) continue;
    if (q.nanos < 0n)
      errs.push(invalid(`${at}.limits[${name}]`, String(amount), "must be greater than or equal to 0"));
    limits[name] = q;
  }
  for (const [name, amount] of Object.entries(c.resources?.requests ?? {})) {
    const q = quantityOrError(amount, `${at}.requests[${name}]`, errs);
    if (!q) continue;
    if (q.nanos < 0n)
      errs.push(invalid(`${at}.requests[${name}]`, String(amount), "must be greater than or equal to 0"));
    const limit = limits[name];
    if (limit && q.cmp(limit) > 0) {
      errs.push(
        invalid(
          `${at}.requests[${name}]`,
          String(amount),
          `must be less than or equal to ${name} limit of ${c.resources?.limits?.[name]}`,
        ),
      );
    }
  }
}

function validateProbe(p: Probe, at: string, successMustBeOne: boolean, errs: FieldError[]): void {
  const handlers = (["exec", "httpGet", "tcpSocket", "grpc"] as const).filter((h) => p[h]);
  if (handlers.length === 0) errs.push(required(at, "must specify a handler type"));
  if (handlers.length > 1)
    errs.push(forbidden(`${at}.${handlers[1]}`, "may not specify more than 1 handler type"));
  for (const key of [
    "initialDelaySeconds",
    "timeoutSeconds",
    "periodSeconds",
    "successThreshold",
    "failureThreshold",
  ] as const) {
    const v = p[key];
    if (v !== undefined && v !== null && v < 0)
      errs.push(invalid(`${at}.${key}`, v, "must be greater than or equal to 0"));
  }
  if (successMustBeOne && p.successThreshold !== undefined && p.successThreshold !== 1) {
    errs.push(invalid(`${at}.successThreshold`, p.successThreshold, "must be 1"));
  }
}
