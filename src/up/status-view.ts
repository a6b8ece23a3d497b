// How `berth up` shows its pods, with `berth get pods -o wide`'s rows (kubectl's printPod and
// tabwriter) and a QOS column. On a terminal: one frame redrawn in place every second, the
// table and under it the last line each container printed. Elsewhere (a pipe, a CI log): as
// `kubectl get pods --watch` prints, the header once and a row whenever a pod's row changes,
// and each line the containers print as it comes, after its "pod/container |".
import type { Pod } from "kubernetes-types/core/v1.js";
import { printPod } from "../cli/get.js";
import { tableTabs, tabwrite } from "../cli/tabwriter.js";
import type { LogLine } from "./container-logs.js";

export interface Output {
  write(text: string): unknown;
  /** The terminal's width, on a terminal. */
  columns?: number;
}

export interface StatusView {
  /** Shows the pods as they are now and what their containers printed since the last update. */
  update(pods: readonly Pod[], logs: readonly LogLine[], now: Date): void;
  /** Ends the live frame: what it showed stays, and the next update starts below it. */
  close(): void;
}

export function newStatusView(out: Output, tty: boolean, footer: () => string): StatusView {
  return tty ? new LiveTable(out, footer) : new ChangeLines(out);
}

const header = ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "QOS"];

/** NAME READY STATUS RESTARTS AGE IP of the wide row, then the pod's QoS class. */
function podCells(pod: Pod, now: Date): string[] {
  return [...printPod(pod, { wide: true, now: now.getTime() }).slice(0, 6), pod.status?.qosClass ?? ""];
}

/** The table's lines, header first. */
function tableLines(rows: string[][]): string[] {
  return tabwrite([header, ...rows].map((cells) => cells.join("\t")).join("\n"), tableTabs).split("\n");
}

class LiveTable implements StatusView {
  private drawn = 0;
  private readonly lastLines = new Map<string, string>();

  constructor(
    private readonly out: Output,
    private readonly footer: () => string,
  ) {}

  update(pods: readonly Pod[], logs: readonly LogLine[], now: Date): void {
    for (const l of logs) this.lastLines.set(l.source, l.text);
    const lines = tableLines(pods.map((p) => podCells(p, now)));
    if (this.lastLines.size > 0) {
      const width = Math.max(...[...this.lastLines.keys()].map((s) => s.length)) + 3;
      const sorted = [...this.lastLines].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      lines.push("", ...sorted.map(([source, text]) => `${source.padEnd(width)}${text}`));
    }
    lines.push("", this.footer());
    // A line wider than the terminal would wrap and throw the redraw's line count off.
    const columns = Math.max(20, (this.out.columns ?? 80) - 1);
    const frame = lines.map((l) => (l.length > columns ? `${l.slice(0, columns - 1)}…` : l));
    // Back to the frame's first line and clear below it, then draw the new frame.
    const back = this.drawn > 0 ? `\x1b[${this.drawn}F\x1b[J` : "";
    this.out.write(`${back}${frame.join("\n")}\n`);
    this.drawn = frame.length;
  }

  close(): void {
    this.drawn = 0;
  }
}

class ChangeLines implements StatusView {
  /** Each pod's row as last printed, without what changes with time alone. */
  private readonly printed = new Map<string, string>();
  private headerPrinted = false;

  constructor(private readonly out: Output) {}

  update(pods: readonly Pod[], logs: readonly LogLine[], now: Date): void {
    const rows = pods.map((p) => podCells(p, now));
    const lines = tableLines(rows);
    const changed: string[] = [];
    for (const [i, cells] of rows.entries()) {
      const key = changeKey(cells);
      if (this.printed.get(cells[0] as string) === key) continue;
      this.printed.set(cells[0] as string, key);
      changed.push(lines[i + 1] as string);
    }
    if (changed.length > 0 && !this.headerPrinted) {
      changed.unshift(lines[0] as string);
      this.headerPrinted = true;
    }
    for (const line of changed) this.out.write(`${line}\n`);
    for (const l of logs) this.out.write(`${l.source} | ${l.text}\n`);
  }

  close(): void {}
}

/** A row without its AGE and the "(5s ago)" of RESTARTS, which change with time alone. */
function changeKey([, ready, status, restarts = "", , ip, qos]: string[]): string {
  return [ready, status, restarts.replace(/ \(.*\)$/, ""), ip, qos].join(" ");
}
