/**
 * Image references parsed the way Docker parses them: a missing registry means Docker Hub,
 * a one-component Docker Hub repository lives under `library/`, a missing tag means `latest`.
 */

/** The registry a reference without a domain points at. */
export const DEFAULT_DOMAIN = 'docker.io';
/** Where the Docker Hub API answers; `docker.io` itself only redirects. */
export const DOCKER_HUB_API_HOST = 'registry-1.docker.io';

export interface ImageReference {
  /** Registry host, with the port when one was given (`127.0.0.1:5000`). */
  registry: string;
  /** Repository path inside the registry (`library/nginx`). */
  repository: string;
  /** The tag; `latest` when neither a tag nor a digest was given. */
  tag?: string;
  /** The manifest digest (`sha256:…`) when the reference pins one. */
  digest?: string;
}

export class InvalidReferenceError extends Error {
  override name = 'InvalidReferenceError';
}

const MAX_REFERENCE_LENGTH = 1024;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;
const DOMAIN =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$/;

/** Parses `[registry/]repository[:tag][@digest]`. Throws {@link InvalidReferenceError}. */
export function parseReference(input: string): ImageReference {
  const text = input.trim();
  if (text === '' || text.length > MAX_REFERENCE_LENGTH) {
    throw new InvalidReferenceError(`invalid image reference "${input}": empty or too long`);
  }
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) {
      throw new InvalidReferenceError(`invalid image reference "${input}": bad digest`);
    }
    if (digest.startsWith('sha256:') && !SHA256_DIGEST.test(digest)) {
      throw new InvalidReferenceError(`invalid image reference "${input}": bad sha256 digest`);
    }
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) {
      throw new InvalidReferenceError(`invalid image reference "${input}": bad tag "${tag}"`);
    }
  }
  let registry = DEFAULT_DOMAIN;
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    // Docker's rule: the first component is a registry when it looks like a host.
    if (
      first.includes('.') ||
      first.includes(':') ||
      first === 'localhost' ||
      /[A-Z]/.test(first)
    ) {
      if (!DOMAIN.test(first)) {
        throw new InvalidReferenceError(
          `invalid image reference "${input}": bad registry "${first}"`,
        );
      }
      registry = first;
      path = rest.slice(slash + 1);
    }
  }
  if (registry === 'index.docker.io') registry = DEFAULT_DOMAIN;
  if (path === '' || !path.split('/').every((c) => PATH_COMPONENT.test(c))) {
    throw new InvalidReferenceError(
      `invalid image reference "${input}": repository "${path}" must be lowercase path components`,
    );
  }
  if (registry === DEFAULT_DOMAIN && !path.includes('/')) path = `library/${path}`;
  if (registry.length + path.length + 1 > 255) {
    throw new InvalidReferenceError(`invalid image reference "${input}": name too long`);
  }
  const ref: ImageReference = { registry, repository: path };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  if (tag === undefined && digest === undefined) ref.tag = 'latest';
  return ref;
}

/** The canonical string form: `registry/repository[:tag][@digest]`. */
export function formatReference(ref: ImageReference): string {
  let s = `${ref.registry}/${ref.repository}`;
  if (ref.tag !== undefined) s += `:${ref.tag}`;
  if (ref.digest !== undefined) s += `@${ref.digest}`;
  return s;
}

/** The host the Distribution API is served from for a registry name. */
export function apiHost(registry: string): string {
  return registry === DEFAULT_DOMAIN ? DOCKER_HUB_API_HOST : registry;
}
