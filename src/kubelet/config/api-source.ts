// The pods applied through berth's local API (server/local-api.ts), the node's stand-in for the API
// server: created and replaced by name, deleted gracefully, kept as one JSON file per pod under
// <rootDir>/pods-api so that they outlive a kubelet restart. Every change is sent to PodConfig as a SET
// from source "api". A deleted pod keeps its deletionTimestamp until the kubelet reports it terminated
// (podTerminated), as the API server keeps a pod until its kubelet confirms the containers are gone.
import { randomBytes, randomUUID } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import type { Pod } from "kubernetes-types/core/v1.js";
import {
  alreadyExists,
  BerthError,
  failedPrecondition,
  invalidArgument,
  messageOf,
  notFound,
} from "../../lib/errdefs.js";
import type { Logger } from "../../lib/log.js";
import { computePodQOS } from "../qos/qos.js";
import { type MutablePod, preparePod } from "./common.js";
import { ApiSource as ApiSourceName, type PodUpdate } from "./pod-config.js";
import { FieldError } from "./pod-validation.js";

/** The directory under the kubelet's root that holds the applied pods. */
export const ApiPodsDir = "pods-api";

/** A pod the API refuses field by field (HTTP 422 with the causes). */
export class InvalidPodError extends BerthError {
  constructor(
    readonly podName: string,
    readonly causes: FieldError[],
  ) {
    const list = causes.map(String);
    super(
      "InvalidArgument",
      `Pod ${JSON.stringify(podName)} is invalid: ${list.length === 1 ? list[0] : `[${list.join(", ")}]`}`,
    );
  }
}

export interface ApiSourceOptions {
  /** The kubelet's root directory; pods are kept in <rootDir>/pods-api. */
  rootDir: string;
  nodeName: string;
  /** Where the SETs go: PodConfig's "api" channel. */
  update: (update: PodUpdate) => void;
  logger: Logger;
  now?: () => Date;
}

/** The result of an apply: the stored pod, and whether it is new. */
export interface Applied {
  pod: Pod;
  created: boolean;
}

export class ApiSource {
  /** By UID. */
  private readonly pods = new Map<string, Pod>();
  private resourceVersion = 0;
  /** Changes one at a time, each written before the next starts. */
  private work: Promise<unknown> = Promise.resolve();
  private readonly dir: string;

  private constructor(private readonly opts: ApiSourceOptions) {
    this.dir = join(opts.rootDir, ApiPodsDir);
  }

  /** Loads the stored pods and sends them (an empty SET too: the source is then known to be ready). */
  static async open(opts: ApiSourceOptions): Promise<ApiSource> {
    const source = new ApiSource(opts);
    await source.load();
    source.send();
    return source;
  }

  private async load(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    for (const name of await readdir(this.dir)) {
      const path = join(this.dir, name);
      // A write that a crash cut short left only its temporary file: the pod file before it still stands.
      if (name.startsWith(".")) {
        await rm(path, { force: true });
        continue;
      }
      if (!name.endsWith(".json")) continue;
      try {
        const pod = JSON.parse(await readFile(path, "utf8")) as Pod;
        const uid = pod.metadata?.uid;
        if (!uid || `${uid}.json` !== name) throw new Error("the file name is not the pod's UID");
        this.pods.set(uid, pod);
        this.resourceVersion = Math.max(this.resourceVersion, Number(pod.metadata?.resourceVersion) || 0);
      } catch (err) {
        this.opts.logger.error(
          { path, err: messageOf(err) },
          "stored API pod unreadable; left in place and ignored",
        );
      }
    }
  }

  /**
   * The pods, in one namespace or all, oldest first: the stored objects themselves, to be read (the
   * local API serializes them on every GET), never changed. A change stores a new object.
   */
  list(namespace?: string): readonly Pod[] {
    const key = (p: Pod) => `${p.metadata?.creationTimestamp}/${p.metadata?.namespace}/${p.metadata?.name}`;
    return [...this.pods.values()]
      .filter((p) => namespace === undefined || p.metadata?.namespace === namespace)
      .sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  }

  /** ResourceVersion of the collection: the latest change's. */
  listResourceVersion(): string {
    return String(this.resourceVersion);
  }

