import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { cleanEntryName, resolveInRoot } from "./root-path.js";

test("cleanEntryName cleans like filepath.Clean and refuses escapes", () => {
  const cases: [string, string[] | RegExp][] = [
    ["a/b/c", ["a", "b", "c"]],
    ["./a//b/./c/", ["a", "b", "c"]],
    ["a/b/../c", ["a", "c"]],
    [".", []],
    ["./", []],
    ["..", /path escapes the snapshot/],
    ["a/../../b", /path escapes the snapshot/],
    ["/etc/passwd", /path escapes the snapshot/],
  ];
  for (const [name, want] of cases) {
    if (want instanceof RegExp) assert.throws(() => cleanEntryName(name), want, name);
    else assert.deepEqual(cleanEntryName(name), want, name);
  }
});

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), "berth-root-path-"));
  await mkdir(join(root, "usr/lib"), { recursive: true });
  await writeFile(join(root, "file"), "");
  await symlink("usr/lib", join(root, "lib"));
  await symlink("../lib", join(root, "usr/lib64"));
  await symlink("..", join(root, "usr/up"));
  await symlink("/etc", join(root, "abs"));
  await symlink("../..", join(root, "usr/out"));
  await symlink("loop2", join(root, "loop1"));
  await symlink("loop1", join(root, "loop2"));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

test("resolveInRoot follows symlinks inside the root and refuses those that leave it", () => {
  const cases: [string, string | RegExp][] = [
    ["usr/lib", "usr/lib"],
    ["lib", "usr/lib"],
    ["lib/x/y", "usr/lib/x/y"],
    ["usr/lib64/z", "usr/lib/z"],
    ["usr/up/usr/up/lib", "usr/lib"],
    ["missing/a", "missing/a"],
    ["file/below", "file/below"],
    ["abs/x", /through symlink "abs" -> "\/etc"/],
    ["usr/out/x", /through symlink "usr\/out" -> "..\/.."/],
    ["loop1/x", /too many levels of symbolic links/],
  ];
  for (const [path, want] of cases) {
    const parts = path.split("/");
    if (want instanceof RegExp) assert.throws(() => resolveInRoot(root, parts), want, path);
    else assert.equal(resolveInRoot(root, parts).join("/"), want, path);
  }
});
