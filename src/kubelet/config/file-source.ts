// Port of kubelet 1.28 pkg/kubelet/config/file.go and file_linux.go: static pods from staticPodPath, a
// directory (not recursed, dotfiles skipped) or a single file. Each file holds one or more YAML or JSON
// documents (berth reads several per file; upstream one), each a Pod or a PodList. The source sends SET
// with every pod it holds: at start, on a change that fs.watch reports, and every fileCheckFrequency. A bad
// file or document is logged and left out; the others are still sent.
import { type FSWatcher, watch } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Pod } from "kubernetes-types/core/v1.js";
import { messageOf } from "../../lib/errdefs.js";
import type { Logger } from "../../lib/log.js";
import { applyStaticPodDefaults, MaxConfigLength, parseManifestDocuments, preparePod } from "./common.js";
import { FileSource, type PodUpdate } from "./pod-config.js";

/** What reading a file or directory gave: the good pods, and one message per problem. */
export interface ExtractResult {
  pods: Pod[];
  errors: string[];
}

/**
 * The static pods of a manifest's text. Problems are prefixed with the file, the document (when there
 * are several) and the PodList item: "web.yaml: document 2: spec.containers[0].image: Required value".
 */
export function decodeStaticPods(text: string, file: string, nodeName: string): ExtractResult {
  const result: ExtractResult = { pods: [], errors: [] };
  const docs = parseManifestDocuments(text);
  const several = docs.length > 1 || docs.some((d) => d.index > 1);
  for (const doc of docs) {
    const where = several ? `${file}: document ${doc.index}` : file;
    if (doc.error !== undefined) {
      result.errors.push(`${where}: ${doc.error}`);
      continue;
    }
    const value = doc.value as { kind?: unknown; apiVersion?: unknown; items?: unknown };
    if (typeof value !== "object" || Array.isArray(value) || value === null) {
      result.errors.push(`${where}: want a Pod or PodList object, got ${JSON.stringify(value)}`);
      continue;
    }
    if (value.apiVersion !== "v1" || (value.kind !== "Pod" && value.kind !== "PodList")) {
      result.errors.push(
        `${where}: want apiVersion v1 and kind Pod or PodList, got apiVersion ${JSON.stringify(value.apiVersion)} and kind ${JSON.stringify(value.kind)}`,
      );
      continue;
    }
    const items: [string, unknown][] = [];
    if (value.kind === "Pod") items.push([where, value]);
    else if (!Array.isArray(value.items)) result.errors.push(`${where}: items: want a list of pods`);
    else for (const [i, item] of value.items.entries()) items.push([`${where}: items[${i}]`, item]);
    for (const [at, raw] of items) {
      const { pod, errors } = preparePod(raw, (p) => applyStaticPodDefaults(p, file, nodeName));
      if (pod) result.pods.push(pod);
      for (const e of errors) result.errors.push(`${at}: ${e}`);
    }
  }
  return result;
}

/** extractFromFile: the static pods of one file. */
export async function extractFromFile(file: string, nodeName: string): Promise<ExtractResult> {
  try {
    const info = await stat(file);
    if (info.size > MaxConfigLength) {
      return { pods: [], errors: [`${file}: larger than ${MaxConfigLength} bytes, not read`] };
    }
    return decodeStaticPods(await readFile(file, "utf8"), file, nodeName);
  } catch (err) {
    return { pods: [], errors: [`${file}: ${messageOf(err)}`] };
  }
}

/**
 * extractFromDir: the static pods of every file in `dir`. Only a directory that cannot be read is an
 * error (thrown); a file that cannot be is one of the result's errors.
 */
export async function extractFromDir(dir: string, nodeName: string): Promise<ExtractResult> {
  const result: ExtractResult = { pods: [], errors: [] };
  for (const { pods, errors } of (await readManifestDir(dir, nodeName)).values()) {
    result.pods.push(...pods);
    result.errors.push(...errors);
  }
  return result;
}

