// Runs the real `bin/berth` as a user would, capturing its output and exit code.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "../../src/testenv/images.js";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export const berthBin = join(repoRoot(), "bin", "berth");

/**
 * Runs bin/berth. `withoutDacOverride` keeps root but drops the capabilities that let
 * root open any file, so permission errors can be tested wherever the repo lives.
 */
export function berth(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; withoutDacOverride?: boolean } = {},
): Promise<CliResult> {
  const [cmd, argv] = opts.withoutDacOverride
    ? [
        "setpriv",
        ["--bounding-set", "-dac_override,-dac_read_search", "--", process.execPath, berthBin, ...args],
      ]
    : [process.execPath, [berthBin, ...args]];
  const child = spawn(cmd, argv, { env: { ...process.env, ...opts.env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => {
    stdout += d;
  });
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Like berth(), but fails the test with the CLI's stderr unless it exits 0. */
export async function berthOk(args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const r = await berth(args, opts);
  if (r.code !== 0) throw new Error(`berth ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}
