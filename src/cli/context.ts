// What every CLI command gets: the global flags and lazily dialed CRI clients.
import type { Command } from "commander";
import { type BerthImagesClient, newBerthImagesClient } from "../cri/remote-berth-images.js";
import { type ImageServiceClient, newRemoteImageService } from "../cri/remote-image.js";
import { newRemoteRuntimeService, type RuntimeServiceClient } from "../cri/remote-runtime.js";
import { type CriConnection, dialCri } from "../cri/transport.js";
import { parseDuration } from "../lib/duration.js";

export interface GlobalOptions {
  runtimeEndpoint: string;
  imageEndpoint?: string;
  timeout: string;
  debug?: boolean;
}

export class Cli {
  readonly timeoutMs: number;
  private readonly conns: CriConnection[] = [];
  private runtimeClient?: RuntimeServiceClient;
  private imageClient?: ImageServiceClient;
  private berthImagesClient?: BerthImagesClient;
  private imageConn?: CriConnection;

  /**
   * @param timeoutSet whether --timeout was given: long calls (pull) have no
   * deadline unless the user asked for one.
   */
  constructor(
    readonly globals: GlobalOptions,
    readonly timeoutSet = false,
  ) {
    this.timeoutMs = parseDuration(globals.timeout);
  }

  /** The deadline for a call that may take long: none unless --timeout was given. */
  longCallTimeoutMs(): number {
    return this.timeoutSet ? this.timeoutMs : 0;
  }

  runtime(): RuntimeServiceClient {
    this.runtimeClient ??= newRemoteRuntimeService(this.dial(this.globals.runtimeEndpoint));
    return this.runtimeClient;
  }

  /** Where image calls go: --image-endpoint, or the runtime endpoint as crictl falls back. */
  get imageEndpoint(): string {
    return this.globals.imageEndpoint || this.globals.runtimeEndpoint;
  }

  image(): ImageServiceClient {
    this.imageClient ??= newRemoteImageService(this.imageConnection());
    return this.imageClient;
  }

  /** berth's own image API beside CRI, on the same connection; other runtimes lack it. */
  berthImages(): BerthImagesClient {
    this.berthImagesClient ??= newBerthImagesClient(this.imageConnection());
    return this.berthImagesClient;
  }

  print(text: string): void {
    process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
  }

  close(): void {
    for (const c of this.conns) c.close();
  }

  private imageConnection(): CriConnection {
    this.imageConn ??= this.dial(this.imageEndpoint);
    return this.imageConn;
  }

  private dial(endpoint: string): CriConnection {
    const conn = dialCri(endpoint, { timeoutMs: this.timeoutMs });
    this.conns.push(conn);
    return conn;
  }
}

/** Process exit code a command asks for (exec passes the container's on). */
export class ExitCode {
  constructor(readonly code: number) {}
}

/**
 * Wraps a command body: builds the Cli from the global flags, runs, closes the
 * connections. Errors bubble to main, which prints one line.
 */
export function run<O>(body: (cli: Cli, opts: O, args: string[]) => Promise<unknown>) {
  return async (...params: unknown[]) => {
    const command = params.at(-1) as Command;
    const source = command.getOptionValueSourceWithGlobals("timeout");
    const cli = new Cli(command.optsWithGlobals<GlobalOptions>(), source === "cli" || source === "env");
    try {
      const result = await body(cli, command.opts() as O, command.args);
      if (result instanceof ExitCode) process.exitCode = result.code;
    } finally {
      cli.close();
    }
  };
}
