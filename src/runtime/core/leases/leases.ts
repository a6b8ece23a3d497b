// Leases (after containerd's core/leases): while a lease holds a resource, GC keeps it,
// so an in-flight pull never loses the blobs and snapshots it has made so far.

export interface Lease {
  id: string;
  createdAt: Date;
  labels: Record<string, string>;
}

export type LeaseResourceType = "content" | "ingests" | `snapshots/${string}`;

export interface LeaseResource {
  /** A digest (content), an ingest ref, or a snapshot key. */
  id: string;
  type: LeaseResourceType;
}

export interface LeaseManager {
  /** `expireAt` lets GC drop a lease whose owner died (containerd's containerd.io/gc.expire label). */
  create(ns: string, opts: { id?: string; labels?: Record<string, string>; expireAt?: Date }): Promise<Lease>;
  delete(ns: string, id: string): Promise<void>;
  list(ns: string): Promise<Lease[]>;
  /** Adds the resources in one transaction. */
  addResource(ns: string, leaseId: string, ...rs: LeaseResource[]): Promise<void>;
  deleteResource(ns: string, leaseId: string, r: LeaseResource): Promise<void>;
  listResources(ns: string, leaseId: string): Promise<LeaseResource[]>;
}
