// Build the reproducible test images: `node dist/src/testenv/build-images-main.js [outDir]`
// (default <repo>/build/images). Prints one line per image with its digests.

import path from "node:path";
import { buildTestImages, defaultImagesDir } from "./images.js";

const outDir = path.resolve(process.argv[2] ?? defaultImagesDir());
try {
  for (const img of await buildTestImages(outDir)) {
    console.log(
      `${img.ref} manifest=${img.manifestDigest} config=${img.configDigest} ` +
        `layers=${img.layerDigests.join(",")} size=${img.size} archive=${img.archivePath}`,
    );
  }
} catch (err) {
  console.error(`build-images: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
