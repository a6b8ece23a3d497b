// The CRI container log format the kubelet reads and runtimes write:
//   2016-10-06T00:17:09.669794202Z stdout F a whole line
//   2016-10-06T00:17:09.669794202Z stdout P part of a long line...
// One record per line; P marks a partial line continued by the next record of the stream.

export type LogStream = "stdout" | "stderr";

export interface LogRecord {
  timestamp: string;
  stream: LogStream;
  partial: boolean;
  message: string;
}

const pattern = /^(\S+) (stdout|stderr) ([PF])(?: (.*))?$/s;

/** One record, or undefined for a line that is not in CRI format. */
export function parseCriLogLine(line: string): LogRecord | undefined {
  const m = pattern.exec(line);
  if (!m) return undefined;
  return { timestamp: m[1] as string, stream: m[2] as LogStream, partial: m[3] === "P", message: m[4] ?? "" };
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
