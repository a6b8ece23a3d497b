// berth apply -f: creates or updates pods through berth's local API as kubectl apply does. Each file
// (a directory's .json/.yaml/.yml files, or - for stdin) may hold several YAML or JSON documents, each
// a v1 Pod or a v1 List of them. Like kubectl, the applied configuration is kept in the pod's
// kubectl.kubernetes.io/last-applied-configuration annotation: a pod whose annotation already holds
// what the file says is "unchanged", otherwise it is created or replaced ("configured"). An error on
// one object does not stop the others; all are reported at the end.
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { text } from "node:stream/consumers";
import type { Command } from "commander";
import type { Pod } from "kubernetes-types/core/v1.js";
import { parseAllDocuments } from "yaml";
import { BerthError, invalidArgument, isNotFound, kindOf, messageOf } from "../lib/errdefs.js";
import { run } from "./context.js";
import { sortKeys } from "./get.js";
import {
  ApiError,
  KubeletClient,
  type KubeletSocketOptions,
  podsPath,
  withKubeletSocket,
} from "./kubelet-client.js";

interface ApplyOptions extends KubeletSocketOptions {
  filename: string[];
  recursive?: boolean;
  namespace?: string;
}

export const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration";
const manifestExtensions = [".json", ".yaml", ".yml"];

/** An object read from a file, with where it came from for messages. */
export interface SourcedObject {
  object: Record<string, unknown>;
  source: string;
}

export function register(program: Command): void {
  withKubeletSocket(
    program
      .command("apply")
      .description("Create or update pods from manifests through the kubelet's local API (kubectl apply)")
      .requiredOption(
        "-f, --filename <path>",
        "a manifest file, a directory of them, or - for stdin (repeatable)",
        (value: string, previous: string[] = []) => [...previous, value],
      )
      .option("-R, --recursive", "also read the directories inside a directory")
      .option("-n, --namespace <namespace>", "namespace of pods that name none (default: default)"),
  ).action(
    run<ApplyOptions>(async (cli, opts) => {
      const client = new KubeletClient(opts.kubeletSocket, cli.timeoutMs);
      const errors: BerthError[] = [];
      const fail = (err: unknown) =>
        errors.push(err instanceof BerthError ? err : new BerthError("Unknown", messageOf(err)));
      for (const path of opts.filename) {
        let files: string[];
        try {
          files = await manifestFiles(path, opts.recursive === true);
        } catch (err) {
          fail(err);
          continue;
        }
        // Like kubectl, a file that cannot be read or parsed does not stop the others.
        for (const file of files) {
          let objects: SourcedObject[];
          try {
            const source = file === "-" ? "STDIN" : file;
            objects = parseManifests(
              await (file === "-" ? text(process.stdin) : readFile(file, "utf8")),
              source,
            );
          } catch (err) {
            fail(err);
            continue;
          }
          for (const item of objects) {
            try {
              cli.print(await applyPod(client, toPod(item), item.source, opts.namespace));
            } catch (err) {
              // What the API or the checks refused is reported with the rest; a kubelet that
              // cannot be reached ends the command.
              if (!(err instanceof ApiError) && kindOf(err) !== "InvalidArgument") throw err;
              fail(err);
            }
          }
        }
      }
      if (errors.length > 0) throw new BerthError(kindOf(errors[0]), errors.map((e) => e.message).join("\n"));
    }),
  );
}

/** The files a path names: itself, or a directory's manifest files (sorted; -R: also in its subdirectories); "-" is stdin. */
export async function manifestFiles(path: string, recursive: boolean): Promise<string[]> {
  if (path === "-") return [path];
  const st = await stat(path).catch(() => undefined);
  if (!st) throw invalidArgument(`the path "${path}" does not exist`);
  if (!st.isDirectory()) return [path];
  const out: string[] = [];
  const entries = await readdir(path, { withFileTypes: true });
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) {
      if (recursive) out.push(...(await manifestFiles(child, true)));
    } else if (manifestExtensions.some((ext) => entry.name.endsWith(ext))) {
      out.push(child);
    }
  }
  return out;
}