  /** The stored pod, to be read only, as list's. */
  get(namespace: string, name: string): Pod {
    const pod = this.find(namespace, name);
    if (!pod) throw notFound(`pods ${JSON.stringify(name)} not found`);
    return pod;
  }

  /** POST: a new pod; its name must be free. */
  create(namespace: string, body: unknown): Promise<Pod> {
    return this.serialize(async () => {
      const pod = this.decode(namespace, body);
      const name = pod.metadata?.name ?? "";
      if (this.find(namespace, name)) throw alreadyExists(`pods ${JSON.stringify(name)} already exists`);
      return this.insert(pod);
    });
  }

  /** PUT: creates the pod or replaces the one of that name, keeping its UID. */
  apply(namespace: string, body: unknown, urlName?: string): Promise<Applied> {
    return this.serialize(async () => {
      const pod = this.decode(namespace, body);
      const name = pod.metadata?.name ?? "";
      if (urlName !== undefined && name !== urlName) {
        throw invalidArgument(
          `the name of the object (${name}) does not match the name on the URL (${urlName})`,
        );
      }
      const existing = this.find(namespace, name);
      if (!existing) return { pod: await this.insert(pod), created: true };
      return { pod: await this.replace(existing, pod), created: false };
    });
  }

  /**
   * DELETE: marks the pod for deletion now + the grace period (the request's, else the pod's), the way
   * the API server does. The kubelet stops it; podTerminated then drops it.
   */
  delete(namespace: string, name: string, gracePeriodSeconds?: number): Promise<Pod> {
    return this.serialize(async () => {
      const existing = this.find(namespace, name);
      if (!existing) throw notFound(`pods ${JSON.stringify(name)} not found`);
      const grace = Math.max(0, gracePeriodSeconds ?? existing.spec?.terminationGracePeriodSeconds ?? 30);
      const meta = existing.metadata ?? {};
      // A second delete may shorten the grace period, never lengthen it.
      if (meta.deletionGracePeriodSeconds !== undefined && meta.deletionGracePeriodSeconds <= grace) {
        return structuredClone(existing);
      }
      const pod: MutablePod = structuredClone(existing);
      pod.metadata = {
        ...pod.metadata,
        deletionTimestamp: formatTime(new Date(this.now().getTime() + grace * 1000)),
        deletionGracePeriodSeconds: grace,
        resourceVersion: this.nextResourceVersion(),
      };
      await this.store(pod);
      return structuredClone(pod);
    });
  }

