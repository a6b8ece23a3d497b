// The container store (after containerd's metadata/containers.go): bucket "containers",
// [ns, id] → the record. Each container's snapshot is a GC root (gc.ts reads this bucket).
import type { Database, Key } from "lmdb";
import { alreadyExists, invalidArgument, notFound } from "../../lib/errdefs.js";
import type {
  Container,
  ContainerInput,
  ContainerPatch,
  ContainerStore,
} from "../core/containers/containers.js";
import { validateLabels } from "../core/labels.js";
import type { MetadataDb } from "../core/metadata/db.js";

export type ContainerRecord = Omit<Container, "id">;

/** containerd's identifiers.Validate: what a container id may look like. */
const IdPattern = /^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$/;
const MaxIdLength = 76;

export class MetadataContainerStore implements ContainerStore {
  private readonly records: Database<ContainerRecord, Key[]>;

  constructor(private readonly db: MetadataDb) {
    this.records = db.bucket<ContainerRecord>("containers");
  }

  async get(ns: string, id: string): Promise<Container> {
    return { id, ...this.record(ns, id) };
  }

  async list(ns: string): Promise<Container[]> {
    return this.db
      .listNamespace(this.records, ns)
      .map(({ key, value }) => ({ id: String(key[1]), ...value }));
  }

  async create(ns: string, c: ContainerInput): Promise<Container> {
    if (c.id.length > MaxIdLength || !IdPattern.test(c.id)) {
      throw invalidArgument(`container id "${c.id}" is not a valid identifier`);
    }
    validateLabels(c.labels);
    const now = new Date();
    const { id, ...rest } = c;
    const record: ContainerRecord = { ...rest, createdAt: now, updatedAt: now };
    await this.db.transaction(() => {
      if (this.records.doesExist([ns, id])) throw alreadyExists(`container "${id}" already exists`);
      this.records.putSync([ns, id], record);
    });
    return { id, ...record };
  }

  async update(ns: string, id: string, patch: ContainerPatch): Promise<Container> {
    const record = await this.db.transaction(() => {
      const current = this.record(ns, id);
      const updated = {
        ...current,
        spec: patch.spec ?? current.spec,
        extensions: { ...current.extensions, ...patch.extensions },
        updatedAt: new Date(),
      };
      this.records.putSync([ns, id], updated);
      return updated;
    });
    return { id, ...record };
  }

  async delete(ns: string, id: string): Promise<void> {
    await this.db.transaction(() => {
      if (!this.records.doesExist([ns, id])) throw notFound(`container "${id}" not found`);
      this.records.removeSync([ns, id]);
    });
  }

  private record(ns: string, id: string): ContainerRecord {
    const r = this.records.get([ns, id]);
    if (!r) throw notFound(`container "${id}" not found`);
    return r;
  }
}
