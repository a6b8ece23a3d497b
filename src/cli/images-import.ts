// berth images import: load the images of an OCI or Docker archive into the runtime
// (ctr images import; crictl has none). The daemon reads the file, so it must be on the node.
import { resolve } from "node:path";
import type { Command } from "commander";
import { callBerthImages } from "./berth-api.js";
import { run } from "./context.js";

interface ImportOptions {
  baseName?: string;
}

export function register(images: Command): void {
  images
    .command("import")
    .description("Import images from an OCI archive (or a Docker save archive) on this node")
    .argument("<archive>", "path of the tar archive")
    .option("--base-name <name>", "name for images the archive names by tag alone, e.g. example.com/app")
    .action(
      run<ImportOptions>(async (cli, opts, args) => {
        const path = resolve(args[0] as string);
        const res = await callBerthImages(cli, "image import", () =>
          cli
            .berthImages()
            .import({ path, baseName: opts.baseName ?? "" }, { timeoutMs: cli.longCallTimeoutMs() }),
        );
        for (const i of res.images) cli.print(i.name ? `Imported ${i.name} (${i.id})` : `Imported ${i.id}`);
      }),
    );
}
