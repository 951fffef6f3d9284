/** Media types of the OCI image spec and Docker's image manifest v2. */
export const MediaType = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociLayerNondistributable: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  ociLayerNondistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  ociLayerNondistributableZstd: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestV1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerManifestV1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerLayerZstd: 'application/vnd.docker.image.rootfs.diff.tar.zstd',
  dockerLayerForeignGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

export type Compression = 'gzip' | 'zstd' | 'none';

const LAYER_COMPRESSION: Readonly<Record<string, Compression>> = {
  [MediaType.ociLayer]: 'none',
  [MediaType.ociLayerGzip]: 'gzip',
  [MediaType.ociLayerZstd]: 'zstd',
  [MediaType.ociLayerNondistributable]: 'none',
  [MediaType.ociLayerNondistributableGzip]: 'gzip',
  [MediaType.ociLayerNondistributableZstd]: 'zstd',
  [MediaType.dockerLayerGzip]: 'gzip',
  [MediaType.dockerLayerZstd]: 'zstd',
  [MediaType.dockerLayerForeignGzip]: 'gzip',
};

/** The compression of an image layer media type; undefined when it is not an image layer. */
export function layerCompression(mediaType: string): Compression | undefined {
  return LAYER_COMPRESSION[mediaType];
}

export const INDEX_TYPES: ReadonlySet<string> = new Set([
  MediaType.ociIndex,
  MediaType.dockerManifestList,
]);
export const MANIFEST_TYPES: ReadonlySet<string> = new Set([
  MediaType.ociManifest,
  MediaType.dockerManifest,
]);
export const CONFIG_TYPES: ReadonlySet<string> = new Set([
  MediaType.ociConfig,
  MediaType.dockerConfig,
]);

/** The Accept header for manifest requests: every type we read, plus schema 1 so we can name it. */
export const MANIFEST_ACCEPT = [
  MediaType.ociIndex,
  MediaType.ociManifest,
  MediaType.dockerManifestList,
  MediaType.dockerManifest,
  `${MediaType.dockerManifestV1Signed};q=0.5`,
  `${MediaType.dockerManifestV1};q=0.5`,
].join(', ');
