// The lease manager (after containerd's metadata/leases.go): bucket "leases" [ns, id] →
// LeaseRecord and bucket "leaseResources" [ns, id, type, resource id] → true. An expiry is
// kept as containerd keeps it, in the containerd.io/gc.expire label, which GC reads.
import { randomBytes } from "node:crypto";
import type { Database, Key } from "lmdb";
import { alreadyExists, invalidArgument, notFound } from "../../lib/errdefs.js";
import { validateSha256Digest } from "../content/digest.js";
import { LabelGCExpire, validateLabels } from "../core/labels.js";
import type { Lease, LeaseManager, LeaseResource, LeaseResourceType } from "../core/leases/leases.js";
import type { MetadataDb } from "../core/metadata/db.js";

export type LeaseRecord = Omit<Lease, "id">;

/** containerd's identifiers rule: alphanumerics joined by single ".", "_" or "-", at most 76 long. */
const LeaseIdPattern = /^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/;
const MaxLeaseIdLength = 76;

/** Sorts after every resource key of a lease in lmdb's ordered-binary key encoding. */
const AfterAll = Buffer.from([0xff]);

export class MetadataLeaseManager implements LeaseManager {
  private readonly leases: Database<LeaseRecord, Key[]>;
  private readonly resources: Database<true, Key[]>;

  constructor(private readonly db: MetadataDb) {
    this.leases = db.bucket<LeaseRecord>("leases");
    this.resources = db.bucket<true>("leaseResources");
  }

  async create(
    ns: string,
    opts: { id?: string; labels?: Record<string, string>; expireAt?: Date },
  ): Promise<Lease> {
    const id = opts.id ?? randomBytes(12).toString("hex");
    if (id.length > MaxLeaseIdLength || !LeaseIdPattern.test(id))
      throw invalidArgument(`lease id "${id}" is invalid`);
    const labels = { ...opts.labels };
    if (opts.expireAt) labels[LabelGCExpire] = opts.expireAt.toISOString();
    validateLabels(labels);
    const record: LeaseRecord = { createdAt: new Date(), labels };
    await this.db.transaction(() => {
      if (this.leases.doesExist([ns, id]))
        throw alreadyExists(`lease "${id}" already exists in namespace "${ns}"`);
      this.leases.put([ns, id], record);
    });
    return { id, ...record };
  }

  /** Deletes the lease and its resource list; what it held is left for GC. */
  async delete(ns: string, id: string): Promise<void> {
    await this.db.transaction(() => {
      this.lease(ns, id);
      deleteLease(this.db, ns, id);
    });
  }

  async list(ns: string): Promise<Lease[]> {
    return this.db.listNamespace(this.leases, ns).map(({ key, value }) => ({ id: String(key[1]), ...value }));
  }

  async addResource(ns: string, leaseId: string, ...rs: LeaseResource[]): Promise<void> {
    for (const r of rs) validateResource(r);
    await this.db.transaction(() => {
      this.lease(ns, leaseId);
      for (const r of rs) this.resources.put([ns, leaseId, r.type, r.id], true);
    });
  }

  /** Removing a resource the lease does not hold is not an error, as in containerd. */
  async deleteResource(ns: string, leaseId: string, r: LeaseResource): Promise<void> {
    await this.db.transaction(() => {
      this.lease(ns, leaseId);
      this.resources.remove([ns, leaseId, r.type, r.id]);
    });
  }

  async listResources(ns: string, leaseId: string): Promise<LeaseResource[]> {
    this.lease(ns, leaseId);
    return leaseResourceKeys(this.db, ns, leaseId).map((key) => ({
      type: String(key[2]) as LeaseResourceType,
      id: String(key[3]),
    }));
  }

  private lease(ns: string, id: string): LeaseRecord {
    const record = this.leases.get([ns, id]);
    if (!record) throw notFound(`lease "${id}" not found in namespace "${ns}"`);
    return record;
  }
}

/** The resource keys of one lease: [ns, id, type, resource id]. */
export function leaseResourceKeys(db: MetadataDb, ns: string, id: string): Key[][] {
  return [
    ...db.bucket<true>("leaseResources").getKeys({ start: [ns, id], end: [ns, id, AfterAll] }),
  ] as Key[][];
}

/** Deletes a lease and its resources; call inside a transaction (GC does, for expired leases). */
export function deleteLease(db: MetadataDb, ns: string, id: string): void {
  const resources = db.bucket<true>("leaseResources");
  for (const key of leaseResourceKeys(db, ns, id)) resources.remove(key);
  db.bucket<LeaseRecord>("leases").remove([ns, id]);
}

/** When the lease expires, if it says so. */
export function leaseExpiry(lease: Pick<Lease, "labels">): Date | undefined {
  const value = lease.labels[LabelGCExpire];
  const at = value === undefined ? Number.NaN : Date.parse(value);
  return Number.isNaN(at) ? undefined : new Date(at);
}

function validateResource(r: LeaseResource): void {
  if (!r.id) throw invalidArgument(`lease resource of type "${r.type}" has an empty id`);
  if (r.type === "content") validateSha256Digest(r.id, "leased content digest");
  else if (r.type !== "ingests" && !/^snapshots\/[^/]+$/.test(r.type)) {
    throw invalidArgument(
      `lease resource type "${r.type}" is not content, ingests or snapshots/<snapshotter>`,
    );
  }
}