/** The documents of one file, a v1 List unrolled; a syntax error names the file, line and column. */
export function parseManifests(content: string, source: string): SourcedObject[] {
  const out: SourcedObject[] = [];
  // YAML 1.1, as kubectl's YAML reader; JSON is YAML, so one parser takes both.
  for (const doc of parseAllDocuments(content, { version: "1.1" })) {
    const e = doc.errors[0];
    if (e) {
      const pos = e.linePos?.[0];
      const reason = e.message.split(" at line")[0];
      throw invalidArgument(
        `error parsing ${source}: ${pos ? `line ${pos.line}, column ${pos.col}: ` : ""}${reason}`,
      );
    }
    const value: unknown = doc.toJS({ mapAsMap: false });
    if (value === null || value === undefined) continue;
    if (typeof value !== "object" || Array.isArray(value))
      throw invalidArgument(
        `error validating "${source}": error validating data: invalid object to validate`,
      );
    const object = value as Record<string, unknown>;
    if (object.kind === "List" && object.apiVersion === "v1") {
      for (const item of (object.items as unknown[] | undefined) ?? []) {
        out.push({ object: item as Record<string, unknown>, source });
      }
    } else {
      out.push({ object, source });
    }
  }
  return out;
}

/** The object as a pod, refused as kubectl refuses what it cannot map to a resource it knows. */
export function toPod({ object, source }: SourcedObject): Pod {
  if (typeof object !== "object" || object === null || Array.isArray(object))
    throw invalidArgument(`error validating "${source}": error validating data: invalid object to validate`);
  for (const field of ["apiVersion", "kind"]) {
    if (!object[field])
      throw invalidArgument(`error validating "${source}": error validating data: ${field} not set`);
  }
  if (object.kind !== "Pod" || object.apiVersion !== "v1") {
    const name = (object.metadata as { name?: unknown } | undefined)?.name ?? "";
    throw invalidArgument(
      `resource mapping not found for name: "${name}" namespace: "" from "${source}": no matches for kind "${object.kind}" in version "${object.apiVersion}"`,
    );
  }
  return object as unknown as Pod;
}

/**
 * The pod with its namespace set and the last-applied annotation: the pod as given (that annotation
 * removed) in compact JSON with sorted keys, as kubectl writes it.
 */
export function withLastApplied(pod: Pod, namespace: string): Pod {
  const { [lastAppliedAnnotation]: _old, ...annotations } = pod.metadata?.annotations ?? {};
  const given: Pod = { ...pod, metadata: { ...pod.metadata, annotations, namespace } };
  const lastApplied = `${JSON.stringify(sortKeys(given))}\n`;
  return {
    ...given,
    metadata: { ...given.metadata, annotations: { ...annotations, [lastAppliedAnnotation]: lastApplied } },
  };
}

/** Applies one pod; answers kubectl's line for it, e.g. "pod/web created". */
async function applyPod(
  client: KubeletClient,
  pod: Pod,
  source: string,
  flagNamespace?: string,
): Promise<string> {
  const objectNamespace = pod.metadata?.namespace;
  if (objectNamespace && flagNamespace && objectNamespace !== flagNamespace) {
    throw invalidArgument(
      `the namespace from the provided object "${objectNamespace}" does not match the namespace "${flagNamespace}". You must pass '--namespace=${objectNamespace}' to perform this operation.`,
    );
  }
  const namespace = objectNamespace || flagNamespace || "default";
  const name = pod.metadata?.name;
  if (!name) {
    throw invalidArgument(
      `error when retrieving current configuration of pod in namespace "${namespace}" from server for: "${source}": resource name may not be empty`,
    );
  }
  const path = podsPath(namespace, name);
  const current = await client.get<Pod>(path).catch((err: unknown) => {
    if (isNotFound(err)) return undefined;
    throw err instanceof ApiError ? err.withSource("retrieving current configuration of", source) : err;
  });
  const desired = withLastApplied(pod, namespace);
  const annotation = desired.metadata?.annotations?.[lastAppliedAnnotation];
  if (current && current.metadata?.annotations?.[lastAppliedAnnotation] === annotation)
    return `pod/${name} unchanged`;
  try {
    const reply = await client.request("PUT", path, desired);
    return `pod/${name} ${reply.code === 201 ? "created" : "configured"}`;
  } catch (err) {
    throw err instanceof ApiError ? err.withSource(current ? "replacing" : "creating", source) : err;
  }
}
