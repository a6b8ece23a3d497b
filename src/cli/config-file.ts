// Reads the JSON/YAML config files crictl's runp and create take, as proto3 JSON
// (camelCase or original field names) into CRI messages.
import { readFile } from "node:fs/promises";
import { type DescMessage, fromJson, type JsonValue, type MessageShape } from "@bufbuild/protobuf";
import { parse } from "yaml";
import { invalidArgument, messageOf } from "../lib/errdefs.js";

export async function loadConfigFile<D extends DescMessage>(
  schema: D,
  path: string,
): Promise<MessageShape<D>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : messageOf(err);
    throw invalidArgument(`config file ${path}: ${why}`, err);
  }
  const isJson = /\.json$/i.test(path);
  let doc: unknown;
  try {
    doc = isJson ? JSON.parse(text) : parse(text);
  } catch (err) {
    // The yaml parser appends a source excerpt; its first line already says where.
    const why = messageOf(err).split("\n")[0];
    throw invalidArgument(`config file ${path}: not valid ${isJson ? "JSON" : "YAML"}: ${why}`, err);
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
    throw invalidArgument(`config file ${path}: want an object (a ${schema.name})`);
  }
  try {
    return fromJson(schema, doc as JsonValue);
  } catch (err) {
    // protobuf-es names the field: "cannot decode field runtime.v1.PodSandboxMetadata.attempt from JSON: ..."
    throw invalidArgument(`config file ${path}: ${messageOf(err)}`, err);
  }
}
