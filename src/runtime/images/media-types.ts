// OCI and Docker schema 2 media types, and what each kind of blob is
// (after containerd's images/mediatypes.go).
export const MediaTypes = {
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayer: "application/vnd.oci.image.layer.v1.tar",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  ociLayerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  ociLayerNonDistributable: "application/vnd.oci.image.layer.nondistributable.v1.tar",
  ociLayerNonDistributableGzip: "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
  dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  dockerLayerForeignGzip: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
  dockerLayer: "application/vnd.docker.image.rootfs.diff.tar",
} as const;

export const isIndexType = (t: string) => t === MediaTypes.ociIndex || t === MediaTypes.dockerManifestList;
export const isManifestType = (t: string) => t === MediaTypes.ociManifest || t === MediaTypes.dockerManifest;
export const isConfigType = (t: string) => t === MediaTypes.ociConfig || t === MediaTypes.dockerConfig;
export const isLayerType = (t: string) =>
  t.startsWith("application/vnd.oci.image.layer.") || t.startsWith("application/vnd.docker.image.rootfs.");
