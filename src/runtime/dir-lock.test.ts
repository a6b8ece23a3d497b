import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { kindOf } from "../lib/errdefs.js";
import { LockFileName, lockDir } from "./dir-lock.js";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "berth-dir-lock-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test("the lock file records the holder's pid", () => {
  const lock = lockDir(dir, "root");
  try {
    assert.equal(lock.path, join(dir, LockFileName));
    assert.equal(readFileSync(lock.path, "utf8"), `${process.pid}\n`);
  } finally {
    lock.release();
  }
});

test("a held lock refuses a second holder, naming the dir and the pid", () => {
  const lock = lockDir(dir, "root");
  try {
    assert.throws(
      () => lockDir(dir, "root"),
      (err) => {
        assert.equal(kindOf(err), "FailedPrecondition");
        assert.equal(
          (err as Error).message,
          `root directory ${dir} is in use by another berth runtime (pid ${process.pid}; ${lock.path} is locked)`,
        );
        return true;
      },
    );
  } finally {
    lock.release();
  }
});

test("release removes the file and frees the dir", () => {
  lockDir(dir, "state").release();
  assert.equal(existsSync(join(dir, LockFileName)), false);
  lockDir(dir, "state").release();
});

test("a lock file whose holder is gone does not block", () => {
  writeFileSync(join(dir, LockFileName), "999999\n");
  const lock = lockDir(dir, "root");
  try {
    assert.equal(readFileSync(lock.path, "utf8"), `${process.pid}\n`);
  } finally {
    lock.release();
  }
});
