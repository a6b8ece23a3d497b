// The in-memory object stores of the CRI plugin (containerd's pkg/cri/store/sandbox and
// store/container): objects by id, found by their full id or any unique prefix of it
// (docker's truncindex, which containerd uses), and the names they reserve
// (pkg/cri/store/name_index.go), so two pods or containers never share a name.
import { BerthError, invalidArgument, isNotFound, notFound } from "../../../lib/errdefs.js";

export class ObjectStore<T extends { id: string }> {
  private readonly byId = new Map<string, T>();

  add(o: T): void {
    if (this.byId.has(o.id)) throw new BerthError("AlreadyExists", `id "${o.id}" already exists`);
    this.byId.set(o.id, o);
  }

  /** By full id or unique prefix: NotFound when nothing matches, Unknown when several do (truncindex's errors). */
  get(idOrPrefix: string): T {
    const exact = this.byId.get(idOrPrefix);
    if (exact) return exact;
    if (idOrPrefix === "") throw new BerthError("Unknown", "Prefix can't be empty");
    let found: T | undefined;
    for (const [id, o] of this.byId) {
      if (!id.startsWith(idOrPrefix)) continue;
      if (found) throw new BerthError("Unknown", `Multiple IDs found with provided prefix: ${idOrPrefix}`);
      found = o;
    }
    if (!found) throw notFound("not found");
    return found;
  }

  /** Like get, but undefined instead of NotFound. */
  find(idOrPrefix: string): T | undefined {
    try {
      return this.get(idOrPrefix);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** What a list filter by id keeps: the one object the id or prefix names, none if it names none or several. */
  filterById(idOrPrefix: string): T[] {
    try {
      return [this.get(idOrPrefix)];
    } catch {
      return [];
    }
  }

  list(): T[] {
    return [...this.byId.values()];
  }

  delete(id: string): void {
    this.byId.delete(id);
  }
}

/** containerd's registrar: a name belongs to one id until released. */
export class NameIndex {
  private readonly owners = new Map<string, string>();

  reserve(name: string, id: string): void {
    if (name === "" || id === "") throw invalidArgument("name and id must not be empty");
    const owner = this.owners.get(name);
    if (owner === undefined) {
      this.owners.set(name, id);
      return;
    }
    // containerd's ErrNameReserved is a plain error: the kubelet sees Unknown.
    if (owner !== id) throw new BerthError("Unknown", `name "${name}" is reserved for "${owner}"`);
  }

  releaseByName(name: string): void {
    this.owners.delete(name);
  }
}
