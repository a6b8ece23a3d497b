// berth rmi: remove images by reference or id (crictl rmi).
import type { Command } from "commander";
import { invalidArgument, notFound } from "../lib/errdefs.js";
import { run } from "./context.js";

interface RmiOptions {
  all?: boolean;
  prune?: boolean;
}

export function register(program: Command): void {
  program
    .command("rmi")
    .description("Remove one or more images")
    .argument("[image...]", "image references or ids")
    .option("-a, --all", "remove all images")
    .option("--prune", "remove all images not used by any container")
    .action(
      run<RmiOptions>(async (cli, opts, args) => {
        const images = cli.image();
        let ids = args;
        if (opts.all || opts.prune) {
          const listed = (await images.listImages({})).images.map((i) => i.id);
          const used = new Set<string>();
          if (opts.prune) {
            for (const c of (await cli.runtime().listContainers({})).containers) used.add(c.imageRef);
          }
          ids = listed.filter((id) => !used.has(id));
        } else if (ids.length === 0) {
          throw invalidArgument("rmi: name at least one image, or use --all or --prune");
        }
        for (const ref of ids) {
          const status = await images.imageStatus({ image: { image: ref } });
          if (!status.image) throw notFound(`no such image "${ref}"`);
          await images.removeImage({ image: { image: status.image.id } });
          const names = [...status.image.repoTags, ...status.image.repoDigests];
          cli.print((names.length ? names : [status.image.id]).map((n) => `Deleted: ${n}`).join("\n"));
        }
      }),
    );
}
