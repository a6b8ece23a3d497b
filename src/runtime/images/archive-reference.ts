// How image archives name images, after containerd 1.6's images/archive/reference.go and
// the imageName of its import.go: two annotations on each entry of index.json, the full
// name in containerd's own and the tag alone in the OCI one, which `ctr images import`
// completes with a base name.

/** The full image name, e.g. "docker.io/library/busybox:latest". */
export const AnnotationImageName = "io.containerd.image.name";
/** The OCI ref name: containerd writes only the tag ("latest"). */
export const AnnotationRefName = "org.opencontainers.image.ref.name";

/**
 * ociReferenceName: the object of a name, its tag (or "tag@digest", or "@digest"), as
 * containerd's reference.Parse splits it after the host. berth's names are normalized, so
 * always have a host; one without stands whole, as where Parse fails.
 */
export function ociReferenceName(name: string): string {
  const slash = name.indexOf("/");
  if (slash < 0) return name;
  const path = name.slice(slash);
  const at = path.search(/[:@]/);
  if (at < 0) return "";
  const object = path.slice(at);
  return object.startsWith(":") ? object.slice(1) : object;
}

/** imageName: io.containerd.image.name as it is, else the OCI ref name through `translate`; "" for neither. */
export function imageName(annotations: Record<string, string>, translate: (ref: string) => string): string {
  const name = annotations[AnnotationImageName];
  if (name) return name;
  const ref = annotations[AnnotationRefName];
  return ref ? translate(ref) : "";
}

/**
 * The translator `ctr images import` gives OCI ref names: without a base name, a bare tag
 * goes under "import-<date>" (AddRefPrefix); with one, a bare tag goes under it and a full
 * name not under it is dropped (FilterRefPrefix).
 */
export function refTranslator(baseName: string | undefined, now: Date): (ref: string) => string {
  const base = baseName || `import-${localDate(now)}`;
  return (ref) => {
    if (!/[/:@]/.test(ref)) return `${base}:${ref}`;
    if (baseName && !isImagePrefix(ref, base)) return "";
    return ref;
  };
}

/** isImagePrefix: `prefix` is s, or s's repository up to a "/", ":" or "@" (not a partial path component). */
function isImagePrefix(s: string, prefix: string): boolean {
  return s.startsWith(prefix) && (s.length === prefix.length || "/:@".includes(s[prefix.length] as string));
}

/** Go's "2006-01-02" in local time, as ctr formats the default base name. */
function localDate(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}
