// pkg/kubelet/kuberuntime/logs/logs.go ReadLogs and parseCRILog, with pkg/util/tail (ReadAtMost,
// FindTailLineStartIndex) and kuberuntime_container.go readLastStringFromContainerLogs (kubelet 1.28):
// reading back what the runtime wrote to a container's CRI log file, and the tail of a file the
// kubelet owns, for a container's termination message.
//
// Only what the kubelet reads without following: no --follow, --since, --timestamps or byte limit.
// Both runtimes berth talks to write the CRI format; the Docker JSON format of dockershim is not read.
import { type FileHandle, open } from "node:fs/promises";
import { invalidArgument, wrap } from "../../lib/errdefs.js";
import type { Logger } from "../../lib/log.js";

/** How much of a termination message file the kubelet reads (kubecontainer.MaxContainerTerminationMessageLength). */
export const MaxContainerTerminationMessageLength = 1024 * 4;
/** How much of the log a FallbackToLogsOnError message keeps, from its end. */
export const MaxContainerTerminationMessageLogLength = 1024 * 2;
/** How many log lines a FallbackToLogsOnError message is taken from. */
export const MaxContainerTerminationMessageLogLines = 80;

export type LogStream = "stdout" | "stderr";

/** One line of a CRI log: `<RFC3339Nano time> <stream> <tag>[:<tag>...] <content>`. */
export interface LogMessage {
  timestamp: Date;
  stream: LogStream;
  /** The content; a full ("F") line keeps its newline, a partial ("P") one has none, so writing the pieces in order joins them. */
  log: Buffer;
}

// RFC3339 with optional fractional seconds, as Go's time.RFC3339Nano parses it.
const rfc3339Nano = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const space = 0x20;
const newline = 0x0a;

/** parseCRILog: one line of the file, with its newline if it had one. */
export function parseCRILog(line: Buffer): LogMessage {
  let idx = line.indexOf(space);
  if (idx < 0) throw invalidArgument("timestamp is not found");
  const time = line.subarray(0, idx).toString();
  const timestamp = new Date(time);
  if (!rfc3339Nano.test(time) || Number.isNaN(timestamp.getTime())) {
    throw invalidArgument(
      `unexpected timestamp format "2006-01-02T15:04:05.999999999Z07:00": parsing time ${JSON.stringify(time)}`,
    );
  }
  let rest = line.subarray(idx + 1);
  idx = rest.indexOf(space);
  if (idx < 0) throw invalidArgument("stream type is not found");
  const stream = rest.subarray(0, idx).toString();
  if (stream !== "stdout" && stream !== "stderr")
    throw invalidArgument(`unexpected stream type ${JSON.stringify(stream)}`);
  rest = rest.subarray(idx + 1);
  idx = rest.indexOf(space);
  if (idx < 0) throw invalidArgument("log tag is not found");
  // Tags after the first are for later use; only "P" (partial) matters today.
  const partial = rest.subarray(0, idx).toString().split(":")[0] === "P";
  if (partial && rest.at(-1) === newline) rest = rest.subarray(0, -1);
  return { timestamp, stream, log: rest.subarray(idx + 1) };
}

/**
 * FindTailLineStartIndex: the offset where the last `n` lines of the file start (0 for all when
 * n < 0). A last line without its newline does not count as one.
 */
export async function findTailLineStartIndex(file: FileHandle, n: number): Promise<number> {
  if (n < 0) return 0;
  const blockSize = 1024;
  const size = (await file.stat()).size;
  let left = 0;
  let count = 0;
  let block = Buffer.alloc(0);
  for (let right = size; right > 0 && count <= n; right -= blockSize) {
    left = Math.max(right - blockSize, 0);
    block = Buffer.alloc(right - left);
    await file.read(block, 0, block.length, left);
    count += countNewlines(block);
  }
  // The block read last starts before the wanted line: skip the extra lines in it.
  for (; count > n; count--) {
    const next = block.indexOf(newline) + 1;
    block = block.subarray(next);
    left += next;
  }
  return left;
}

function countNewlines(b: Buffer): number {
  let count = 0;
  for (let i = b.indexOf(newline); i >= 0; i = b.indexOf(newline, i + 1)) count++;
  return count;
}

/** ReadAtMost: the last `max` bytes of a file, and whether it holds more than that. */
export async function readAtMost(path: string, max: number): Promise<{ data: Buffer; truncated: boolean }> {
  const file = await open(path, "r");
  try {
    const size = (await file.stat()).size;
    const length = Math.min(size, max);
    const data = Buffer.alloc(length);
    await file.read(data, 0, length, size - length);
    return { data, truncated: size > length };
  } finally {
    await file.close();
  }
}

export interface ReadLogsOptions {
  /** The last this many lines of the file; -1 for all. */
  tail: number;
  log?: Logger;
}

/**
 * ReadLogs without following: hands each line's content to `write`, in file order, from the start
 * of the last `tail` lines to the end. A line that does not parse is logged and skipped; a first
 * line that does not parse means the file is in no format the kubelet reads.
 */
export async function readLogs(
  path: string,
  opts: ReadLogsOptions,
  write: (stream: LogStream, content: Buffer) => void,
): Promise<void> {
  let file: FileHandle;
  try {
    file = await open(path, "r");
  } catch (err) {
    throw wrap(err, `failed to open log file "${path}"`);
  }
  let data: Buffer;
  try {
    let start: number;
    try {
      start = await findTailLineStartIndex(file, opts.tail);
    } catch (err) {
      throw wrap(err, `failed to tail ${opts.tail} lines of log file "${path}"`);
    }
    data = Buffer.alloc(Math.max((await file.stat()).size - start, 0));
    await file.read(data, 0, data.length, start);
  } finally {
    await file.close();
  }
  let remaining = opts.tail;
  let first = true;
  for (let pos = 0; pos < data.length && remaining !== 0; ) {
    const end = data.indexOf(newline, pos);
    // The last line may be still being written: it is taken as it is.
    const line = data.subarray(pos, end < 0 ? data.length : end + 1);
    pos += line.length;
    let msg: LogMessage;
    try {
      msg = parseCRILog(line);
    } catch (err) {
      if (first) {
        throw invalidArgument(
          `failed to get parse function: unsupported log format: ${JSON.stringify(line.toString())}`,
          err,
        );
      }
      opts.log?.error({ err, path, line: line.toString() }, "Failed when parsing line in log file");
      continue;
    }
    first = false;
    write(msg.stream, msg.log);
    if (remaining > 0) remaining--;
  }
}

/**
 * readLastStringFromContainerLogs: the end of a container's log for its termination message, at most
 * the last 80 lines and of them the last 2048 bytes, stdout and stderr as they came.
 */
export async function readLastStringFromContainerLogs(path: string, log?: Logger): Promise<string> {
  const chunks: Buffer[] = [];
  try {
    await readLogs(path, { tail: MaxContainerTerminationMessageLogLines, log }, (_stream, content) =>
      chunks.push(content),
    );
  } catch (err) {
    return `Error on reading termination message from logs: ${(err as Error).message}`;
  }
  return Buffer.concat(chunks).subarray(-MaxContainerTerminationMessageLogLength).toString("utf8");
}
