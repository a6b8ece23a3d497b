// berth pull: pull an image through the CRI ImageService (crictl pull), with per-layer
// progress bars where the runtime streams progress (berth.v1.Images).
import { create } from "@bufbuild/protobuf";
import type { Command } from "commander";
import { AuthConfigSchema, PodSandboxConfigSchema } from "../cri/gen/runtime/v1/api_pb.js";
import { invalidArgument } from "../lib/errdefs.js";
import { loadConfigFile } from "./config-file.js";
import { type Cli, run } from "./context.js";
import { ProgressBars } from "./progress-bars.js";
import { watchPullProgress } from "./pull-progress.js";
import { startSpinner } from "./spinner.js";

interface PullOptions {
  creds?: string;
  auth?: string;
  username?: string;
  password?: string;
  podConfig?: string;
}

export function authConfig(opts: PullOptions) {
  if (opts.creds !== undefined) {
    const colon = opts.creds.indexOf(":");
    if (colon <= 0) throw invalidArgument(`--creds: want USERNAME:PASSWORD`);
    return create(AuthConfigSchema, {
      username: opts.creds.slice(0, colon),
      password: opts.creds.slice(colon + 1),
    });
  }
  if (opts.auth !== undefined) return create(AuthConfigSchema, { auth: opts.auth });
  if (opts.username !== undefined) {
    return create(AuthConfigSchema, { username: opts.username, password: opts.password ?? "" });
  }
  return undefined;
}

export function register(program: Command): void {
  program
    .command("pull")
    .description("Pull an image from a registry")
    .argument("<image>", "image reference, e.g. busybox or 127.0.0.1:5000/library/busybox:latest")
    .option("--creds <user:password>", "registry credentials")
    .option("--auth <base64>", "base64 of user:password, as in a docker config")
    .option("-u, --username <user>", "registry user name")
    .option("-p, --password <password>", "registry password (with --username)")
    .option("--pod-config <file>", "pod sandbox config the image is pulled for (JSON or YAML)")
    .action(
      run<PullOptions>(async (cli, opts, args) => {
        const image = args[0] as string;
        const sandboxConfig = opts.podConfig
          ? await loadConfigFile(PodSandboxConfigSchema, opts.podConfig)
          : undefined;
        const res = await withProgress(cli, image, () =>
          cli
            .image()
            .pullImage(
              { image: { image }, auth: authConfig(opts), sandboxConfig },
              { timeoutMs: cli.longCallTimeoutMs() },
            ),
        );
        cli.print(`Image is up to date for ${res.imageRef}`);
      }),
    );
}

/**
 * On a terminal, a pull shows per-layer bars where the runtime streams its progress (berth)
 * and a spinner where it does not; elsewhere only the result line.
 */
async function withProgress<T>(cli: Cli, image: string, pull: () => Promise<T>): Promise<T> {
  if (!process.stderr.isTTY) return pull();
  const bars = new ProgressBars(process.stderr);
  const watch = await watchPullProgress(cli.berthImages(), image, (e) => bars.draw(e.blobs));
  if (watch) {
    try {
      return await pull();
    } finally {
      // The last event (every layer unpacked) may still be on its way.
      await watch.stop(1000);
    }
  }
  const stop = startSpinner(`Pulling ${image}`);
  try {
    return await pull();
  } finally {
    stop();
  }
}