/** Each file's result, by path. */
async function readManifestDir(dir: string, nodeName: string): Promise<Map<string, ExtractResult>> {
  const byFile = new Map<string, ExtractResult>();
  const names = (await readdir(dir)).filter((name) => !name.startsWith(".")).sort();
  for (const file of names.map((name) => join(dir, name))) {
    const info = await stat(file).catch((err: unknown) => err as NodeJS.ErrnoException);
    if (info instanceof Error) {
      // A file removed between the listing and now is simply gone.
      if (info.code !== "ENOENT") byFile.set(file, { pods: [], errors: [`${file}: ${info.message}`] });
    } else if (info.isDirectory()) {
      byFile.set(file, {
        pods: [],
        errors: [`${file}: is a directory; manifest directories are not recursed into`],
      });
    } else if (!info.isFile()) {
      byFile.set(file, { pods: [], errors: [`${file}: is not a regular file`] });
    } else {
      byFile.set(file, await extractFromFile(file, nodeName));
    }
  }
  return byFile;
}

/** How soon a path that cannot be watched (it does not exist yet) is tried again. */
const WatchRetryMs = 1000;

export interface SourceFileOptions {
  /** staticPodPath: a directory or one file. */
  path: string;
  nodeName: string;
  /** fileCheckFrequency: how often the whole path is read again. */
  periodMs: number;
  /** Where the SETs go: PodConfig's "file" channel. */
  update: (update: PodUpdate) => void;
  logger: Logger;
}

/**
 * sourceFile: watches staticPodPath. A change fs.watch reports is applied to the changed file alone, and
 * a file that yields no pod then (half written, or broken for a moment) keeps the pods it had until the
 * next full read, as upstream's watch keeps its cache on a bad event. The periodic full read is the truth:
 * it drops what no longer parses and catches what fs.watch cannot see (edits behind a symlink).
 */
export class SourceFile {
  /** The pods each file gave, so that a watch event replaces that file's pods alone. */
  private readonly byFile = new Map<string, Pod[]>();
  private readonly log: Logger;
  private reported = new Set<string>();
  private watcher: FSWatcher | undefined;
  private ticker: NodeJS.Timeout | undefined;
  /** A read of the changed files is queued: events until it starts join it. */
  private consumeQueued = false;
  private retry: NodeJS.Timeout | undefined;
  private readonly changed = new Set<string>();
  /** One read at a time, in order. */
  private work: Promise<void> = Promise.resolve();
  private closed = false;
  /** Whether a SET went out: the first tells PodConfig the source is there. */
  private sent = false;
  private watchWarned = false;

  constructor(private readonly opts: SourceFileOptions) {
    this.log = opts.logger.child({ source: FileSource, path: opts.path });
  }

  /** Reads the path now, then watches it and reads it again every period. */
  run(): void {
    this.enqueue(() => this.listConfig());
    this.ticker = setInterval(() => this.enqueue(() => this.listConfig()), this.opts.periodMs);
  }

  /** Stops watching; waits for a read under way. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.ticker);
    clearTimeout(this.retry);
    this.stopWatch();
    await this.work;
  }

  private enqueue(fn: () => Promise<void>): void {
    this.work = this.work.then(async () => {
      if (!this.closed) await fn();
    });
  }

  /** listConfig: reads the whole path and sends what it holds. */
  async listConfig(): Promise<void> {
    const path = this.opts.path;
    const info = await stat(path).catch((err: unknown) => err as NodeJS.ErrnoException);
    let read = new Map<string, ExtractResult>();
    const errors: string[] = [];
    if (info instanceof Error) {
      // Sent all the same (empty), so that the kubelet sees the source and does not wait for it.
      errors.push(
        info.code === "ENOENT" ? `${path}: path does not exist, ignoring` : `${path}: ${info.message}`,
      );
      this.stopWatch();
      this.retrySoon();
    } else if (info.isDirectory()) {
      try {
        read = await readManifestDir(path, this.opts.nodeName);
      } catch (err) {
        // A directory that cannot be listed for a moment must not stop every static pod: keep what is known.
        this.report([`${path}: ${messageOf(err)}`], { replace: false });
        if (this.sent) return;
      }
    } else if (info.isFile()) {
      read.set(path, await extractFromFile(path, this.opts.nodeName));
    } else {
      errors.push(`${path}: path is not a directory or file`);
    }
    this.byFile.clear();
    for (const [file, result] of read) {
      this.byFile.set(file, result.pods);
      errors.push(...result.errors);
    }
    this.report(errors, { replace: true });
    this.send();
    if (!(info instanceof Error)) this.startWatch(info.isDirectory());
  }