  /** The kubelet's report that a pod's containers are gone: a pod being deleted is dropped now. */
  podTerminated(uid: string): Promise<void> {
    return this.serialize(async () => {
      const pod = this.pods.get(uid);
      if (!pod?.metadata?.deletionTimestamp) return;
      await rm(this.file(uid), { force: true });
      await syncDir(this.dir);
      this.pods.delete(uid);
      this.send();
    });
  }

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.work.then(fn);
    this.work = run.catch(() => undefined);
    return run;
  }

  private find(namespace: string, name: string): Pod | undefined {
    for (const pod of this.pods.values()) {
      if (pod.metadata?.namespace === namespace && pod.metadata?.name === name) return pod;
    }
    return undefined;
  }

  /** The body as a pod of this namespace: kind and namespace checked (400), types and values (422). */
  private decode(namespace: string, body: unknown): MutablePod {
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      throw invalidArgument("the body must be a Pod object");
    }
    const raw = body as { kind?: unknown; apiVersion?: unknown; metadata?: Record<string, unknown> };
    if ((raw.kind ?? "Pod") !== "Pod" || (raw.apiVersion ?? "v1") !== "v1") {
      throw invalidArgument(
        `the body must be a v1 Pod, got apiVersion ${JSON.stringify(raw.apiVersion)} and kind ${JSON.stringify(raw.kind)}`,
      );
    }
    const bodyNamespace = raw.metadata?.namespace;
    if (bodyNamespace !== undefined && bodyNamespace !== "" && bodyNamespace !== namespace) {
      throw invalidArgument(
        "the namespace of the provided object does not match the namespace sent on the request",
      );
    }
    const { pod, errors } = preparePod(body, (p) => {
      p.metadata ??= {};
      p.metadata.namespace = namespace;
      if (!p.metadata.name && p.metadata.generateName)
        p.metadata.name = generateName(p.metadata.generateName);
      if (p.spec) p.spec.nodeName ||= this.opts.nodeName;
    });
    const name = String(raw.metadata?.name ?? raw.metadata?.generateName ?? "");
    if (!pod) throw new InvalidPodError(name, errors);
    if (pod.spec?.nodeName !== this.opts.nodeName) {
      const detail = `must be empty or this node's name ${JSON.stringify(this.opts.nodeName)}`;
      throw new InvalidPodError(name, [
        new FieldError("Invalid value", "spec.nodeName", pod.spec?.nodeName, detail),
      ]);
    }
    return pod;
  }

  /** The API server's system fields of a new pod (FillObjectMetaSystemFields, PrepareForCreate). */
  private async insert(pod: MutablePod): Promise<Pod> {
    pod.metadata ??= {};
    const meta = pod.metadata;
    meta.uid = randomUUID();
    meta.creationTimestamp = formatTime(this.now());
    meta.resourceVersion = this.nextResourceVersion();
    meta.generation = 1;
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    pod.status = { phase: "Pending", qosClass: computePodQOS(pod) };
    await this.store(pod);
    return structuredClone(pod);
  }

  private async replace(existing: Pod, incoming: MutablePod): Promise<Pod> {
    const old = existing.metadata ?? {};
    const name = JSON.stringify(old.name);
    if (old.deletionTimestamp) {
      throw failedPrecondition(`Operation cannot be fulfilled on pods ${name}: the pod is being deleted`);
    }
    const { deletionTimestamp: _t, deletionGracePeriodSeconds: _g, ...meta } = incoming.metadata ?? {};
    if (meta.uid && meta.uid !== old.uid) {
      throw failedPrecondition(
        `Operation cannot be fulfilled on pods ${name}: the UID in the object is not the stored pod's`,
      );
    }
    if (meta.resourceVersion && meta.resourceVersion !== old.resourceVersion) {
      throw failedPrecondition(
        `Operation cannot be fulfilled on pods ${name}: the object has been modified; please apply your changes to the latest version and try again`,
      );
    }
    const pod: MutablePod = {
      ...incoming,
      metadata: {
        ...meta,
        uid: old.uid,
        creationTimestamp: old.creationTimestamp,
        resourceVersion: this.nextResourceVersion(),
        generation: (old.generation ?? 1) + (isDeepStrictEqual(existing.spec, incoming.spec) ? 0 : 1),
      },
      status: existing.status,
    };
    await this.store(pod);
    return structuredClone(pod);
  }

  private async store(pod: Pod): Promise<void> {
    const uid = pod.metadata?.uid as string;
    await writeFileDurably(this.file(uid), `${JSON.stringify(pod, null, 2)}\n`);
    this.pods.set(uid, pod);
    this.send();
  }

  private send(): void {
    // PodConfig keeps and updates what it is sent: copies.
    this.opts.update({ op: "SET", pods: this.list().map((p) => structuredClone(p)), source: ApiSourceName });
  }

  private file(uid: string): string {
    return join(this.dir, `${uid}.json`);
  }

  private nextResourceVersion(): string {
    this.resourceVersion += 1;
    return String(this.resourceVersion);
  }

  private now(): Date {
    return this.opts.now?.() ?? new Date();
  }
}

/** metav1.Time: RFC 3339 in seconds. */
function formatTime(d: Date): string {
  return `${d.toISOString().slice(0, 19)}Z`;
}

// The API server's generated-name alphabet: no vowels (no words), no look-alike characters.
const nameAlphabet = "bcdfghjklmnpqrstvwxz2456789";

function generateName(prefix: string): string {
  const bytes = randomBytes(5);
  return prefix + Array.from(bytes, (b) => nameAlphabet[b % nameAlphabet.length]).join("");
}

/** Writes a file so that after a crash it holds either the old content or the new, never a part. */
async function writeFileDurably(path: string, data: string): Promise<void> {
  const dir = join(path, "..");
  const tmp = join(dir, `.${randomUUID()}.tmp`);
  try {
    const fh = await open(tmp, "wx", 0o600);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await syncDir(dir);
}

/** Makes a rename or unlink in `dir` durable. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
