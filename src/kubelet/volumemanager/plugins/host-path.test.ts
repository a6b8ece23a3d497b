import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import type { Pod } from "kubernetes-types/core/v1.js";
import type { VolumeHost } from "../volume-plugin.js";
import { checkType, hostPathPlugin } from "./host-path.js";

const exec = promisify(execFile);

let dir: string;
let server: Server;
let umask: number;
const paths: Record<string, string> = {};

before(async () => {
  // One of each kind of file hostPath types tell apart, device nodes made with mknod.
  // The modes made are 0755 and 0644 less the umask, as with upstream's MkdirAll and OpenFile.
  umask = process.umask(0o022);
  dir = await mkdtemp(join(tmpdir(), "berth-hostpath-"));
  paths.dir = join(dir, "dir");
  paths.file = join(dir, "file");
  paths.socket = join(dir, "socket");
  paths.char = join(dir, "char");
  paths.block = join(dir, "block");
  await mkdir(paths.dir);
  await writeFile(paths.file, "x");
  server = createServer();
  await new Promise<void>((resolve) => server.listen(paths.socket, resolve));
  await exec("mknod", [paths.char, "c", "1", "3"]);
  await exec("mknod", [paths.block, "b", "7", "250"]);
});
after(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
  process.umask(umask);
});

test("checkType tells each kind of file apart, with upstream's messages (upstream TestHostPathTypeChecking*)", async () => {
  const want: Record<string, Record<string, string | undefined>> = {
    Directory: {
      dir: undefined,
      file: "is not a directory",
      socket: "is not a directory",
      char: "is not a directory",
    },
    DirectoryOrCreate: { dir: undefined, file: "is not a directory", block: "is not a directory" },
    File: { file: undefined, dir: "is not a file", socket: undefined, char: undefined, block: undefined },
    FileOrCreate: { file: undefined, dir: "is not a file", socket: undefined },
    Socket: { socket: undefined, file: "is not a socket file", dir: "is not a socket file" },
    CharDevice: { char: undefined, block: "is not a character device", file: "is not a character device" },
    BlockDevice: { block: undefined, char: "is not a block device", dir: "is not a block device" },
  };
  for (const [type, kinds] of Object.entries(want)) {
    for (const [kind, error] of Object.entries(kinds)) {
      const path = paths[kind] as string;
      const name = `${type} on a ${kind}`;
      if (error === undefined) await checkType(path, type);
      else {
        await assert.rejects(
          checkType(path, type),
          { kind: "FailedPrecondition", message: `hostPath type check failed: ${path} ${error}` },
          name,
        );
      }
    }
  }
  for (const type of ["Directory", "File", "Socket", "CharDevice", "BlockDevice"]) {
    await assert.rejects(
      checkType(join(dir, "missing"), type),
      /hostPath type check failed: .*missing is not/,
      type,
    );
  }
  await assert.rejects(checkType(paths.dir as string, "Fifo"), { message: "Fifo is an invalid volume type" });
});

test("DirectoryOrCreate makes the directory with its parents, 0755; FileOrCreate an empty 0644 file", async () => {
  const nested = join(dir, "made", "a", "b");
  await checkType(nested, "DirectoryOrCreate");
  assert.ok((await stat(nested)).isDirectory());
  assert.equal((await stat(nested)).mode & 0o777, 0o755);

  const file = join(dir, "made", "f");
  await checkType(file, "FileOrCreate");
  const info = await stat(file);
  assert.ok(info.isFile());
  assert.equal(info.size, 0);
  assert.equal(info.mode & 0o777, 0o644);
  // Without its directory the file is not made: FileOrCreate creates no parents.
  await assert.rejects(checkType(join(dir, "nowhere", "f"), "FileOrCreate"), { code: "ENOENT" });
});

test("the plugin hands the path out as it is, checks nothing for an unset type, and refuses '..'", async () => {
  const host = {} as VolumeHost;
  const pod: Pod = { metadata: { uid: "u1" } };
  const missing = join(dir, "not-there");
  assert.deepEqual(await hostPathPlugin.setUp(host, pod, { name: "v", hostPath: { path: missing } }), {
    hostPath: missing,
  });
  assert.deepEqual(
    await hostPathPlugin.setUp(host, pod, { name: "v", hostPath: { path: missing, type: "" } }),
    {
      hostPath: missing,
    },
  );
  await assert.rejects(
    hostPathPlugin.setUp(host, pod, { name: "v", hostPath: { path: "/etc/../root", type: "" } }),
    {
      message: "invalid HostPath `/etc/../root`: must not contain '..'",
    },
  );
});
