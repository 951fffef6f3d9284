/**
 * Deterministic CoveredResource names: the same resource always gets the same object, and
 * different resources never share one. Readable where the identity is already a valid name;
 * otherwise a readable prefix plus a hash of the exact identity.
 */
import { createHash } from 'node:crypto';
import type { ResourceType as CoverageResourceType } from '../api/v1alpha1/common.ts';
import { isDnsSubdomain } from '../util/label-value.ts';

const MAX_NAME = 253;

export function shortHash(text: string, length = 10): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}

/** `prefix-readable` when that is a valid, unambiguous name, else a trimmed form plus a hash. */
function name(prefix: string, readable: string, identity: string, exact: boolean): string {
  const plain = `${prefix}-${readable}`;
  if (exact && isDnsSubdomain(plain)) return plain;
  const cleaned = readable
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '-')
    .replace(/[.-]{2,}/g, '-')
    .replace(/^[.-]+|[.-]+$/g, '');
  const hash = shortHash(identity);
  const room = MAX_NAME - prefix.length - hash.length - 2;
  const body = cleaned.slice(0, Math.min(room, 80)).replace(/[.-]+$/, '');
  return body === '' ? `${prefix}-${hash}` : `${prefix}-${body}-${hash}`;
}

export const coveredResourceName = {
  node: (nodeName: string): string => name('node', nodeName, `NODE/${nodeName}`, true),
  namespace: (namespace: string): string =>
    name('namespace', namespace, `NAMESPACE/${namespace}`, true),
  /** Kind is one of the workload kinds; namespaces hold no dots, so the dotted form is unambiguous. */
  workload: (namespace: string, kind: string, workloadName: string): string =>
    name(
      'workload',
      `${namespace}.${kind.toLowerCase()}.${workloadName}`,
      `WORKLOAD/${namespace}/${kind}/${workloadName}`,
      true,
    ),
  /**
   * The code-scanning coverage of a workload (scan type CODE): a second object beside the
   * workload's package coverage, as Inspector lists a Lambda function once per scan type.
   */
  workloadCode: (namespace: string, kind: string, workloadName: string): string =>
    name(
      'code',
      `${namespace}.${kind.toLowerCase()}.${workloadName}`,
      `WORKLOAD/CODE/${namespace}/${kind}/${workloadName}`,
      true,
    ),
  /** `repository` is `registry/repository`; the digest is `sha256:<hex>`. */
  image: (repository: string, digest: string): string => {
    const hex = digest.slice(digest.indexOf(':') + 1).slice(0, 16);
    return name(
      'image',
      `${repository.slice(repository.lastIndexOf('/') + 1)}-${hex}`,
      `CONTAINER_IMAGE/${repository}@${digest}`,
      false,
    );
  },
  repository: (repository: string): string =>
    name('repository', repository, `IMAGE_REPOSITORY/${repository}`, false),
} as const satisfies Record<string, (...args: string[]) => string>;

/** The resource type of a CoveredResource name, from its prefix. */
export function resourceTypeOfName(objectName: string): CoverageResourceType | undefined {
  return PREFIXES[objectName.slice(0, objectName.indexOf('-'))];
}

const PREFIXES: Readonly<Record<string, CoverageResourceType>> = {
  node: 'NODE',
  namespace: 'NAMESPACE',
  workload: 'WORKLOAD',
  code: 'WORKLOAD',
  image: 'CONTAINER_IMAGE',
  repository: 'IMAGE_REPOSITORY',
};
