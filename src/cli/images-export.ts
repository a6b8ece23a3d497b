// berth images export: write images to an OCI archive (ctr images export; crictl has
// none). The daemon writes the file, so the path is on the node.
import { resolve } from "node:path";
import type { Command } from "commander";
import { callBerthImages } from "./berth-api.js";
import { run } from "./context.js";
import { humanSize } from "./output.js";

export function register(images: Command): void {
  images
    .command("export")
    .description("Export images to an OCI archive on this node")
    .argument("<archive>", "path of the tar archive to write")
    .argument("<image...>", "image references or ids")
    .action(
      run(async (cli, _opts, args) => {
        const [archive, ...refs] = args as [string, ...string[]];
        const path = resolve(archive);
        const res = await callBerthImages(cli, "image export", () =>
          cli.berthImages().export({ path, images: refs }, { timeoutMs: cli.longCallTimeoutMs() }),
        );
        cli.print(`Exported ${path} (${humanSize(res.size)})`);
      }),
    );
}
