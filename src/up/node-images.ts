// The node's images (berth.local/busybox, berth.local/pause) in the runtime the kubelet uses,
// with no registry: berth runtime imports the OCI archives through berth.v1.Images, containerd
// through its own `ctr images import` on the same socket (containerd serves CRI and its API on
// one socket, and CRI sees the k8s.io namespace). Any other runtime is told what it lacks.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { socketPath } from "../cri/endpoint.js";
import { newBerthImagesClient } from "../cri/remote-berth-images.js";
import type { ImageServiceClient } from "../cri/remote-image.js";
import type { CriConnection } from "../cri/transport.js";
import { BerthError, messageOf, wrap } from "../lib/errdefs.js";
import type { BuiltImage } from "../local-images/oci-image-builder.js";

const execFileAsync = promisify(execFile);
/** containerd's CRI plugin keeps its images in this namespace. */
const criNamespace = "k8s.io";
const importTimeoutMs = 120_000;

export interface ProvidedImages {
  /** Names the runtime lacked and now has (berth up removes them again from a runtime it did not start). */
  imported: string[];
  /** Names the runtime lacks and berth up could not give it. */
  missing: string[];
}

/** Imports each image the runtime lacks; `runtimeName` is what Version answered. */
export async function provideNodeImages(
  conn: CriConnection,
  images: ImageServiceClient,
  runtimeName: string,
  built: readonly BuiltImage[],
): Promise<ProvidedImages> {
  const out: ProvidedImages = { imported: [], missing: [] };
  for (const image of built) {
    const name = image.containerdName;
    if (await hasImage(images, name)) continue;
    if (runtimeName === "berth") {
      try {
        await newBerthImagesClient(conn).import({ path: image.archivePath }, { timeoutMs: importTimeoutMs });
      } catch (err) {
        throw wrap(err, `failed to import ${name} from ${image.archivePath}`);
      }
    } else if (runtimeName === "containerd") {
      await ctrImport(conn.endpoint, image.archivePath, name);
    } else {
      out.missing.push(name);
      continue;
    }
    out.imported.push(name);
  }
  return out;
}

export async function hasImage(images: ImageServiceClient, name: string): Promise<boolean> {
  return (await images.imageStatus({ image: { image: name } })).image !== undefined;
}

async function ctrImport(endpoint: string, archive: string, name: string): Promise<void> {
  const args = ["--address", socketPath(endpoint), "--namespace", criNamespace, "images", "import", archive];
  try {
    await execFileAsync("ctr", args, { timeout: importTimeoutMs });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new BerthError(
      "Unknown",
      `failed to import ${name} with \`ctr ${args.join(" ")}\`: ${stderr || messageOf(err)}`,
      { cause: err },
    );
  }
}
