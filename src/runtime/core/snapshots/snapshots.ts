// The snapshotter contract (after containerd's core/snapshots/snapshotter.go): a tree
// of filesystem snapshots where committed ones are read-only parents of new ones.
import type { Mount } from "../../../lib/mount/mount.js";

export type SnapshotKind = "View" | "Active" | "Committed";

// Mount lives in lib/mount, which both the runtime and the kubelet use; snapshotters hand mounts out.
export type { Mount };

export interface SnapshotInfo {
  kind: SnapshotKind;
  /** The key (active/view) or the committed name. */
  name: string;
  parent?: string;
  labels: Record<string, string>;
  createdAt: Date;
  updatedAt: Date;
}

export interface Usage {
  size: number;
  inodes: number;
}

/** Namespaced snapshotter. Keys and names are per namespace. */
export interface Snapshotter {
  stat(ns: string, key: string): Promise<SnapshotInfo>;
  update(
    ns: string,
    info: Pick<SnapshotInfo, "name" | "labels">,
    fieldpaths?: string[],
  ): Promise<SnapshotInfo>;
  usage(ns: string, key: string): Promise<Usage>;
  mounts(ns: string, key: string): Promise<Mount[]>;
  /** A writable snapshot on top of `parent` (a committed name), or empty. AlreadyExists if the key is taken. */
  prepare(
    ns: string,
    key: string,
    parent?: string,
    opts?: { labels?: Record<string, string> },
  ): Promise<Mount[]>;
  /** A read-only snapshot of `parent`. */
  view(
    ns: string,
    key: string,
    parent?: string,
    opts?: { labels?: Record<string, string> },
  ): Promise<Mount[]>;
  /** Turns the active snapshot `key` into the committed snapshot `name`. */
  commit(ns: string, name: string, key: string, opts?: { labels?: Record<string, string> }): Promise<void>;
  /** FailedPrecondition while the snapshot has children. */
  remove(ns: string, key: string): Promise<void>;
  list(ns: string): Promise<SnapshotInfo[]>;
}
