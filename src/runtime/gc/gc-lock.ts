// The GC lock, containerd's metadata.DB wlock: writers share it, a collection holds it alone.
//
// Record-only writes need no lock: a collection marks and deletes records in one LMDB write
// transaction, so it sees a write entirely or not at all. The lock covers work that spans
// files and records (the content store holds it between renaming a blob into place and
// recording it) and any caller's sequence that a collection must not split, such as adding
// a lease resource and then creating what it names. Shared holds never wait for a queued
// collection, so they nest: a caller holding the lock may call a store that takes it too.
import { RWLock } from "async-rwlock";
import type { MetadataDb } from "../core/metadata/db.js";

export class GcLock {
  // async-rwlock grants a read lock at once whenever readers hold it, which is what lets holds nest.
  private readonly rw = new RWLock();

  async shared<T>(fn: () => Promise<T> | T): Promise<T> {
    await this.rw.readLock();
    try {
      return await fn();
    } finally {
      this.rw.unlock();
    }
  }

  async exclusive<T>(fn: () => Promise<T> | T): Promise<T> {
    await this.rw.writeLock();
    try {
      return await fn();
    } finally {
      this.rw.unlock();
    }
  }
}

const locks = new WeakMap<MetadataDb, GcLock>();

/** The GC lock of a metadata database: every store and caller using `db` gets the same one. */
export function gcLock(db: MetadataDb): GcLock {
  let lock = locks.get(db);
  if (!lock) {
    lock = new GcLock();
    locks.set(db, lock);
  }
  return lock;
}
