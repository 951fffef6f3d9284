/** Manifests as documents: their types, their digest check, their media type, image checks. */
import { createHash } from 'node:crypto';
import { RegistryError } from './errors.ts';
import {
  CONFIG_TYPES,
  INDEX_TYPES,
  MANIFEST_TYPES,
  MediaType,
  layerCompression,
} from './media-types.ts';
import type { Platform } from './platform.ts';
import { SHA256, sha256 } from './verify.ts';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface ImageManifest {
  schemaVersion: number;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

/** The parts of an image config (OCI / Docker) we read. */
export interface ImageConfig {
  architecture?: string;
  os?: string;
  variant?: string;
  created?: string;
  config?: { Env?: string[] | null; Entrypoint?: string[] | null; Cmd?: string[] | null };
  rootfs?: { type?: string; diff_ids?: string[] };
}

/**
 * Checks a manifest's bytes against the digest asked for (a reference by digest) or, for a tag,
 * the registry's Docker-Content-Digest header. sha512 is allowed by the OCI spec; any other
 * algorithm cannot be checked, so it is refused when asked by it and ignored in a header.
 */
export function checkManifestDigest(
  what: string,
  reference: string,
  bytes: Buffer,
  headerDigest: string | undefined,
): void {
  const byDigest = reference.includes(':');
  const wantDigest = byDigest ? reference : headerDigest;
  if (wantDigest === undefined) return;
  const algorithm = /^(sha256|sha512):[a-f0-9]+$/.exec(wantDigest)?.[1];
  if (algorithm === undefined && byDigest) {
    throw new RegistryError(
      'UNSUPPORTED_MEDIA_TYPE',
      `manifest ${what}: unsupported digest algorithm`,
    );
  }
  const got =
    algorithm === 'sha512'
      ? `sha512:${createHash('sha512').update(bytes).digest('hex')}`
      : algorithm === 'sha256'
        ? sha256(bytes)
        : wantDigest;
  if (got !== wantDigest) {
    throw new RegistryError(
      'DIGEST_MISMATCH',
      `manifest ${what} has digest ${got}, expected ${wantDigest}`,
    );
  }
}

/** The media type of a manifest document; schema 1 and unknown types are refused. */
export function manifestMediaType(what: string, json: object, contentType: string): string {
  const declared = (json as { mediaType?: unknown }).mediaType;
  let mediaType = typeof declared === 'string' ? declared : contentType;
  const schemaVersion = (json as { schemaVersion?: unknown }).schemaVersion;
  if (schemaVersion === 1) mediaType = MediaType.dockerManifestV1;
  if (mediaType === '' || mediaType === 'application/json') {
    // OCI allows an absent mediaType: tell an index from a manifest by its fields.
    mediaType = 'manifests' in json ? MediaType.ociIndex : MediaType.ociManifest;
  }
  if (mediaType === MediaType.dockerManifestV1 || mediaType === MediaType.dockerManifestV1Signed) {
    throw new RegistryError(
      'UNSUPPORTED_MEDIA_TYPE',
      `manifest ${what} is Docker schema 1, which is not supported`,
    );
  }
  if (!INDEX_TYPES.has(mediaType) && !MANIFEST_TYPES.has(mediaType)) {
    throw new RegistryError(
      'UNSUPPORTED_MEDIA_TYPE',
      `manifest ${what} has unsupported media type ${mediaType}`,
    );
  }
  return mediaType;
}

export function checkImageManifest(what: string, m: ImageManifest): void {
  if (m.config === undefined || typeof m.config !== 'object' || !Array.isArray(m.layers)) {
    throw new RegistryError('PROTOCOL', `${what}: manifest lacks config or layers`);
  }
  if (m.artifactType !== undefined) {
    throw new RegistryError(
      'UNSUPPORTED_MEDIA_TYPE',
      `${what}: artifact of type ${m.artifactType} is not an image`,
    );
  }
  if (!CONFIG_TYPES.has(m.config.mediaType)) {
    throw new RegistryError(
      'UNSUPPORTED_MEDIA_TYPE',
      `${what}: config media type ${m.config.mediaType} is not an image config`,
    );
  }
  for (const layer of m.layers) {
    if (layerCompression(layer.mediaType) === undefined) {
      throw new RegistryError(
        'UNSUPPORTED_MEDIA_TYPE',
        `${what}: layer media type ${layer.mediaType} is not supported`,
      );
    }
    if (!Number.isSafeInteger(layer.size) || layer.size < 0 || !SHA256.test(layer.digest)) {
      throw new RegistryError('PROTOCOL', `${what}: layer descriptor ${layer.digest} is invalid`);
    }
  }
}
