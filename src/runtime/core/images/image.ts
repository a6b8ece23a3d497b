// The image store contract (after containerd's core/images/image.go): a name pointing
// at a manifest or index descriptor in the content store.
import type { Descriptor } from "../content/content.js";

export interface Image {
  /** Fully qualified reference, e.g. "docker.io/library/busybox:latest", or "<repo>@sha256:…". */
  name: string;
  target: Descriptor;
  labels: Record<string, string>;
  createdAt: Date;
  updatedAt: Date;
}

export interface ImageStore {
  get(ns: string, name: string): Promise<Image>;
  list(ns: string): Promise<Image[]>;
  /** AlreadyExists if the name is taken. */
  create(ns: string, image: Omit<Image, "createdAt" | "updatedAt">): Promise<Image>;
  update(ns: string, image: Omit<Image, "createdAt" | "updatedAt">, fieldpaths?: string[]): Promise<Image>;
  delete(ns: string, name: string): Promise<void>;
}
