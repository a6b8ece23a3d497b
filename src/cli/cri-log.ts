// The CRI container log format the kubelet reads and runtimes write:
//   2016-10-06T00:17:09.669794202Z stdout F a whole line
//   2016-10-06T00:17:09.669794202Z stdout P part of a long line...
// One record per line; P marks a partial line continued by the next record of the stream.
// containerd writes the time as Go's RFC3339Nano ("…09.6697942Z"), conmon with a numeric
// offset and all nine digits ("…09.669794200+00:00"); either is printed as the kubelet and
// crictl print it, reformatted as RFC3339Nano.

export type LogStream = "stdout" | "stderr";

export interface LogRecord {
  timestamp: string;
  stream: LogStream;
  partial: boolean;
  message: string;
}

const pattern = /^(\S+) (stdout|stderr) ([PF])(?: (.*))?$/s;
const rfc3339 = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/;

/** One record, or undefined for a line that is not in CRI format (the kubelet skips those too). */
export function parseCriLogLine(line: string): LogRecord | undefined {
  const m = pattern.exec(line);
  const timestamp = m ? rfc3339Nano(m[1] as string) : undefined;
  if (!m || timestamp === undefined) return undefined;
  return { timestamp, stream: m[2] as LogStream, partial: m[3] === "P", message: m[4] ?? "" };
}

/**
 * An RFC 3339 time as Go's time.Format(RFC3339Nano) prints it once parsed: trailing zeros of
 * the fraction dropped, a zero offset as "Z". Done on the text, which keeps the nanoseconds
 * a Date would lose. Undefined if it is not RFC 3339.
 */
export function rfc3339Nano(ts: string): string | undefined {
  const m = rfc3339.exec(ts);
  if (!m) return undefined;
  const fraction = (m[2] ?? "").replace(/0+$/, "");
  const zone = m[3] === "+00:00" || m[3] === "-00:00" ? "Z" : m[3];
  return `${m[1]}${fraction ? `.${fraction}` : ""}${zone}`;
}

/**
 * Joins partial records into whole log lines, per stream: a P record's text waits for
 * the rest of its line. Yields each whole line with the timestamp of its first part.
 */
export class LogLineJoiner {
  private pending = new Map<LogStream, LogRecord>();

  push(rec: LogRecord): LogRecord | undefined {
    const before = this.pending.get(rec.stream);
    const joined = before ? { ...before, message: before.message + rec.message, partial: rec.partial } : rec;
    if (joined.partial) {
      this.pending.set(rec.stream, joined);
      return undefined;
    }
    this.pending.delete(rec.stream);
    return joined;
  }
}