  private send(): void {
    this.sent = true;
    this.opts.update({ op: "SET", pods: [...this.byFile.values()].flat(), source: FileSource });
  }

  /**
   * Logs each problem once, when it first appears, where the periodic read would repeat it every period.
   * A full read replaces what is known; a watch event adds to it.
   */
  private report(errors: string[], opts: { replace: boolean }): void {
    for (const e of errors)
      if (!this.reported.has(e)) this.log.error({ problem: e }, "static pod manifest skipped");
    this.reported = new Set(opts.replace ? errors : [...this.reported, ...errors]);
  }

  private startWatch(isDir: boolean): void {
    if (this.watcher || this.closed) return;
    const path = this.opts.path;
    // A single file is watched through its directory: editors replace files, which a watch on the file loses.
    const dir = isDir ? path : dirname(path);
    try {
      const watcher = watch(dir, { persistent: false }, (_event, name) => {
        // An event a closed watch still delivers is about a directory no longer watched.
        if (watcher !== this.watcher) return;
        if (name === basename(dir)) {
          // The directory itself was removed or moved: this watch sees nothing more. A full read watches
          // whatever stands at the path now.
          this.stopWatch();
          this.enqueue(() => this.listConfig());
          return;
        }
        if (typeof name !== "string" || name.startsWith(".")) return;
        if (!isDir && name !== basename(path)) return;
        this.changed.add(join(dir, name));
        // Read at once, as upstream does per event; a burst's later events join the queued read, and
        // a half-written file read early is read again on the event its last write makes.
        if (this.consumeQueued) return;
        this.consumeQueued = true;
        this.enqueue(() => {
          this.consumeQueued = false;
          return this.consumeWatchEvents();
        });
      });
      this.watcher = watcher;
      watcher.on("error", (err) => {
        this.log.warn({ err: messageOf(err) }, "watch failed; the periodic read goes on and watches again");
        this.stopWatch();
      });
    } catch (err) {
      if (!this.watchWarned) this.log.warn({ err: messageOf(err) }, "cannot watch the static pod path");
      this.watchWarned = true;
      this.retrySoon();
    }
  }

  /** Without a watch, the path is read again in a second rather than a period, as upstream retries its watch. */
  private retrySoon(): void {
    clearTimeout(this.retry);
    this.retry = setTimeout(() => this.enqueue(() => this.listConfig()), WatchRetryMs);
  }

  private stopWatch(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }

  /** consumeWatchEvent: reads the files that changed and sends the result. */
  private async consumeWatchEvents(): Promise<void> {
    const files = [...this.changed];
    this.changed.clear();
    const errors: string[] = [];
    for (const file of files) {
      const info = await stat(file).catch(() => undefined);
      if (!info?.isFile()) {
        // Removed or renamed away: its pods go.
        this.byFile.delete(file);
        continue;
      }
      const result = await extractFromFile(file, this.opts.nodeName);
      errors.push(...result.errors);
      if (result.pods.length > 0) this.byFile.set(file, result.pods);
      else if (!this.byFile.has(file)) this.byFile.set(file, []);
    }
    this.report(errors, { replace: false });
    this.send();
  }
}
