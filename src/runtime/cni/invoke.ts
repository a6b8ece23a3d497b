// Ported from containernetworking/cni pkg/invoke (exec.go, raw_exec.go, find.go, args.go): a
// plugin is a binary found in CNI_PATH, run once per command with its parameters in CNI_*
// environment variables and its network config on stdin; it answers a result or an error
// object on stdout. berth adds a deadline, since a wedged plugin would otherwise hold a pod
// sandbox forever.
import { execFile } from "node:child_process";
import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import { join } from "node:path";
import { BerthError, invalidArgument, notFound } from "../../lib/errdefs.js";
import type { Logger } from "../../lib/log.js";
import { CniPluginError } from "./plugin-error.js";

export type Command = "ADD" | "CHECK" | "DEL";

/** What a plugin gets in its CNI_* environment. */
export interface PluginArgs {
  command: Command;
  containerId: string;
  /** The netns path; "" on a DEL whose namespace is already gone. */
  netns: string;
  ifName: string;
  /** CNI_ARGS, "K=V;K=V" in this order. */
  args: [string, string][];
  /** CNI_PATH. */
  path: string[];
}

export interface ExecOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  log: Logger;
}

/** The plugin's executable in the first dir of `paths` that has one. */
export async function findInPath(plugin: string, paths: string[]): Promise<string> {
  for (const dir of paths) {
    const file = join(dir, plugin);
    try {
      if ((await stat(file)).isFile()) {
        await access(file, constants.X_OK);
        return file;
      }
    } catch {} // not in this dir: try the next
  }
  throw notFound(`failed to find plugin "${plugin}" in CNI_PATH "${paths.join(":")}"`);
}

/** Runs the plugin; resolves with its stdout parsed as JSON, or undefined when it printed nothing. */
export async function execPlugin(
  file: string,
  stdin: string,
  a: PluginArgs,
  opts: ExecOptions,
): Promise<unknown> {
  const env = { ...process.env, ...pluginEnv(a) };
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      [],
      { env, timeout: opts.timeoutMs, killSignal: "SIGKILL", signal: opts.signal, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        if (stderr) opts.log.debug({ plugin: file, command: a.command, stderr }, "CNI plugin stderr");
        if (err) return reject(execError(err, stdout, stderr, opts));
        if (stdout.trim() === "") return resolve(undefined);
        try {
          resolve(JSON.parse(stdout));
        } catch {
          reject(
            new BerthError("Unknown", `invalid JSON on stdout: ${JSON.stringify(stdout.slice(0, 200))}`),
          );
        }
      },
    );
    // A plugin that exits without reading its config closes the pipe early; its exit says why.
    child.stdin?.on("error", () => {});
    child.stdin?.end(stdin);
  });
}

export function pluginEnv(a: PluginArgs): Record<string, string> {
  for (const [k, v] of a.args) {
    if (k === "" || /[;=]/.test(k) || v.includes(";"))
      throw invalidArgument(`invalid CNI_ARGS entry "${k}=${v}"`);
  }
  return {
    CNI_COMMAND: a.command,
    CNI_CONTAINERID: a.containerId,
    CNI_NETNS: a.netns,
    CNI_IFNAME: a.ifName,
    CNI_ARGS: a.args.map(([k, v]) => `${k}=${v}`).join(";"),
    CNI_PATH: a.path.join(":"),
  };
}

/** libcni's pluginErr: the error object on stdout, else stderr, else the exit status. */
function execError(err: Error, stdout: string, stderr: string, opts: ExecOptions): Error {
  const e = err as NodeJS.ErrnoException & { code?: number | string; killed?: boolean; signal?: string };
  if (e.name === "AbortError") return new BerthError("Canceled", "canceled", { cause: err });
  if (e.killed)
    return new BerthError("DeadlineExceeded", `timed out after ${opts.timeoutMs} ms`, { cause: err });
  if (typeof e.code !== "number") return new BerthError("Unknown", e.message, { cause: err });
  if (stdout.trim() === "") {
    const msg = stderr.trim()
      ? `netplugin failed: ${JSON.stringify(stderr.trim())}`
      : `exit status ${e.code}`;
    return new CniPluginError(0, msg);
  }
  try {
    const o = JSON.parse(stdout) as { code?: unknown; msg?: unknown; details?: unknown };
    return new CniPluginError(Number(o.code) || 0, String(o.msg ?? ""), o.details ? String(o.details) : "");
  } catch {
    return new CniPluginError(0, `netplugin failed but its error is not JSON: ${JSON.stringify(stdout)}`);
  }
}
