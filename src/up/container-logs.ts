// What the pods' containers print, read where the kubelet has the runtime write it: one CRI
// log file per container instance, <podLogsDir>/<ns>_<name>_<uid>/<container>/<restart>.log.
// Each poll returns the lines written since the last one, partial records joined.
import { open } from "node:fs/promises";
import { join } from "node:path";
import type { ContainerStatus, Pod } from "kubernetes-types/core/v1.js";
import { buildContainerLogsPath } from "../kubelet/kuberuntime/container.js";
import { parseCRILog } from "../kubelet/kuberuntime/logs.js";
import { buildPodLogsDirectory } from "../kubelet/kuberuntime/sandbox.js";

export interface LogLine {
  /** "pod/container". */
  source: string;
  text: string;
}

interface FileState {
  offset: number;
  /** A partial record's text, waiting for the rest of its line. */
  pending: string;
}

/** More than this in one poll is skipped to its last part: the view shows lines, not bulk output. */
const maxReadBytes = 64 * 1024;

export class ContainerLogs {
  private readonly files = new Map<string, FileState>();

  constructor(private readonly podLogsDir: string) {}

  /** New lines of every container instance the pods' statuses name, in pod and container order. */
  async poll(pods: readonly Pod[]): Promise<LogLine[]> {
    const lines: LogLine[] = [];
    for (const pod of pods) {
      const { namespace = "default", name = "", uid = "" } = pod.metadata ?? {};
      const podDir = buildPodLogsDirectory(this.podLogsDir, namespace, name, uid);
      const statuses: ContainerStatus[] = [
        ...(pod.status?.initContainerStatuses ?? []),
        ...(pod.status?.containerStatuses ?? []),
      ];
      for (const c of statuses) {
        // Earlier instances too: one that lived less than a poll still has its say.
        for (let restart = 0; restart <= c.restartCount; restart++) {
          const path = join(podDir, buildContainerLogsPath(c.name, restart));
          for (const text of await this.read(path)) lines.push({ source: `${name}/${c.name}`, text });
        }
      }
    }
    return lines;
  }

  private async read(path: string): Promise<string[]> {
    const state = this.files.get(path) ?? { offset: 0, pending: "" };
    const file = await open(path, "r").catch(() => undefined);
    if (!file) return [];
    let chunk: Buffer;
    try {
      const size = (await file.stat()).size;
      if (size < state.offset) state.offset = 0; // rotated or truncated: start over
      if (size - state.offset > maxReadBytes) state.offset = size - maxReadBytes;
      chunk = Buffer.alloc(size - state.offset);
      await file.read(chunk, 0, chunk.length, state.offset);
    } finally {
      await file.close();
    }
    const end = chunk.lastIndexOf(0x0a) + 1;
    state.offset += end;
    this.files.set(path, state);
    const lines: string[] = [];
    let start = 0;
    while (start < end) {
      const next = chunk.indexOf(0x0a, start) + 1;
      try {
        const record = parseCRILog(chunk.subarray(start, next));
        const text = record.log.toString("utf8");
        if (text.endsWith("\n")) {
          lines.push(state.pending + text.slice(0, -1));
          state.pending = "";
        } else {
          state.pending += text;
        }
      } catch {
        // Not a CRI record (a line cut by the skip above): the kubelet skips those too.
      }
      start = next;
    }
    return lines;
  }
}
