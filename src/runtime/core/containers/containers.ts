// The container store contract (after containerd's core/containers/containers.go): a
// container is metadata only — the OCI spec, the image, the snapshot of its rootfs and
// extensions that clients (the CRI plugin) keep beside it. Running it is the task's job.
import type { Spec } from "../../../runc/oci-spec.js";

export interface Container {
  id: string;
  labels: Record<string, string>;
  /** The image reference it was created from. */
  image: string;
  /** The OCI runtime spec its task runs. */
  spec: Spec;
  /** The snapshot holding its rootfs; absent for a container without one. */
  snapshotter?: string;
  snapshotKey?: string;
  /** Opaque client data by name (CRI keeps its metadata here), stored as given. */
  extensions: Record<string, unknown>;
  createdAt: Date;
  updatedAt: Date;
}

export type ContainerInput = Omit<Container, "createdAt" | "updatedAt">;

export interface ContainerPatch {
  spec?: Spec;
  extensions?: Record<string, unknown>;
}

export interface ContainerStore {
  get(ns: string, id: string): Promise<Container>;
  list(ns: string): Promise<Container[]>;
  /** AlreadyExists if the id is taken. */
  create(ns: string, c: ContainerInput): Promise<Container>;
  /** Replaces the spec if given and the extensions given (others stay); NotFound if missing. */
  update(ns: string, id: string, patch: ContainerPatch): Promise<Container>;
  /** NotFound if missing. */
  delete(ns: string, id: string): Promise<void>;
}
