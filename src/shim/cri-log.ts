// After CRI-O's parseLog (internal/oci/runtime_oci.go): turns the CRI log conmon wrote for
// an exec back into the command's stdout and stderr. Each record is
// "<timestamp> <stream> <P|F> <bytes>\n"; an F record's newline belongs to the output,
// a P record's newline was added by conmon after a partial read and does not.
// Works on bytes, since a command's output need not be UTF-8.

export interface SplitOutput {
  stdout: Buffer;
  stderr: Buffer;
}

export function splitCriLog(log: Buffer): SplitOutput {
  const out: Record<"stdout" | "stderr", Buffer[]> = { stdout: [], stderr: [] };
  let start = 0;
  while (start < log.length) {
    const nl = log.indexOf(0x0a, start);
    const end = nl === -1 ? log.length : nl + 1;
    const record = log.subarray(start, end);
    start = end;
    // The first three fields hold no space: timestamp, stream, tag.
    const s1 = record.indexOf(0x20);
    const s2 = s1 === -1 ? -1 : record.indexOf(0x20, s1 + 1);
    const s3 = s2 === -1 ? -1 : record.indexOf(0x20, s2 + 1);
    if (s3 === -1) continue; // not a record: conmon writes none such, so skip rather than guess
    const stream = record.subarray(s1 + 1, s2).toString();
    if (stream !== "stdout" && stream !== "stderr") continue;
    const partial = record.subarray(s2 + 1, s3).toString() === "P";
    let content = record.subarray(s3 + 1);
    if (partial && content.at(-1) === 0x0a) content = content.subarray(0, -1);
    out[stream].push(content);
  }
  return { stdout: Buffer.concat(out.stdout), stderr: Buffer.concat(out.stderr) };
}
