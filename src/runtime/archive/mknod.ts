// Node has no mknod(2), and no well-kept npm package brings it without a native build:
// device nodes, fifos and overlay whiteouts (char 0:0) are made by coreutils' mknod. They
// are rare in layers, so one process per node costs little.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { BerthError } from "../../lib/errdefs.js";

const exec = promisify(execFile);

export type NodeType = "char" | "block" | "fifo";

const letters: Record<NodeType, string> = { char: "c", block: "b", fifo: "p" };

/** Makes a device node or fifo at `path`, which must not exist (mknod never follows it). */
export async function mknod(path: string, type: NodeType, mode: number, major = 0, minor = 0): Promise<void> {
  const args = ["-m", (mode & 0o7777).toString(8), "--", path, letters[type]];
  if (type !== "fifo") args.push(String(major), String(minor));
  try {
    await exec("mknod", args);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new BerthError("Unknown", `failed to make ${type} node "${path}": ${stderr || String(err)}`, {
      cause: err,
    });
  }
}
