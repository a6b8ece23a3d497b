// The document crictl's inspect commands print: the status message plus the
// runtime's verbose info map, whose values are JSON when the runtime says so.
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { messageToJson } from "./output.js";

export function inspectDocument<D extends DescMessage>(
  schema: D,
  status: MessageShape<D> | undefined,
  info: Record<string, string> = {},
): Record<string, unknown> {
  const doc: Record<string, unknown> = { status: status ? messageToJson(schema, status) : null };
  for (const [key, value] of Object.entries(info)) {
    try {
      doc[key] = JSON.parse(value);
    } catch {
      doc[key] = value;
    }
  }
  return doc;
}
